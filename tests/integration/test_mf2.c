/*
 * MF2 mid pages under cross-thread frees, read from the counters: remote
 * frees are drained and reused (the earlier hakmem reused 3% of its pages
 * and drained nothing: seed 000), pages stay bounded by the working set,
 * blocks freed into an idle thread's pages are taken by others (tiny slabs'
 * borrowed by the thread that frees them, and passed on when it exits), the
 * pages a thread leaves with live blocks at exit are counted as orphaned,
 * and as adopted when another thread takes them (tiny slabs too), and an
 * owner's frees into pages it is not allocating from are handed out again
 * from its stash.
 * ctest runs it with HAKMEM_STATS=1 and HAKMEM_MF2_IDLE_THRESHOLD_US=1000.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

static unsigned long long stat_of(const char *path)
{
    unsigned long long v = 0;
    if (hak_stats_get(path, &v) != 0)
        fail_msg("hak_stats_get(\"%s\") found nothing", path);
    return v;
}

// ------------------------------------------------------------ producer-consumer

#define RING 512     /* the working set: blocks in flight */
#define BLOCKS 200000
#define MIN_SIZE (2 * KiB)
#define MAX_SIZE (16 * KiB)

typedef struct {
    void *p;
    size_t n;
} block;

static block ring[RING];
static atomic_uint head, tail; /* single producer, single consumer */
static atomic_long mismatches;

static void *producer(void *arg)
{
    uint64_t rng = 7;
    (void)arg;
    for (int i = 0; i < BLOCKS; i++) {
        size_t n = MIN_SIZE + itest_rand(&rng) % (MAX_SIZE - MIN_SIZE);
        void *p = malloc(n);
        itest_fill_ends(p, n);
        unsigned h = atomic_load_explicit(&head, memory_order_relaxed);
        while (h - atomic_load_explicit(&tail, memory_order_acquire) == RING)
            sched_yield();
        ring[h % RING] = (block){p, n};
        atomic_store_explicit(&head, h + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (int i = 0; i < BLOCKS; i++) {
        unsigned t = atomic_load_explicit(&tail, memory_order_relaxed);
        while (atomic_load_explicit(&head, memory_order_acquire) == t)
            sched_yield();
        block b = ring[t % RING];
        atomic_store_explicit(&tail, t + 1, memory_order_release);
        if (!itest_check_ends(b.p, b.n))
            atomic_fetch_add(&mismatches, 1);
        free(b.p); /* a remote free: the producer owns the page */
    }
    return NULL;
}

static void test_remote_frees_are_drained_and_reused(void **state)
{
    (void)state;
    unsigned long long new0 = stat_of("tiers.mid.slabs_new");
    unsigned long long reuse0 = stat_of("tiers.mid.mf2.reuses");
    unsigned long long remote0 = stat_of("tiers.mid.free_remote");
    unsigned long long drained0 = stat_of("tiers.mid.mf2.drained_blocks");
    pthread_t p, c;
    assert_int_equal(pthread_create(&p, NULL, producer, NULL), 0);
    assert_int_equal(pthread_create(&c, NULL, consumer, NULL), 0);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    assert_int_equal(atomic_load(&mismatches), 0);

    unsigned long long pages = stat_of("tiers.mid.slabs_new") - new0;
    unsigned long long reuses = stat_of("tiers.mid.mf2.reuses") - reuse0;
    unsigned long long remote = stat_of("tiers.mid.free_remote") - remote0;
    unsigned long long drained = stat_of("tiers.mid.mf2.drained_blocks") - drained0;
    double reuse = (double)reuses / (double)(reuses + pages);
    print_message("MF2 producer-consumer: %llu pages taken, %llu refills from pages already "
                  "owned (reuse %.1f%%), %llu remote frees, %llu drained\n",
                  pages, reuses, 100.0 * reuse, remote, drained);
    assert_int_equal(remote, BLOCKS);
    assert_true(drained >= BLOCKS - RING * 4);
    assert_true(reuse > 0.90);
    /* Without reuse every block would cost its share of a new 64 KiB page
     * (about 37,000 pages); the working set needs about 128. */
    size_t working_set_pages = RING * MAX_SIZE / (64 * KiB);
    assert_true(pages <= 4 * working_set_pages + 64);
}

// ------------------------------------------------------------ idle adoption

#define IDLE_BLOCKS 600
#define IDLE_SIZE (8 * KiB)

static void *idle_blocks[IDLE_BLOCKS];
static pthread_barrier_t handed_over, done;

/* Allocates IDLE_BLOCKS blocks of `size` bytes, hands them over, then stays
 * alive without allocating. */
static void *idle_owner(void *size)
{
    for (int i = 0; i < IDLE_BLOCKS; i++)
        idle_blocks[i] = malloc((size_t)(uintptr_t)size);
    pthread_barrier_wait(&handed_over);
    pthread_barrier_wait(&done);
    return NULL;
}

static void test_idle_owner_pages_are_adopted(void **state)
{
    (void)state;
    pthread_t t;
    pthread_barrier_init(&handed_over, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    assert_int_equal(pthread_create(&t, NULL, idle_owner, (void *)(uintptr_t)IDLE_SIZE), 0);
    pthread_barrier_wait(&handed_over);
    for (int i = 0; i < IDLE_BLOCKS; i++)
        free(idle_blocks[i]); /* into the idle thread's (full) pages */
    itest_sleep_ms(50);       /* well past HAKMEM_MF2_IDLE_THRESHOLD_US */

    unsigned long long adopt0 = stat_of("tiers.mid.mf2.idle_adoptions");
    unsigned long long borrowed0 = stat_of("tiers.mid.mf2.borrowed_blocks");
    unsigned long long new0 = stat_of("tiers.mid.slabs_new");
    void *mine[IDLE_BLOCKS];
    for (int i = 0; i < IDLE_BLOCKS; i++) {
        mine[i] = malloc(IDLE_SIZE);
        memset(mine[i], 0x5a, IDLE_SIZE);
    }
    unsigned long long adopted = stat_of("tiers.mid.mf2.idle_adoptions") - adopt0;
    unsigned long long borrowed = stat_of("tiers.mid.mf2.borrowed_blocks") - borrowed0;
    unsigned long long pages = stat_of("tiers.mid.slabs_new") - new0;
    print_message("idle adoption: %llu pages adopted, %llu blocks borrowed, %llu new pages\n",
                  adopted, borrowed, pages);
    assert_true(adopted >= 1);
    assert_true(borrowed >= IDLE_BLOCKS / 2);
    assert_true(pages < IDLE_BLOCKS * IDLE_SIZE / (64 * KiB) / 2);
    for (int i = 0; i < IDLE_BLOCKS; i++)
        free(mine[i]);
    pthread_barrier_wait(&done);
    pthread_join(t, NULL);
}

// ------------------------------------------------------------ borrowing

#define LENT_BLOCKS 200
#define LENT_SIZE 160 /* a class no other test here uses: its current slab is none */

/* Frees the first LENT_BLOCKS of the idle thread's blocks, then exits
 * without allocating again: it borrowed them, and must pass them on. */
static void *free_and_leave(void *arg)
{
    (void)arg;
    free(malloc(16)); /* a heap, whose clock is now */
    for (int i = 0; i < LENT_BLOCKS; i++)
        free(idle_blocks[i]);
    return NULL;
}

static bool was_lent(const void *p)
{
    for (int i = 0; i < LENT_BLOCKS; i++)
        if (idle_blocks[i] == p)
            return true;
    return false;
}

static void test_idle_owner_tiny_blocks_are_borrowed_and_passed_on(void **state)
{
    (void)state;
    pthread_t owner, freer;
    pthread_barrier_init(&handed_over, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    assert_int_equal(pthread_create(&owner, NULL, idle_owner, (void *)(uintptr_t)LENT_SIZE), 0);
    pthread_barrier_wait(&handed_over);
    itest_sleep_ms(20); /* well past HAKMEM_MF2_IDLE_THRESHOLD_US */

    unsigned long long borrowed0 = stat_of("tiers.tiny.borrowed_blocks");
    assert_int_equal(pthread_create(&freer, NULL, free_and_leave, NULL), 0);
    pthread_join(freer, NULL);
    unsigned long long borrowed = stat_of("tiers.tiny.borrowed_blocks") - borrowed0;

    /* Without borrowing these would be new blocks: the idle owner alone
     * could take its freed blocks back. */
    void *mine[LENT_BLOCKS];
    int reused = 0;
    for (int i = 0; i < LENT_BLOCKS; i++) {
        mine[i] = malloc(LENT_SIZE);
        memset(mine[i], 0x5a, LENT_SIZE);
        reused += was_lent(mine[i]);
    }
    print_message("idle tiny owner: %llu blocks borrowed by an exiting thread, %d of %d "
                  "allocations here reused them\n", borrowed, reused, LENT_BLOCKS);
    assert_true(borrowed >= LENT_BLOCKS);
    /* Not all if a sweep gave them back meanwhile (it waits two sweeps). */
    assert_true(reused >= LENT_BLOCKS / 2);
    for (int i = 0; i < LENT_BLOCKS; i++)
        free(mine[i]);
    for (int i = LENT_BLOCKS; i < IDLE_BLOCKS; i++)
        free(idle_blocks[i]);
    pthread_barrier_wait(&done);
    pthread_join(owner, NULL);
}

// ------------------------------------------------------------ orphans

#define ORPHAN_BLOCKS 200

static void *orphan_blocks[2][ORPHAN_BLOCKS];

/* Allocates tiny and MF2 blocks and exits with all of them live. */
static void *leave_blocks(void *arg)
{
    (void)arg;
    for (int i = 0; i < ORPHAN_BLOCKS; i++) {
        orphan_blocks[0][i] = malloc(256);
        orphan_blocks[1][i] = malloc(8 * KiB);
    }
    return NULL;
}

static void test_exit_orphans_pages_and_a_free_adopts_them(void **state)
{
    (void)state;
    static const char *const group[2] = {"tiers.tiny", "tiers.mid.mf2"};
    unsigned long long orphaned0[2];
    char name[64];
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s.orphaned", group[k]);
        orphaned0[k] = stat_of(name);
    }
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, leave_blocks, NULL), 0);
    pthread_join(t, NULL);
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s.orphaned", group[k]);
        unsigned long long orphaned = stat_of(name) - orphaned0[k];
        /* From here: the thread may itself have adopted pages that earlier
         * tests' threads left, which are not counted in `orphaned`. */
        snprintf(name, sizeof name, "%s.adopted", group[k]);
        unsigned long long adopted0 = stat_of(name);
        for (int i = 0; i < ORPHAN_BLOCKS; i++)
            free(orphan_blocks[k][i]); /* the first free into each page takes it over */
        snprintf(name, sizeof name, "%s.adopted", group[k]);
        unsigned long long adopted = stat_of(name) - adopted0;
        print_message("%s: %llu pages orphaned, %llu adopted\n", group[k], orphaned, adopted);
        assert_true(orphaned >= 1);
        assert_true(adopted >= 1);
        assert_true(adopted <= orphaned);
    }
}

// ------------------------------------------------------------ the stash

#define STASH_SLOTS 1024
#define STASH_OPS 200000
#define STASH_SIZE (9 * KiB) /* one MF2 class: about 14 blocks a page */

/* One thread replaces random blocks of one MF2 class.  Most frees land in
 * pages other than the current one; stashed, each is handed out by the next
 * allocation, and refills all but stop.  Left in their pages (as with
 * HAKMEM_PURGE_DELAY_MS=0, which stashes nothing), a page made current holds
 * only the hole or two frees left in it: a refill per 1.1 allocations. */
static void test_frees_into_other_pages_are_handed_out_again(void **state)
{
    (void)state;
    static void *slot[STASH_SLOTS];
    for (int i = 0; i < STASH_SLOTS; i++) {
        slot[i] = malloc(STASH_SIZE);
        itest_fill_ends(slot[i], STASH_SIZE);
    }
    unsigned long long refill0 = stat_of("tiers.mid.refill");
    unsigned long long alloc0 = stat_of("tiers.mid.alloc");
    uint64_t rng = 11;
    long bad = 0;
    for (int i = 0; i < STASH_OPS; i++) {
        size_t k = (size_t)(itest_rand(&rng) % STASH_SLOTS);
        bad += !itest_check_ends(slot[k], STASH_SIZE);
        free(slot[k]);
        slot[k] = malloc(STASH_SIZE);
        itest_fill_ends(slot[k], STASH_SIZE);
    }
    unsigned long long refills = stat_of("tiers.mid.refill") - refill0;
    unsigned long long allocs = stat_of("tiers.mid.alloc") - alloc0;
    print_message("stash: %llu refills for %llu allocations (one per %.1f)\n", refills, allocs,
                  (double)allocs / (double)(refills ? refills : 1));
    for (int i = 0; i < STASH_SLOTS; i++) {
        bad += !itest_check_ends(slot[i], STASH_SIZE);
        free(slot[i]);
    }
    assert_int_equal(bad, 0);
    assert_true(allocs >= STASH_OPS);
    assert_true(refills * 20 < allocs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_frees_are_drained_and_reused),
        cmocka_unit_test(test_idle_owner_pages_are_adopted),
        cmocka_unit_test(test_idle_owner_tiny_blocks_are_borrowed_and_passed_on),
        cmocka_unit_test(test_exit_orphans_pages_and_a_free_adopts_them),
        cmocka_unit_test(test_frees_into_other_pages_are_handed_out_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
