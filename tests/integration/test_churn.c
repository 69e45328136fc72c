/*
 * Thread exit hands the thread's caches back: 10,000 short-lived threads,
 * each allocating and freeing in the tiny, mid and pool tiers (and leaving
 * one block for the main thread to free after it is gone), must not make
 * the resident set or the address space grow with the number of threads.
 */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

enum { THREADS = 10000, AT_ONCE = 4, WARMUP = 200 };

/* Each thread's work: blocks of many classes, all freed before it exits
 * but one, which it returns for the main thread to free. */
static const size_t churn_sizes[] = {16,   24,    64,    100,   256,    512,    1024,   1500,
                                     4096, 10000, 32768, 40000, 100000, 300000, 1 * MiB};
#define N_CHURN (sizeof churn_sizes / sizeof churn_sizes[0])

static atomic_long mismatches;

static void *short_lived(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    void *p[N_CHURN * 2];
    for (size_t i = 0; i < N_CHURN * 2; i++) {
        size_t n = churn_sizes[i % N_CHURN];
        p[i] = malloc(n);
        if (p[i] == NULL)
            return NULL;
        itest_fill_ends(p[i], n);
    }
    for (size_t i = 0; i < N_CHURN * 2; i++) {
        if (!itest_check_ends(p[i], churn_sizes[i % N_CHURN]))
            atomic_fetch_add(&mismatches, 1);
        if (i != id % (N_CHURN * 2))
            free(p[i]);
    }
    return p[id % (N_CHURN * 2)];
}

static void run_threads(uintptr_t first, uintptr_t count)
{
    for (uintptr_t i = first; i < first + count; i += AT_ONCE) {
        pthread_t t[AT_ONCE];
        for (int k = 0; k < AT_ONCE; k++)
            assert_int_equal(pthread_create(&t[k], NULL, short_lived, (void *)(i + (uintptr_t)k)),
                             0);
        for (int k = 0; k < AT_ONCE; k++) {
            void *left = NULL;
            pthread_join(t[k], &left);
            assert_non_null(left);
            size_t n = churn_sizes[(i + (uintptr_t)k) % (N_CHURN * 2) % N_CHURN];
            if (!itest_check_ends(left, n))
                atomic_fetch_add(&mismatches, 1);
            free(left);
        }
    }
}

static void test_thread_churn(void **state)
{
    (void)state;
    run_threads(0, WARMUP);
    size_t rss0 = itest_rss(), vm0 = itest_vmsize();
    double t0 = itest_now();
    run_threads(WARMUP, THREADS - WARMUP);
    double secs = itest_now() - t0;
    size_t rss1 = itest_rss(), vm1 = itest_vmsize();
    print_message("%d threads in %.2f s; RSS %zu KiB -> %zu KiB, VmSize %zu MiB -> %zu MiB\n",
                  THREADS, secs, rss0 / KiB, rss1 / KiB, vm0 / MiB, vm1 / MiB);
    assert_int_equal(atomic_load(&mismatches), 0);
    /* One thread's caches are on the order of 100 KiB-1 MiB; a leak per
     * thread would show as hundreds of MiB after 9,800 more threads. */
    if (rss1 > rss0 + 32 * MiB)
        fail_msg("RSS grew by %zu KiB over %d threads", (rss1 - rss0) / KiB, THREADS - WARMUP);
    if (vm1 > vm0 + 1 * GiB)
        fail_msg("address space grew by %zu MiB over %d threads", (vm1 - vm0) / MiB,
                 THREADS - WARMUP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_churn),
    };
    return cmocka_run_group_tests_name("integration.churn", tests, NULL, NULL);
}
