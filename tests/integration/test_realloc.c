/*
 * realloc keeps the contents across every tier (tiny <= 1 KiB, mid <= 32 KiB,
 * pool <= 1 MiB, large via mremap), growing and shrinking, in chains, next
 * to live neighbours, and for blocks that came from the aligned entry points.
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

static const size_t cross[] = {
    1,      15,          16,      17,          100,        512,     1023,        1024,
    1025,   2000,        4096,    20000,       32767,      32768,   32769,       50000,
    262144, 1 * MiB - 1, 1 * MiB, 1 * MiB + 1, 1536 * KiB, 2 * MiB, 3 * MiB + 5, 9 * MiB,
};
#define N_CROSS (sizeof cross / sizeof cross[0])

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

static void *must_realloc(void *p, size_t from, size_t to)
{
    void *q = realloc(p, to);
    if (q == NULL)
        fail_msg("realloc(%zu -> %zu) returned NULL (errno %d)", from, to, errno);
    if (((uintptr_t)q & 15) != 0)
        fail_msg("realloc(%zu -> %zu) = %p, not 16-aligned", from, to, q);
    if (malloc_usable_size(q) < to)
        fail_msg("realloc(%zu -> %zu): usable size %zu", from, to, malloc_usable_size(q));
    if (hak_owns(q) != itest_hakmem_serves(to))
        fail_msg("realloc(%zu -> %zu): hak_owns(%p) is wrong", from, to, q);
    return q;
}

/* Every pair of sizes in `cross`: grow or shrink, the common prefix survives,
 * and the grown part is writable. */
static void test_every_tier_pair(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CROSS; i++) {
        for (size_t j = 0; j < N_CROSS; j++) {
            size_t from = cross[i], to = cross[j];
            uint64_t seed = from * 1000003u + to;
            unsigned char *p = malloc(from);
            assert_non_null(p);
            itest_fill(p, from, seed);
            p = must_realloc(p, from, to);
            long bad = itest_check(p, min_size(from, to), seed);
            if (bad != -1)
                fail_msg("realloc(%zu -> %zu) lost byte %ld", from, to, bad);
            memset(p, 0x3C, to);
            free(p);
        }
    }
}

/* One block grown step by step from 1 byte to 24 MiB and shrunk back, each
 * step verifying everything written so far. */
static void test_grow_and_shrink_chain(void **state)
{
    (void)state;
    const uint64_t seed = 77;
    size_t n = 1;
    unsigned char *p = malloc(n);
    assert_non_null(p);
    itest_fill(p, n, seed);
    while (n < 24 * MiB) {
        size_t next = n + n / 2 + 1;
        p = must_realloc(p, n, next);
        long bad = itest_check(p, n, seed);
        if (bad != -1)
            fail_msg("growing %zu -> %zu lost byte %ld", n, next, bad);
        n = next;
        itest_fill(p, n, seed);
    }
    while (n > 1) {
        size_t next = n / 3;
        if (next == 0)
            next = 1;
        p = must_realloc(p, n, next);
        long bad = itest_check(p, next, seed);
        if (bad != -1)
            fail_msg("shrinking %zu -> %zu lost byte %ld", n, next, bad);
        n = next;
    }
    free(p);
}

/* Large blocks move or grow in place (mremap); either way the whole content
 * survives, also when other large blocks sit next to them. */
static void test_large_realloc(void **state)
{
    (void)state;
    enum { N = 6 };
    unsigned char *p[N];
    size_t n[N];
    for (int i = 0; i < N; i++) {
        n[i] = 2 * MiB + (size_t)i * 4096 + 123;
        p[i] = malloc(n[i]);
        assert_non_null(p[i]);
        itest_fill(p[i], n[i], (uint64_t)i);
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            size_t to = (round % 2 == 0) ? n[i] * 2 + 4095 : n[i] / 2 + 1;
            p[i] = must_realloc(p[i], n[i], to);
            size_t keep = min_size(n[i], to);
            long bad = itest_check(p[i], keep, (uint64_t)i);
            if (bad != -1)
                fail_msg("large block %d: %zu -> %zu lost byte %ld", i, n[i], to, bad);
            n[i] = to;
            itest_fill(p[i], n[i], (uint64_t)i);
        }
        for (int i = 0; i < N; i++)
            assert_int_equal(itest_check(p[i], n[i], (uint64_t)i), -1);
    }
    for (int i = 0; i < N; i++)
        free(p[i]);
}

/* Small steps inside one size class and across the class above: resizing
 * in place must not spill into the neighbours. */
static void test_neighbours_survive(void **state)
{
    (void)state;
    enum { N = 48 };
    const size_t base[] = {24, 200, 1000, 3000, 30000, 200000, 900000};
    for (size_t b = 0; b < sizeof base / sizeof base[0]; b++) {
        unsigned char *p[N];
        size_t n[N];
        for (int i = 0; i < N; i++) {
            n[i] = base[b];
            p[i] = malloc(n[i]);
            assert_non_null(p[i]);
            itest_fill(p[i], n[i], (uint64_t)i + b * 100);
        }
        for (int step = 0; step < 6; step++) {
            for (int i = step % 2; i < N; i += 2) {
                size_t to = n[i] + n[i] / 7 + 1;
                p[i] = must_realloc(p[i], n[i], to);
                n[i] = to;
                itest_fill(p[i], n[i], (uint64_t)i + b * 100);
            }
            for (int i = 0; i < N; i++) {
                long bad = itest_check(p[i], n[i], (uint64_t)i + b * 100);
                if (bad != -1)
                    fail_msg("base %zu step %d: block %d (%zu bytes) lost byte %ld", base[b], step,
                             i, n[i], bad);
            }
        }
        for (int i = 0; i < N; i++)
            free(p[i]);
    }
}

static void test_same_size_and_usable_size(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CROSS; i++) {
        size_t n = cross[i];
        unsigned char *p = malloc(n);
        assert_non_null(p);
        size_t us = malloc_usable_size(p);
        itest_fill(p, us, n);
        p = must_realloc(p, n, n);
        assert_int_equal(itest_check(p, n, n), -1);
        /* Growing to the usable size keeps every byte that was usable. */
        p = must_realloc(p, n, us);
        assert_int_equal(itest_check(p, us, n), -1);
        free(p);
    }
}

/* Blocks from the aligned entry points resize like any other block. */
static void test_realloc_aligned_blocks(void **state)
{
    (void)state;
    for (size_t a = 32; a <= 1 * MiB; a <<= 3) {
        for (size_t i = 0; i < N_CROSS; i++) {
            size_t from = cross[i], to = cross[(i * 7 + 3) % N_CROSS];
            void *p = NULL;
            assert_int_equal(posix_memalign(&p, a, from), 0);
            assert_int_equal((uintptr_t)p & (a - 1), 0);
            itest_fill(p, from, a + from);
            p = must_realloc(p, from, to);
            assert_int_equal(itest_check(p, min_size(from, to), a + from), -1);
            free(p);
        }
    }
}

/* A block above 64 KiB is a run of pages: grown 8 KiB at a time from 72 KiB
 * to 1 MiB it stays where it is while the pages after it are free (it
 * moved at each of the 30 classes before), and shrunk it gives its tail
 * back where it is, keeping its contents either way. */
static void test_pool_block_resizes_in_place(void **state)
{
    (void)state;
    if (!itest_hakmem_serves(72 * KiB)) /* HAKMEM_WRAP_L2=0: glibc's block */
        skip();
    size_t n = 72 * KiB;
    unsigned char *p = malloc(n);
    assert_non_null(p);
    itest_fill(p, n, 5);
    unsigned moves = 0;
    for (size_t next = n + 8 * KiB; next <= 1 * MiB; next += 8 * KiB) {
        unsigned char *q = must_realloc(p, n, next);
        moves += q != p;
        p = q;
        assert_int_equal(itest_check(p, n, 5), -1);
        n = next;
        itest_fill(p, n, 5);
    }
    assert_in_range(moves, 0, 2);
    unsigned char *q = must_realloc(p, n, 100 * KiB);
    assert_ptr_equal(q, p);
    assert_in_range(malloc_usable_size(q), 100 * KiB, 112 * KiB);
    assert_int_equal(itest_check(q, 100 * KiB, 5), -1);
    /* The freed tail is usable memory again: a block can take it. */
    void *tail = malloc(800 * KiB);
    assert_non_null(tail);
    memset(tail, 0x5A, 800 * KiB);
    assert_int_equal(itest_check(q, 100 * KiB, 5), -1);
    free(tail);
    free(q);
}

/* realloc failing (huge request) leaves the old block valid and untouched. */
static void test_failed_realloc_keeps_block(void **state)
{
    (void)state;
    volatile size_t huge = SIZE_MAX - 64;
    for (size_t i = 0; i < N_CROSS; i++) {
        unsigned char *p = malloc(cross[i]);
        assert_non_null(p);
        itest_fill(p, cross[i], i);
        errno = 0;
        assert_null(itest_realloc(p, huge));
        assert_int_equal(errno, ENOMEM);
        assert_int_equal(itest_check(p, cross[i], i), -1);
        p = must_realloc(p, cross[i], cross[i] + 10);
        assert_int_equal(itest_check(p, cross[i], i), -1);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_tier_pair),
        cmocka_unit_test(test_grow_and_shrink_chain),
        cmocka_unit_test(test_large_realloc),
        cmocka_unit_test(test_neighbours_survive),
        cmocka_unit_test(test_same_size_and_usable_size),
        cmocka_unit_test(test_realloc_aligned_blocks),
        cmocka_unit_test(test_pool_block_resizes_in_place),
        cmocka_unit_test(test_failed_realloc_keeps_block),
    };
    return cmocka_run_group_tests_name("integration.realloc", tests, NULL, NULL);
}
