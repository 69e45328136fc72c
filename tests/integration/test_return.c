/*
 * Memory goes back while the program keeps running, with the default
 * settings: 400 MiB of mixed blocks from 16 B to 64 KiB (100 MiB in each of
 * four size ranges) are allocated, written and freed in a shuffled order;
 * then the program goes on as a real one would, a few small allocations and
 * frees every 10 ms, and 3 seconds after the last free its resident set
 * (/proc/self/statm) must be back within 64 MiB of where it started.  The
 * timeline is printed.  No other timing is asserted.
 *
 *   test_return            one thread allocates and frees everything
 *   test_return threads    four threads allocate and free a quarter each,
 *                          then stay alive, idle, while the main thread runs
 *   test_return slab-threads
 *                          the same without the pool range (300 MiB): what
 *                          the idle threads emptied is in slabs, which the
 *                          main thread's tick purges for them
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

#define TOTAL (400 * MiB)
#define ALLOWED (64 * MiB)
#define WINDOW_MS 3000
#define STEP_MS 10
#define WORKERS 4

static int use_threads;

typedef struct {
    void *p;
    size_t n;
} block;

/* Four size ranges, 100 MiB each: tiny blocks of both halves, mid, and the
 * pool tier's smallest classes. */
static const struct {
    size_t lo, hi;
} ranges[] = {{16, 256}, {257, 1024}, {1025, 32 * KiB}, {32 * KiB + 1, 64 * KiB}};
#define N_RANGES (sizeof ranges / sizeof ranges[0])
static size_t n_ranges = N_RANGES; /* the first n_ranges are used */

/* Bookkeeping in a mapping of its own, outside the allocator, so it is
 * neither part of the residue nor a disturbance. */
static block *map_blocks(size_t count)
{
    block *b =
        mmap(NULL, count * sizeof *b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(b != MAP_FAILED);
    return b;
}

/* Allocates `bytes` in every range, writing every block whole; returns the
 * number of blocks (at most max). */
static size_t allocate(block *b, size_t max, size_t bytes, uint64_t seed)
{
    uint64_t rng = seed;
    size_t n = 0;
    for (size_t r = 0; r < n_ranges; r++) {
        for (size_t total = 0; total < bytes && n < max; n++) {
            size_t size =
                ranges[r].lo + (size_t)(itest_rand(&rng) % (ranges[r].hi - ranges[r].lo + 1));
            void *p = malloc(size);
            if (p == NULL)
                return n;
            memset(p, 0xA5, size);
            itest_fill_ends(p, size < 64 ? size : 64);
            b[n] = (block){p, size};
            total += size;
        }
    }
    return n;
}

/* Frees in a shuffled order, so that slabs empty out unevenly; returns the
 * number of blocks whose pattern was damaged. */
static long free_shuffled(block *b, size_t n, uint64_t seed)
{
    uint64_t rng = seed;
    long bad = 0;
    itest_shuffle(b, n, sizeof *b, &rng);
    for (size_t i = 0; i < n; i++) {
        if (!itest_check_ends(b[i].p, b[i].n < 64 ? b[i].n : 64))
            bad++;
        free(b[i].p);
    }
    return bad;
}

/* ---------------------------------------------------------------- the workers */

/* Enough slots for the smallest blocks of one share (16..256 B, 136 B on
 * average) with room to spare. */
#define SLOTS(bytes) ((bytes) / 100 * n_ranges)

typedef struct {
    pthread_t thread;
    uint64_t seed;
    size_t allocated;
    long bad;
} worker;

static worker workers[WORKERS];
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static int done_count, released;

/* Allocates and frees its share, then stays alive and idle until released:
 * a thread pool between two bursts of work. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    size_t share = TOTAL / N_RANGES / WORKERS;
    block *b = map_blocks(SLOTS(share));
    size_t n = allocate(b, SLOTS(share), share, w->seed);
    for (size_t i = 0; i < n; i++)
        w->allocated += b[i].n;
    w->bad = free_shuffled(b, n, w->seed + 1);
    munmap(b, SLOTS(share) * sizeof *b);
    pthread_mutex_lock(&idle_lock);
    done_count++;
    pthread_cond_broadcast(&idle_cond);
    while (!released)
        pthread_cond_wait(&idle_cond, &idle_lock);
    pthread_mutex_unlock(&idle_lock);
    return NULL;
}

/* ---------------------------------------------------------------- the test */

/* What a running program does between the checks: a few small blocks
 * allocated, some kept a while in a ring, the oldest freed. */
static void keep_running(block *ring, size_t ring_len, uint64_t *rng)
{
    for (int k = 0; k < 8; k++) {
        size_t slot = (size_t)(itest_rand(rng) % ring_len);
        free(ring[slot].p);
        size_t n = 16 + (size_t)(itest_rand(rng) % 4080);
        ring[slot] = (block){malloc(n), n};
        if (ring[slot].p != NULL)
            memset(ring[slot].p, 1, n);
    }
}

static void test_memory_goes_back(void **state)
{
    (void)state;
    enum { RING = 64 };
    block ring[RING] = {{0}};
    uint64_t rng = 42;
    keep_running(ring, RING, &rng); /* first-use set-up is part of the baseline */
    size_t rss0 = itest_rss(), allocated = 0;
    long bad = 0;
    double t_alloc = itest_now();
    if (use_threads) {
        worker *w = workers;
        for (int i = 0; i < WORKERS; i++) {
            w[i].seed = (uint64_t)(i + 1) * 1000;
            assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
        }
        pthread_mutex_lock(&idle_lock);
        while (done_count < WORKERS)
            pthread_cond_wait(&idle_cond, &idle_lock);
        pthread_mutex_unlock(&idle_lock);
        for (int i = 0; i < WORKERS; i++) {
            allocated += w[i].allocated;
            bad += w[i].bad;
        }
    } else {
        size_t share = TOTAL / N_RANGES;
        block *b = map_blocks(SLOTS(share));
        size_t n = allocate(b, SLOTS(share), share, 7);
        for (size_t i = 0; i < n; i++)
            allocated += b[i].n;
        /* the peak, measured before anything is freed */
        print_message("peak: RSS %zu MiB with %zu MiB allocated in %zu blocks\n", itest_rss() / MiB,
                      allocated / MiB, n);
        bad = free_shuffled(b, n, 8);
        munmap(b, SLOTS(share) * sizeof *b);
    }
    double t_freed = itest_now();
    size_t rss_freed = itest_rss();
    print_message("start RSS %zu MiB; %zu MiB allocated and freed in %.2f s (%s); RSS after the "
                  "frees %zu MiB\n",
                  rss0 / MiB, allocated / MiB, t_freed - t_alloc,
                  use_threads ? "4 threads, now idle" : "1 thread", rss_freed / MiB);
    assert_int_equal(bad, 0);
    size_t total = TOTAL / N_RANGES * n_ranges;
    assert_true(allocated >= total - total / 100);

    /* The timeline: RSS every 100 ms while the program keeps running; the
     * verdict is the last figure read before the window closed. */
    size_t rss = rss_freed;
    double first_within = -1, next_print = 0;
    for (double t = 0; t < WINDOW_MS / 1000.0; t = itest_now() - t_freed) {
        rss = itest_rss();
        if (first_within < 0 && rss <= rss0 + ALLOWED)
            first_within = t;
        if (t >= next_print) {
            print_message("  t=%4.2f s  RSS %4zu MiB (start + %zd MiB)\n", t, rss / MiB,
                          ((ssize_t)rss - (ssize_t)rss0) / (ssize_t)MiB);
            next_print += 0.1;
        }
        keep_running(ring, RING, &rng);
        itest_sleep_ms(STEP_MS);
    }
    if (first_within >= 0)
        print_message("back within %zu MiB of the start %.2f s after the last free\n",
                      ALLOWED / MiB, first_within);
    for (int i = 0; i < RING; i++)
        free(ring[i].p);
    pthread_mutex_lock(&idle_lock);
    released = 1;
    pthread_cond_broadcast(&idle_cond);
    pthread_mutex_unlock(&idle_lock);
    for (int i = 0; use_threads && i < WORKERS; i++)
        pthread_join(workers[i].thread, NULL);
    if (rss > rss0 + ALLOWED)
        fail_msg("%zu MiB resident %d ms after the last free: %zu MiB above the start, %zu allowed",
                 rss / MiB, WINDOW_MS, (rss - rss0) / MiB, ALLOWED / MiB);
}

int main(int argc, char **argv)
{
    bool slabs_only = argc > 1 && strcmp(argv[1], "slab-threads") == 0;
    use_threads = slabs_only || (argc > 1 && strcmp(argv[1], "threads") == 0);
    if (argc > 1 && !use_threads) {
        fprintf(stderr, "usage: %s [threads|slab-threads]\n", argv[0]);
        return 2;
    }
    if (slabs_only)
        n_ranges = N_RANGES - 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_goes_back),
    };
    return cmocka_run_group_tests_name(argc > 1 ? argv[1] : "return", tests, NULL, NULL);
}
