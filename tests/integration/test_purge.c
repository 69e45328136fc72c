/*
 * Memory freed for good goes back to the OS: ~256 MiB in blocks of every
 * tier is allocated, touched and freed, and the resident set (from
 * /proc/self/statm) must fall back near where it started.
 *
 *   test_purge explicit   hak_purge() after the frees
 *   test_purge delay0     no call; ctest runs it with HAKMEM_PURGE_DELAY_MS=0,
 *                         so the pages must be gone as soon as the frees return
 *   test_purge timed      default delay; the test waits past it and makes one
 *                         small malloc/free per tier, as any running program would
 *                         (twice: a pool block is released once it has been free
 *                         across a whole purge pass)
 *
 * Two more keep one block alive in each pool slab (48 KiB blocks) or page-run
 * chunk (200 KiB) and free the rest: the slabs and chunks stay, but the
 * pages of their free blocks must go back all the same.
 */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

typedef enum { PURGE_EXPLICIT, PURGE_DELAY0, PURGE_TIMED } purge_mode;
static purge_mode mode;

/* Allowed residue: the allocator's metadata and a few partly used slabs. */
#define SLACK (24 * MiB)

/* Bookkeeping lives in its own mapping, outside the allocator, so that it
 * neither counts as the allocator's residue nor perturbs it. */
enum { MAX_BLOCKS = 1 << 18 };
typedef struct {
    void *p;
    size_t n;
} block;
static block *blocks;
static size_t nblocks;

static void setup_blocks(void)
{
    if (blocks == NULL) {
        blocks = mmap(NULL, MAX_BLOCKS * sizeof *blocks, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(blocks != MAP_FAILED);
        memset(blocks, 0, MAX_BLOCKS * sizeof *blocks);
    }
    nblocks = 0;
}

/* 64 MiB per tier: tiny, mid, pool and large blocks, touched page by page. */
static void allocate_everything(uint64_t seed)
{
    const struct {
        size_t lo, hi;
    } tier[] = {{16, 1024}, {1025, 32 * KiB}, {32 * KiB + 1, 1 * MiB}, {1 * MiB + 1, 4 * MiB}};
    uint64_t rng = seed;
    for (size_t t = 0; t < 4; t++) {
        size_t total = 0;
        while (total < 64 * MiB) {
            assert_true(nblocks < MAX_BLOCKS);
            size_t n = tier[t].lo + (size_t)(itest_rand(&rng) % (tier[t].hi - tier[t].lo + 1));
            unsigned char *p = malloc(n);
            assert_non_null(p);
            memset(p, 0x5C, n);
            itest_fill_ends(p, n < 64 ? n : 64);
            blocks[nblocks++] = (block){p, n};
            total += n;
        }
    }
}

/* Frees in a shuffled order, so that slabs empty out unevenly. */
static void free_everything(uint64_t seed)
{
    uint64_t rng = seed;
    itest_shuffle(blocks, nblocks, sizeof *blocks, &rng);
    for (size_t i = 0; i < nblocks; i++) {
        size_t n = blocks[i].n < 64 ? blocks[i].n : 64;
        assert_true(itest_check_ends(blocks[i].p, n));
        free(blocks[i].p);
    }
    nblocks = 0;
}

/* ctest turns counting on for the explicit run (HAKMEM_STATS=1). */
static bool counting_on(void)
{
    const char *s = getenv("HAKMEM_STATS");
    return s != NULL && strcmp(s, "1") == 0;
}

static long purge_delay_ms(void)
{
    const char *s = getenv("HAKMEM_PURGE_DELAY_MS");
    return s != NULL ? atol(s) : 250;
}

/* Whatever the mode needs to happen between the last free and measuring. */
static void let_purge_happen(void)
{
    switch (mode) {
    case PURGE_EXPLICIT:
        hak_purge();
        break;
    case PURGE_DELAY0:
        break;
    case PURGE_TIMED:
        for (int pass = 0; pass < 2; pass++) {
            itest_sleep_ms(purge_delay_ms() + 50);
            for (size_t n = 64; n <= 4 * MiB; n *= 16)
                free(malloc(n));
        }
        itest_sleep_ms(50);
        break;
    }
}

static void check_returned(const char *what, size_t rss0, size_t peak, size_t rss1)
{
    print_message("%s: RSS start %zu MiB, peak %zu MiB, after free %zu MiB\n", what, rss0 / MiB,
                  peak / MiB, rss1 / MiB);
    /* The test measured something: the blocks really were resident. */
    assert_true(peak >= rss0 + 200 * MiB);
    if (rss1 > rss0 + SLACK)
        fail_msg("%s: %zu MiB still resident after freeing everything (start %zu MiB, allowed "
                 "%zu MiB more)",
                 what, rss1 / MiB, rss0 / MiB, SLACK / MiB);
}

static void warm_up(void)
{
    /* First-use set-up of every tier, so that it is part of the baseline. */
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++)
        free(malloc(itest_tier_sizes[i] + 1));
    if (mode == PURGE_EXPLICIT)
        hak_purge();
}

static void test_single_thread(void **state)
{
    (void)state;
    setup_blocks();
    warm_up();
    for (int round = 0; round < 2; round++) {
        size_t rss0 = itest_rss();
        allocate_everything((uint64_t)round + 1);
        size_t peak = itest_rss();
        free_everything((uint64_t)round + 100);
        let_purge_happen();
        check_returned(round == 0 ? "first round" : "second round (reused memory)", rss0, peak,
                       itest_rss());
    }
}

/* Blocks allocated by threads that have exited, freed by the main thread. */
static void *allocator_thread(void *arg)
{
    allocate_everything((uint64_t)(uintptr_t)arg);
    return NULL;
}

static void test_blocks_of_exited_threads(void **state)
{
    (void)state;
    setup_blocks();
    warm_up();
    size_t rss0 = itest_rss();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, allocator_thread, (void *)(uintptr_t)77), 0);
    pthread_join(t, NULL);
    size_t peak = itest_rss();
    free_everything(78);
    let_purge_happen();
    check_returned("exited thread's blocks", rss0, peak, itest_rss());
}

/* count blocks of `size` bytes, one in keep_every kept alive and the rest
 * freed: the slabs or chunks stay, as each holds a live block, but the pages
 * of their free blocks must go back (counted in `counter`, in units of
 * `unit` bytes: blocks, or bytes). */
static void check_free_blocks_of_live_spans(const char *what, size_t size, size_t count,
                                            size_t keep_every, const char *counter, size_t unit)
{
    setup_blocks();
    warm_up();
    size_t rss0 = itest_rss();
    for (size_t i = 0; i < count; i++) {
        blocks[i].p = malloc(size);
        assert_non_null(blocks[i].p);
        memset(blocks[i].p, 0x3A, size);
    }
    size_t peak = itest_rss();
    unsigned long long purged0 = 0, purged1 = 0;
    bool counting = hak_stats_get(counter, &purged0) == 0 && counting_on();
    for (size_t i = 0; i < count; i++)
        if (i % keep_every != 0)
            free(blocks[i].p);
    let_purge_happen();
    size_t rss1 = itest_rss();
    size_t freed = (count - count / keep_every) * size, live = count / keep_every * size;
    if (counting) { /* hak_purge's run: the free blocks are counted as they go */
        assert_int_equal(hak_stats_get(counter, &purged1), 0);
        print_message("%s: %s %llu\n", what, counter, purged1 - purged0);
        assert_true((purged1 - purged0) * unit >= freed / 2);
    }
    print_message("%s: RSS start %zu MiB, peak %zu MiB, after free %zu MiB\n", what, rss0 / MiB,
                  peak / MiB, rss1 / MiB);
    assert_true(peak >= rss0 + 40 * MiB);
    /* The live blocks, the thread's cache (up to 1 MiB) and the pages live
     * blocks share with free ones. */
    if (rss1 > rss0 + live + 5 * MiB)
        fail_msg(
            "%s: %zu MiB still resident with %zu KiB live (start %zu MiB, allowed %zu MiB more)",
            what, rss1 / MiB, live / KiB, rss0 / MiB, (live + 5 * MiB) / MiB);
    for (size_t i = 0; i < count; i += keep_every) {
        assert_true(((unsigned char *)blocks[i].p)[size - 1] == 0x3A);
        free(blocks[i].p);
    }
}

/* 48 MiB of 48 KiB blocks, one in 32 kept: every 2 MiB slab keeps a live
 * block or two. */
static void test_free_blocks_of_live_slabs(void **state)
{
    (void)state;
    check_free_blocks_of_live_spans("live slabs", 48 * KiB, 1024, 32, "tiers.pool.purged_blocks",
                                    48 * KiB);
}

/* 50 MiB of 200 KiB blocks (page runs, nine to a 2 MiB chunk), one in 8
 * kept: every chunk keeps a live block. */
static void test_free_runs_of_live_chunks(void **state)
{
    (void)state;
    check_free_blocks_of_live_spans("live chunks", 200 * KiB, 256, 8, "tiers.pool.run_purged_bytes",
                                    1);
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "explicit";
    if (strcmp(m, "explicit") == 0)
        mode = PURGE_EXPLICIT;
    else if (strcmp(m, "delay0") == 0)
        mode = PURGE_DELAY0;
    else if (strcmp(m, "timed") == 0)
        mode = PURGE_TIMED;
    else {
        fprintf(stderr, "usage: %s explicit|delay0|timed\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_thread),
        cmocka_unit_test(test_blocks_of_exited_threads),
        cmocka_unit_test(test_free_blocks_of_live_slabs),
        cmocka_unit_test(test_free_runs_of_live_chunks),
    };
    return cmocka_run_group_tests_name(m, tests, NULL, NULL);
}
