/*
 * fork() from a threaded program: worker threads keep allocating, freeing
 * and passing blocks to each other while the main thread forks again and
 * again.  Each child checks the blocks it inherited, frees them, allocates
 * and frees many blocks of every tier (also from a new thread and a
 * grandchild), and exits 0; a lock left held by a worker at the fork would
 * hang it (its alarm then kills it) and a torn free list would corrupt it.
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

enum { WORKERS = 3, FORKS = 20, SHARED = 512, INHERITED = 300 };

typedef struct {
    void *p;
    size_t n;
} block;

static atomic_int stop;
static atomic_long worker_mismatches, worker_ops;
static _Atomic(block *) shared_slots[SHARED];

static void *worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 2654435761u;
    block local[64] = {{0}};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        size_t n = itest_rand_size(&rng, 2 * MiB);
        void *p = malloc(n);
        if (p == NULL)
            continue;
        itest_fill_ends(p, n);
        unsigned k = (unsigned)(itest_rand(&rng) % 64);
        if (local[k].p != NULL) {
            if (!itest_check_ends(local[k].p, local[k].n))
                atomic_fetch_add(&worker_mismatches, 1);
            /* half of the time the old block goes to another thread instead */
            block *b = malloc(sizeof *b);
            if (b != NULL && (itest_rand(&rng) & 1)) {
                *b = local[k];
                block *old = atomic_exchange(&shared_slots[itest_rand(&rng) % SHARED], b);
                if (old != NULL) {
                    if (!itest_check_ends(old->p, old->n))
                        atomic_fetch_add(&worker_mismatches, 1);
                    free(old->p);
                    free(old);
                }
            } else {
                free(b);
                free(local[k].p);
            }
        }
        local[k] = (block){p, n};
        atomic_fetch_add_explicit(&worker_ops, 1, memory_order_relaxed);
    }
    for (int k = 0; k < 64; k++)
        if (local[k].p != NULL) {
            if (!itest_check_ends(local[k].p, local[k].n))
                atomic_fetch_add(&worker_mismatches, 1);
            free(local[k].p);
        }
    return NULL;
}

/* ---------------------------------------------------------------- the child */

static block inherited[INHERITED];

static void *child_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 500; i++) {
        size_t n = itest_tier_sizes[i % ITEST_N_TIER_SIZES] + 1;
        void *p = malloc(n);
        if (p == NULL)
            return (void *)1;
        itest_fill_ends(p, n);
        if (!itest_check_ends(p, n))
            return (void *)2;
        free(p);
    }
    return NULL;
}

static void child_checks(void)
{
    /* Blocks allocated before the fork are intact and freeable here. */
    for (int i = 0; i < INHERITED; i++) {
        if (inherited[i].p == NULL)
            continue; /* the grandchild: its parent freed them already */
        CHILD_CHECK(itest_check_ends(inherited[i].p, inherited[i].n), 30,
                    "inherited block %d (%zu bytes) corrupted", i, inherited[i].n);
        CHILD_CHECK(hak_owns(inherited[i].p) == itest_hakmem_serves(inherited[i].n), 31,
                    "inherited block %d: hak_owns is wrong", i);
        free(inherited[i].p);
        inherited[i].p = NULL;
    }
    /* Blocks inherited from the workers' shared table, freed here though
     * their owners do not exist in this process. */
    for (int i = 0; i < SHARED; i += 3) {
        block *b = atomic_exchange(&shared_slots[i], NULL);
        if (b == NULL)
            continue;
        CHILD_CHECK(itest_check_ends(b->p, b->n), 32, "worker block %zu bytes corrupted", b->n);
        free(b->p);
        free(b);
    }
    /* Many blocks of every tier, live together, then freed. */
    enum { LIVE = 150 };
    static block live[LIVE];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < LIVE; i++) {
            size_t n = itest_tier_sizes[(size_t)(i + round) % ITEST_N_TIER_SIZES] + 1;
            void *p = (i % 4 == 0) ? calloc(1, n) : malloc(n);
            CHILD_CHECK(p != NULL, 33, "malloc(%zu) failed in the child", n);
            if (i % 4 == 0)
                CHILD_CHECK(itest_all_zero(p, n < 4096 ? n : 4096), 34, "calloc dirty");
            itest_fill_ends(p, n);
            live[i] = (block){p, n};
        }
        for (int i = 0; i < LIVE; i++) {
            CHILD_CHECK(itest_check_ends(live[i].p, live[i].n), 35, "child block corrupted");
            /* large blocks shrink, the others grow: every tier, little copying */
            size_t to = live[i].n > TIER_POOL_MAX ? live[i].n / 2 : live[i].n * 2;
            void *q = realloc(live[i].p, to);
            CHILD_CHECK(q != NULL, 36, "realloc failed in the child");
            free(q);
        }
    }
    pthread_t t;
    void *ret = (void *)-1;
    CHILD_CHECK(pthread_create(&t, NULL, child_thread, NULL) == 0, 37, "pthread_create");
    pthread_join(t, &ret);
    CHILD_CHECK(ret == NULL, 38, "a thread in the child failed (%p)", ret);
}

/* The child runs the checks, then forks a grandchild that runs them again
 * on what the child left. */
static void child_work(void)
{
    child_checks();
    pid_t g = fork();
    CHILD_CHECK(g >= 0, 39, "fork in the child: %s", strerror(errno));
    if (g == 0) {
        child_checks();
        exit(0);
    }
    int st = itest_wait_status(g);
    CHILD_CHECK(st == 0, 40, "grandchild exited with %d", st);
    exit(0);
}

/* ---------------------------------------------------------------- test */

static void test_fork_while_threads_allocate(void **state)
{
    (void)state;
    pthread_t t[WORKERS];
    atomic_store(&stop, 0);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)), 0);

    uint64_t rng = 3;
    int failures = 0;
    for (int f = 0; f < FORKS; f++) {
        for (int i = 0; i < INHERITED; i++) {
            size_t n = itest_rand_size(&rng, 3 * MiB);
            inherited[i] = (block){malloc(n), n};
            assert_non_null(inherited[i].p);
            itest_fill_ends(inherited[i].p, n);
        }
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(20);
            child_work();
        }
        int st = itest_wait_status(pid);
        if (st != 0) {
            print_error("fork %d: child exited with status %d\n", f, st);
            failures++;
        }
        /* The parent's own copies are untouched by whatever the child did. */
        for (int i = 0; i < INHERITED; i++) {
            assert_true(itest_check_ends(inherited[i].p, inherited[i].n));
            free(inherited[i].p);
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < SHARED; i++) {
        block *b = atomic_exchange(&shared_slots[i], NULL);
        if (b != NULL) {
            assert_true(itest_check_ends(b->p, b->n));
            free(b->p);
            free(b);
        }
    }
    print_message("%d forks, %ld worker operations meanwhile\n", FORKS, atomic_load(&worker_ops));
    assert_int_equal(failures, 0);
    assert_int_equal(atomic_load(&worker_mismatches), 0);
}

/* The child of a single-threaded parent, right after the parent freed much
 * of its memory: the caches it inherits must be usable. */
static void test_fork_after_frees(void **state)
{
    (void)state;
    enum { N = 2000 };
    static block b[N];
    uint64_t rng = 11;
    for (int i = 0; i < N; i++) {
        b[i].n = itest_rand_size(&rng, 2 * MiB);
        b[i].p = malloc(b[i].n);
        assert_non_null(b[i].p);
        itest_fill_ends(b[i].p, b[i].n);
    }
    for (int i = 0; i < N; i += 2)
        free(b[i].p);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        for (int i = 0; i < N; i += 2) {
            b[i].p = malloc(b[i].n);
            CHILD_CHECK(b[i].p != NULL, 50, "malloc in the child");
            itest_fill_ends(b[i].p, b[i].n);
        }
        for (int i = 0; i < N; i++) {
            CHILD_CHECK(itest_check_ends(b[i].p, b[i].n), 51, "block %d corrupted", i);
            free(b[i].p);
        }
        exit(0);
    }
    assert_int_equal(itest_wait_status(pid), 0);
    for (int i = 1; i < N; i += 2) {
        assert_true(itest_check_ends(b[i].p, b[i].n));
        free(b[i].p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_while_threads_allocate),
        cmocka_unit_test(test_fork_after_frees),
    };
    return cmocka_run_group_tests_name("integration.fork", tests, NULL, NULL);
}
