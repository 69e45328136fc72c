/*
 * Blocks freed by a thread other than the one that allocated them: a
 * producer/consumer hand-over, blocks swapped between threads through a
 * shared table, blocks outliving the thread that allocated them, and threads
 * that idle while another purges the slabs they emptied.  Every
 * block carries a pattern derived from its address and size, checked just
 * before it is freed; the count of mismatches must be zero.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

/* ---------------------------------------------------------------- a bounded ring */

typedef struct {
    void *p;
    size_t n;
} block;

enum { RING = 1024 };

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    block slot[RING];
    unsigned head, count;
    int producers_left;
} ring;

static void ring_init(ring *r, int producers)
{
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->not_empty, NULL);
    pthread_cond_init(&r->not_full, NULL);
    r->head = r->count = 0;
    r->producers_left = producers;
}

static void ring_put(ring *r, block b)
{
    pthread_mutex_lock(&r->lock);
    while (r->count == RING)
        pthread_cond_wait(&r->not_full, &r->lock);
    r->slot[(r->head + r->count) % RING] = b;
    r->count++;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->lock);
}

/* Returns 0 once every producer is done and the ring is empty. */
static int ring_get(ring *r, block *out)
{
    pthread_mutex_lock(&r->lock);
    while (r->count == 0 && r->producers_left > 0)
        pthread_cond_wait(&r->not_empty, &r->lock);
    if (r->count == 0) {
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    *out = r->slot[r->head];
    r->head = (r->head + 1) % RING;
    r->count--;
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->lock);
    return 1;
}

static void ring_producer_done(ring *r)
{
    pthread_mutex_lock(&r->lock);
    r->producers_left--;
    pthread_cond_broadcast(&r->not_empty);
    pthread_mutex_unlock(&r->lock);
}

/* ---------------------------------------------------------------- producer / consumer */

enum { PRODUCERS = 2, CONSUMERS = 2, BLOCKS_PER_PRODUCER = 60000 };

static ring hand_over;
static atomic_long mismatches, failed_allocs, blocks_checked, not_owned;

static void *producer(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 7919;
    /* The producer also keeps a few blocks of its own, so it allocates and
     * frees locally while its other blocks are freed remotely. */
    block mine[32] = {{0}};
    for (int i = 0; i < BLOCKS_PER_PRODUCER; i++) {
        size_t n = itest_rand_size(&rng, 4 * MiB);
        void *p;
        if (i % 5 == 0) {
            size_t a = (size_t)16 << (itest_rand(&rng) % 13); /* 16 B .. 64 KiB */
            p = aligned_alloc(a, n);
            if (p != NULL && ((uintptr_t)p & (a - 1)) != 0)
                atomic_fetch_add(&mismatches, 1);
        } else if (i % 7 == 0) {
            p = calloc(1, n);
            if (p != NULL && !itest_all_zero(p, n < 4096 ? n : 4096))
                atomic_fetch_add(&mismatches, 1);
        } else {
            p = malloc(n);
        }
        if (p == NULL) {
            atomic_fetch_add(&failed_allocs, 1);
            continue;
        }
        itest_fill_ends(p, n);
        if (i % 4 == 0) {
            unsigned k = (unsigned)(itest_rand(&rng) % 32);
            if (mine[k].p != NULL) {
                if (!itest_check_ends(mine[k].p, mine[k].n))
                    atomic_fetch_add(&mismatches, 1);
                free(mine[k].p);
            }
            mine[k] = (block){p, n};
        } else {
            ring_put(&hand_over, (block){p, n});
        }
    }
    for (int k = 0; k < 32; k++) {
        if (mine[k].p != NULL) {
            if (!itest_check_ends(mine[k].p, mine[k].n))
                atomic_fetch_add(&mismatches, 1);
            free(mine[k].p);
        }
    }
    ring_producer_done(&hand_over);
    return NULL;
}

static void *consumer(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 104729;
    block b;
    while (ring_get(&hand_over, &b)) {
        if (hak_owns(b.p) != itest_hakmem_serves(b.n))
            atomic_fetch_add(&not_owned, 1);
        if (!itest_check_ends(b.p, b.n)) {
            atomic_fetch_add(&mismatches, 1);
        }
        atomic_fetch_add(&blocks_checked, 1);
        if (itest_rand(&rng) % 8 == 0) {
            /* realloc of a block another thread allocated */
            size_t to = itest_rand_size(&rng, 2 * MiB);
            size_t keep = b.n < to ? b.n : to;
            keep = keep < ITEST_END_BYTES ? keep : ITEST_END_BYTES;
            uint64_t first = 0;
            if (keep >= 8)
                memcpy(&first, b.p, 8);
            void *q = realloc(b.p, to);
            if (q == NULL) {
                atomic_fetch_add(&failed_allocs, 1);
                free(b.p);
                continue;
            }
            uint64_t now = 0;
            if (keep >= 8)
                memcpy(&now, q, 8);
            if (now != first)
                atomic_fetch_add(&mismatches, 1);
            free(q);
        } else {
            free(b.p);
        }
    }
    return NULL;
}

static void test_producer_consumer(void **state)
{
    (void)state;
    pthread_t prod[PRODUCERS], cons[CONSUMERS];
    ring_init(&hand_over, PRODUCERS);
    atomic_store(&mismatches, 0);
    atomic_store(&failed_allocs, 0);
    atomic_store(&blocks_checked, 0);
    atomic_store(&not_owned, 0);
    for (int i = 0; i < CONSUMERS; i++)
        assert_int_equal(pthread_create(&cons[i], NULL, consumer, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&prod[i], NULL, producer, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(cons[i], NULL);
    print_message("blocks handed over and checked: %ld, mismatches: %ld, failed allocations: "
                  "%ld, not owned: %ld\n",
                  atomic_load(&blocks_checked), atomic_load(&mismatches),
                  atomic_load(&failed_allocs), atomic_load(&not_owned));
    assert_true(atomic_load(&blocks_checked) > BLOCKS_PER_PRODUCER);
    assert_int_equal(atomic_load(&mismatches), 0);
    assert_int_equal(atomic_load(&failed_allocs), 0);
    assert_int_equal(atomic_load(&not_owned), 0);
}

/* ---------------------------------------------------------------- shared swap table */

/* Threads swap freshly filled blocks into random slots of a shared table and
 * check and free whatever they took out: every free is, most of the time, of
 * a block from another thread, and the tiers see concurrent local and
 * remote frees on the same slabs. */
enum { TABLE = 4096, SWAPPERS = 4, SWAPS = 150000 };
static _Atomic(block *) table[TABLE];

static void *swapper(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 31337;
    for (int i = 0; i < SWAPS; i++) {
        block *b = malloc(sizeof *b);
        if (b == NULL) {
            atomic_fetch_add(&failed_allocs, 1);
            continue;
        }
        b->n = itest_rand_size(&rng, (i % 64 == 0) ? 3 * MiB : 64 * KiB);
        b->p = malloc(b->n);
        if (b->p == NULL) {
            atomic_fetch_add(&failed_allocs, 1);
            free(b);
            continue;
        }
        itest_fill_ends(b->p, b->n);
        block *old = atomic_exchange(&table[itest_rand(&rng) % TABLE], b);
        if (old != NULL) {
            if (!itest_check_ends(old->p, old->n))
                atomic_fetch_add(&mismatches, 1);
            atomic_fetch_add(&blocks_checked, 1);
            free(old->p);
            free(old);
        }
    }
    return NULL;
}

static void test_swap_table(void **state)
{
    (void)state;
    pthread_t t[SWAPPERS];
    atomic_store(&mismatches, 0);
    atomic_store(&failed_allocs, 0);
    atomic_store(&blocks_checked, 0);
    for (int i = 0; i < SWAPPERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, swapper, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < SWAPPERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < TABLE; i++) {
        block *b = atomic_exchange(&table[i], NULL);
        if (b == NULL)
            continue;
        if (!itest_check_ends(b->p, b->n))
            atomic_fetch_add(&mismatches, 1);
        free(b->p);
        free(b);
    }
    print_message("swapped blocks checked: %ld, mismatches: %ld\n", atomic_load(&blocks_checked),
                  atomic_load(&mismatches));
    assert_int_equal(atomic_load(&mismatches), 0);
    assert_int_equal(atomic_load(&failed_allocs), 0);
}

/* ---------------------------------------------------------------- orphans */

/* Blocks outlive the thread that allocated them; the main thread frees some
 * of them while new threads allocate (and may adopt the orphaned slabs),
 * and nothing new may overlap what is still live. */
enum { ORPHAN_THREADS = 4, ORPHAN_BLOCKS = 3000, ORPHAN_ROUNDS = 6 };

typedef struct {
    uint64_t seed;
    long failed;
    block b[ORPHAN_BLOCKS];
} orphan_job;

static void *orphan_maker(void *arg)
{
    orphan_job *job = arg;
    uint64_t rng = job->seed;
    for (int i = 0; i < ORPHAN_BLOCKS; i++) {
        size_t n = itest_rand_size(&rng, 1536 * KiB);
        void *p = malloc(n);
        if (p != NULL)
            itest_fill_ends(p, n);
        else
            job->failed++;
        job->b[i] = (block){p, n};
        /* free a few locally, so its slabs are partly empty when it exits */
        if (i % 3 == 2 && job->b[i - 1].p != NULL) {
            free(job->b[i - 1].p);
            job->b[i - 1].p = NULL;
        }
    }
    return NULL;
}

static void test_blocks_outlive_their_thread(void **state)
{
    (void)state;
    static orphan_job jobs[ORPHAN_ROUNDS][ORPHAN_THREADS];
    long bad = 0, nulls = 0;
    for (int r = 0; r < ORPHAN_ROUNDS; r++) {
        pthread_t t[ORPHAN_THREADS];
        for (int i = 0; i < ORPHAN_THREADS; i++) {
            jobs[r][i].seed = (uint64_t)(r * 100 + i + 1);
            assert_int_equal(pthread_create(&t[i], NULL, orphan_maker, &jobs[r][i]), 0);
        }
        for (int i = 0; i < ORPHAN_THREADS; i++)
            pthread_join(t[i], NULL);
        /* Check everything still live from every round; free half of this
         * round's blocks and all of the round before last. */
        for (int rr = 0; rr <= r; rr++) {
            for (int i = 0; i < ORPHAN_THREADS; i++) {
                for (int k = 0; k < ORPHAN_BLOCKS; k++) {
                    block *b = &jobs[rr][i].b[k];
                    if (b->p == NULL)
                        continue;
                    if (!itest_check_ends(b->p, b->n))
                        bad++;
                    if ((rr == r && k % 2 == 0) || rr == r - 2) {
                        free(b->p);
                        b->p = NULL;
                    }
                }
            }
        }
    }
    for (int r = 0; r < ORPHAN_ROUNDS; r++)
        for (int i = 0; i < ORPHAN_THREADS; i++)
            for (int k = 0; k < ORPHAN_BLOCKS; k++) {
                block *b = &jobs[r][i].b[k];
                if (b->p == NULL)
                    continue;
                if (!itest_check_ends(b->p, b->n))
                    bad++;
                free(b->p);
                b->p = NULL;
            }
    for (int r = 0; r < ORPHAN_ROUNDS; r++)
        for (int i = 0; i < ORPHAN_THREADS; i++)
            nulls += jobs[r][i].failed;
    assert_int_equal(bad, 0);
    assert_int_equal(nulls, 0);
}

// ------------------------------------------------------------ idle threads

#define IDLE_THREADS 4
#define IDLE_ROUNDS 3
#define IDLE_BLOCKS 2000
#define IDLE_SLEEP_MS 350 /* past the default purge delay (250 ms) */

typedef struct {
    block b[IDLE_BLOCKS];
    uint64_t seed;
    long bad, failed;
} idle_job;

static atomic_int idle_workers_left;

/* Each round: fill blocks of 16 B to 16 KiB (tiny and MF2 slabs), free half
 * of them, then sleep past the purge delay, so that the main thread's tick
 * purges the slabs and spares this thread emptied while it sleeps; on
 * waking, check the half still live (a purge of a page in use would have
 * zeroed it) and free it. */
static void *idle_worker(void *arg)
{
    idle_job *job = arg;
    uint64_t rng = job->seed;
    for (int r = 0; r < IDLE_ROUNDS; r++) {
        for (int i = 0; i < IDLE_BLOCKS; i++) {
            size_t n = 16 + itest_rand_size(&rng, 16 * KiB);
            job->b[i] = (block){malloc(n), n};
            if (job->b[i].p == NULL)
                job->failed++;
            else
                itest_fill_ends(job->b[i].p, n);
        }
        for (int i = 0; i < IDLE_BLOCKS; i += 2)
            free(job->b[i].p);
        itest_sleep_ms(IDLE_SLEEP_MS);
        for (int i = 1; i < IDLE_BLOCKS; i += 2) {
            if (job->b[i].p != NULL && !itest_check_ends(job->b[i].p, job->b[i].n))
                job->bad++;
            free(job->b[i].p);
        }
    }
    atomic_fetch_sub(&idle_workers_left, 1);
    return NULL;
}

static void test_idle_threads_slabs_purged_by_another(void **state)
{
    (void)state;
    static idle_job jobs[IDLE_THREADS];
    pthread_t t[IDLE_THREADS];
    atomic_store(&idle_workers_left, IDLE_THREADS);
    for (int i = 0; i < IDLE_THREADS; i++) {
        jobs[i] = (idle_job){.seed = (uint64_t)i + 77};
        assert_int_equal(pthread_create(&t[i], NULL, idle_worker, &jobs[i]), 0);
    }
    /* Allocate steadily meanwhile: 256 KiB every 5 ms beats the heartbeat
     * (hak_heap_tick, once a MiB) a dozen times a purge delay. */
    while (atomic_load(&idle_workers_left) > 0) {
        void *p[32];
        for (int k = 0; k < 32; k++)
            p[k] = malloc(8 * KiB);
        for (int k = 0; k < 32; k++)
            free(p[k]);
        itest_sleep_ms(5);
    }
    long bad = 0, failed = 0;
    for (int i = 0; i < IDLE_THREADS; i++) {
        pthread_join(t[i], NULL);
        bad += jobs[i].bad;
        failed += jobs[i].failed;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_consumer),
        cmocka_unit_test(test_swap_table),
        cmocka_unit_test(test_blocks_outlive_their_thread),
        cmocka_unit_test(test_idle_threads_slabs_purged_by_another),
    };
    return cmocka_run_group_tests_name("integration.threads", tests, NULL, NULL);
}
