/*
 * stress_mixed [--threads N] [--seconds S] [--seed X]
 * stress_mixed [threads] [seconds] [seed]            (the same, positionally)
 *
 * Many threads (default 8) for a bounded time (default 5 s): random sizes
 * from 1 B to 4 MiB weighted to small, random alignments, realloc chains,
 * and blocks handed between threads through a shared ring and freed by
 * whoever takes them.  Every block carries a pattern derived from its address
 * and size, checked before it is resized or freed.  Prints the counts and
 * exits non-zero on any mismatch or failed allocation.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"
#include "itest.h"

typedef struct {
    void *p;
    size_t n;
} block;

/* ---------------------------------------------------------------- counters */

static atomic_long n_alloc, n_free, n_realloc, n_remote_free, n_mismatch, n_failed, n_unaligned;

static void mismatch(const char *what, const block *b)
{
    if (atomic_fetch_add(&n_mismatch, 1) < 10)
        fprintf(stderr, "MISMATCH: %s: block %p, %zu bytes\n", what, b->p, b->n);
}

/* ---------------------------------------------------------------- shared ring */

enum { RING = 2048 };
static struct {
    pthread_mutex_t lock;
    block slot[RING];
    unsigned head, count;
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int ring_push(block b)
{
    int ok = 0;
    pthread_mutex_lock(&ring.lock);
    if (ring.count < RING) {
        ring.slot[(ring.head + ring.count) % RING] = b;
        ring.count++;
        ok = 1;
    }
    pthread_mutex_unlock(&ring.lock);
    return ok;
}

static int ring_pop(block *out)
{
    int ok = 0;
    pthread_mutex_lock(&ring.lock);
    if (ring.count > 0) {
        *out = ring.slot[ring.head];
        ring.head = (ring.head + 1) % RING;
        ring.count--;
        ok = 1;
    }
    pthread_mutex_unlock(&ring.lock);
    return ok;
}

/* ---------------------------------------------------------------- block life */

static void check_and_free(block *b, const char *where)
{
    if (!itest_check_ends(b->p, b->n))
        mismatch(where, b);
    free(b->p);
    atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    b->p = NULL;
}

static int new_block(block *b, uint64_t *rng)
{
    size_t n = itest_rand_size(rng, 4 * MiB);
    unsigned how = (unsigned)(itest_rand(rng) % 10);
    size_t align = 16;
    void *p = NULL;
    if (how < 6) {
        p = malloc(n);
    } else if (how < 7) {
        p = calloc(1, n);
        if (p != NULL && !itest_all_zero(p, n < 4096 ? n : 4096)) {
            block z = {p, n};
            mismatch("calloc returned dirty memory", &z);
        }
    } else {
        /* 16 B .. 64 KiB mostly, up to 1 MiB now and then */
        unsigned shift = (unsigned)(itest_rand(rng) % (how == 9 ? 17 : 13));
        align = (size_t)16 << shift;
        if (how == 7)
            p = aligned_alloc(align, n);
        else if (posix_memalign(&p, align, n) != 0)
            p = NULL;
    }
    if (p == NULL) {
        atomic_fetch_add(&n_failed, 1);
        return 0;
    }
    if (((uintptr_t)p & (align - 1)) != 0 || malloc_usable_size(p) < n)
        atomic_fetch_add(&n_unaligned, 1);
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    *b = (block){p, n};
    itest_fill_ends(p, n);
    return 1;
}

/* A realloc chain: the head of the old pattern must survive the move. */
static void resize(block *b, uint64_t *rng)
{
    for (int step = (int)(itest_rand(rng) % 4); step >= 0; step--) {
        size_t to = itest_rand_size(rng, 4 * MiB);
        size_t head = b->n <= ITEST_WHOLE_MAX ? b->n : ITEST_END_BYTES;
        if (head > to)
            head = to;
        uint64_t seed = itest_addr_seed(b->p, b->n);
        if (!itest_check_ends(b->p, b->n))
            mismatch("before realloc", b);
        void *q = realloc(b->p, to);
        if (q == NULL) {
            atomic_fetch_add(&n_failed, 1);
            return; /* the old block is still valid */
        }
        atomic_fetch_add_explicit(&n_realloc, 1, memory_order_relaxed);
        if (itest_check(q, head, seed) != -1) {
            block nb = {q, to};
            mismatch("realloc lost the contents", &nb);
        }
        *b = (block){q, to};
        itest_fill_ends(q, to);
    }
}

/* ---------------------------------------------------------------- threads */

enum { LOCAL = 128 };
static double deadline;

static void *worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    block local[LOCAL] = {{0}};
    long ops = 0;
    while ((ops++ & 63) != 0 || itest_now() < deadline) {
        unsigned op = (unsigned)(itest_rand(&rng) % 100);
        block *b = &local[itest_rand(&rng) % LOCAL];
        if (op < 45) {
            if (b->p != NULL)
                check_and_free(b, "local free");
            new_block(b, &rng);
        } else if (op < 60) {
            if (b->p != NULL)
                resize(b, &rng);
        } else if (op < 80) {
            if (b->p != NULL) {
                if (ring_push(*b))
                    b->p = NULL;
                else
                    check_and_free(b, "local free (ring full)");
            }
        } else {
            block r;
            if (ring_pop(&r)) {
                if (hak_owns(r.p) != itest_hakmem_serves(r.n))
                    mismatch("block from the ring not owned by hakmem", &r);
                if (op < 90)
                    resize(&r, &rng);
                check_and_free(&r, "remote free");
                atomic_fetch_add_explicit(&n_remote_free, 1, memory_order_relaxed);
            }
        }
    }
    for (int i = 0; i < LOCAL; i++)
        if (local[i].p != NULL)
            check_and_free(&local[i], "final local free");
    return NULL;
}

/* --threads N, --seconds S, --seed X, or the same three positionally (in
 * that order); 0 on anything else. */
static int parse_args(int argc, char **argv, int *threads, double *seconds, uint64_t *seed)
{
    static const char *const positional[] = {"threads", "seconds", "seed"};
    int next = 0;
    for (int i = 1; i < argc; i++) {
        const char *name;
        if (strncmp(argv[i], "--", 2) == 0 && i + 1 < argc)
            name = argv[i++] + 2;
        else if (next < 3)
            name = positional[next++];
        else
            return 0;
        if (strcmp(name, "threads") == 0)
            *threads = atoi(argv[i]);
        else if (strcmp(name, "seconds") == 0)
            *seconds = atof(argv[i]);
        else if (strcmp(name, "seed") == 0)
            *seed = strtoull(argv[i], NULL, 0);
        else
            return 0;
    }
    return *threads >= 1 && *threads <= 256 && *seconds > 0;
}

int main(int argc, char **argv)
{
    int threads = 8;
    double seconds = 5.0;
    uint64_t seed = 0x5EED;
    if (!parse_args(argc, argv, &threads, &seconds, &seed)) {
        fprintf(stderr, "usage: %s [--threads 1-256] [--seconds S] [--seed X]\n", argv[0]);
        return 2;
    }
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    if (t == NULL)
        return 2;
    double start = itest_now();
    deadline = start + seconds;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(seed * 1000 + (uint64_t)i)) !=
            0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    free(t);
    block r;
    while (ring_pop(&r))
        check_and_free(&r, "final ring free");
    double secs = itest_now() - start;

    printf("stress.mixed: %d threads, %.2f s, seed %llu\n", threads, secs,
           (unsigned long long)seed);
    printf("  allocations      %ld\n", atomic_load(&n_alloc));
    printf("  reallocs         %ld\n", atomic_load(&n_realloc));
    printf("  frees            %ld\n", atomic_load(&n_free));
    printf("  cross-thread     %ld\n", atomic_load(&n_remote_free));
    printf("  failed allocs    %ld\n", atomic_load(&n_failed));
    printf("  misaligned/short %ld\n", atomic_load(&n_unaligned));
    printf("  mismatches       %ld\n", atomic_load(&n_mismatch));
    printf("  final RSS        %zu KiB\n", itest_rss() / KiB);
    int bad = atomic_load(&n_mismatch) != 0 || atomic_load(&n_failed) != 0 ||
              atomic_load(&n_unaligned) != 0 || atomic_load(&n_alloc) != atomic_load(&n_free) ||
              atomic_load(&n_remote_free) == 0;
    printf("stress.mixed: %s\n", bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}
