/* The pool's page runs (mid/runs.c): placement of a growing block, resizing
 * in place, and what HAKMEM_CHECK reads from a chunk's bitmaps.  Each test
 * refills as a shard of its own, which no thread of this process is given
 * (threads take shards in turn from 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mid/runs.h"
#include "registry.h"

#define KiB ((size_t)1024)

static run_chunk *chunk_of(void *p)
{
    hak_reg_entry e = hak_reg_lookup(p);
    assert_int_equal(hak_reg_kind(e), HAK_KIND_RUNS);
    return hak_reg_meta(e);
}

static void *take(unsigned shard, size_t size)
{
    spool_cache cache = {0};
    bool zero;
    void *p = runs_take(shard, hak_size_to_class(size), &cache, 1, &zero);
    assert_non_null(p);
    assert_int_equal(cache.count, 0);
    return p;
}

static void give(void *p) { runs_give(p, 1, false); }

/* Runs of 120 KiB with every other one freed: malloc's refill takes the
 * newest hole, an exact fit between live runs that cannot grow; a block
 * that realloc grows is placed where it can double.  (The runs may land in
 * another shard's chunk: a refill takes room there before making a chunk.) */
static void test_growing_run_is_placed_with_room(void **state)
{
    (void)state;
    enum { SHARD = 9, N = 8 };
    void *r[N];
    for (int i = 0; i < N; i++)
        r[i] = take(SHARD, 120 * KiB);
    for (int i = 0; i < N; i += 2)
        give(r[i]);
    void *exact = take(SHARD, 120 * KiB);
    assert_ptr_equal(exact, r[N - 2]);
    assert_false(runs_resize(chunk_of(exact), exact, 240 * KiB));
    void *roomy = runs_take_to_grow(SHARD, hak_size_to_class(120 * KiB));
    assert_non_null(roomy);
    assert_true(runs_resize(chunk_of(roomy), roomy, 240 * KiB));
    assert_int_equal(runs_block_size(chunk_of(roomy), roomy), 240 * KiB);
    give(roomy);
    give(exact);
    for (int i = 1; i < N; i += 2)
        give(r[i]);
}

/* A run placed to grow doubles where it is; shrunk, its tail is free units
 * again (HAKMEM_CHECK reads a freed unit there), and it regrows into them. */
static void test_resize_in_place(void **state)
{
    (void)state;
    enum { SHARD = 10 };
    char *a = runs_take_to_grow(SHARD, hak_size_to_class(192 * KiB));
    assert_non_null(a);
    run_chunk *k = chunk_of(a);
    assert_true(runs_resize(k, a, 384 * KiB));
    assert_int_equal(runs_block_size(k, a), 384 * KiB);
    assert_true(runs_resize(k, a, 100 * KiB));
    assert_int_equal(runs_block_size(k, a), 104 * KiB);
    assert_int_equal(runs_check_free(k, a + 104 * KiB), RUNS_MISUSE_FREED);
    assert_int_equal(runs_check_free(k, a + 376 * KiB), RUNS_MISUSE_FREED);
    assert_true(runs_resize(k, a, 384 * KiB));
    assert_int_equal(runs_check_free(k, a + 104 * KiB), RUNS_MISUSE_INTERIOR);
    give(a);
}

/* HAKMEM_CHECK's view: a live run's start is a block, a page inside it is
 * not, and once freed to its chunk the start reads as freed. */
static void test_check_reads_the_bitmaps(void **state)
{
    (void)state;
    enum { SHARD = 11 };
    char *keep = take(SHARD, 80 * KiB), *p = take(SHARD, 80 * KiB);
    run_chunk *k = chunk_of(p);
    assert_int_equal(runs_check_free(k, p), RUNS_MISUSE_NONE);
    assert_int_equal(runs_check_free(k, p + 8 * KiB), RUNS_MISUSE_INTERIOR);
    assert_int_equal(runs_check_free(k, p + 16), RUNS_MISUSE_INTERIOR);
    give(p);
    assert_int_equal(runs_check_free(k, p), RUNS_MISUSE_FREED);
    give(keep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growing_run_is_placed_with_room),
        cmocka_unit_test(test_resize_in_place),
        cmocka_unit_test(test_check_reads_the_bitmaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
