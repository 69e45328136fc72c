/*
 * hakmem through LD_PRELOAD: this program is built without hakmem and ctest
 * runs it with LD_PRELOAD=libhakmem.so.  It finds hak_owns with
 * dlsym(RTLD_DEFAULT) and checks that what every entry point, libc's own
 * allocating functions and other threads hand out are hakmem's blocks.
 * Run without the preload it fails: that is what makes it a test.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "itest.h"

static int (*owns)(const void *);
static void (*purge)(void);

static void check_ours(const char *what, void *p, size_t n)
{
    if (p == NULL)
        fail_msg("%s returned NULL", what);
    if (owns == NULL)
        fail_msg("libhakmem.so is not preloaded");
    if (owns(p) != 1)
        fail_msg("%s returned %p, which hakmem does not own", what, p);
    if (((uintptr_t)p & 15) != 0)
        fail_msg("%s returned %p, not 16-aligned", what, p);
    if (malloc_usable_size(p) < n)
        fail_msg("%s: usable size %zu < %zu", what, malloc_usable_size(p), n);
}

static void test_hakmem_is_preloaded(void **state)
{
    (void)state;
    const char *pre = getenv("LD_PRELOAD");
    print_message("LD_PRELOAD=%s\n", pre ? pre : "(unset)");
    owns = (int (*)(const void *))dlsym(RTLD_DEFAULT, "hak_owns");
    purge = (void (*)(void))dlsym(RTLD_DEFAULT, "hak_purge");
    if (owns == NULL || purge == NULL)
        fail_msg("hak_owns/hak_purge not found: libhakmem.so is not preloaded");
    /* malloc itself must be hakmem's, not merely present beside libc's. */
    void *sym = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    assert_true(dladdr(sym, &info) != 0);
    print_message("malloc resolves to %s\n", info.dli_fname);
    if (strstr(info.dli_fname, "hakmem") == NULL)
        fail_msg("malloc resolves to %s, not libhakmem", info.dli_fname);
}

static void test_every_entry_point(void **state)
{
    (void)state;
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i] ? itest_tier_sizes[i] : 1;
        void *p = malloc(n);
        check_ours("malloc", p, n);
        itest_fill(p, n, n);
        p = realloc(p, n * 2);
        check_ours("realloc", p, n * 2);
        assert_int_equal(itest_check(p, n, n), -1);
        p = reallocarray(p, n, 3);
        check_ours("reallocarray", p, n * 3);
        free(p);

        p = calloc(n, 1);
        check_ours("calloc", p, n);
        assert_true(itest_all_zero(p, n));
        free(p);

        p = NULL;
        assert_int_equal(posix_memalign(&p, 4096, n), 0);
        check_ours("posix_memalign", p, n);
        assert_int_equal((uintptr_t)p & 4095, 0);
        free(p);
        p = aligned_alloc(64 * KiB, n);
        check_ours("aligned_alloc", p, n);
        assert_int_equal((uintptr_t)p & (64 * KiB - 1), 0);
        free(p);
        p = memalign(256, n);
        check_ours("memalign", p, n);
        free(p);
        p = valloc(n);
        check_ours("valloc", p, n);
        free(p);
        p = pvalloc(n);
        check_ours("pvalloc", p, n);
        free(p);
    }
    errno = 0;
    volatile size_t huge = SIZE_MAX;
    assert_null(malloc(huge));
    assert_int_equal(errno, ENOMEM);
    void *out = NULL;
    assert_int_equal(posix_memalign(&out, 24, 16), EINVAL);
}

/* libc functions that allocate on the caller's behalf use the preloaded
 * malloc too, and free() of their results works. */
static void test_libc_allocations(void **state)
{
    (void)state;
    char *s = strdup("hello, hakmem");
    check_ours("strdup", s, 14);
    free(s);
    char *a = NULL;
    assert_true(asprintf(&a, "%d-%s", 42, "x") > 0);
    check_ours("asprintf", a, 5);
    free(a);
    char *buf = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&buf, &len);
    assert_non_null(ms);
    for (int i = 0; i < 10000; i++)
        fprintf(ms, "%d,", i);
    fclose(ms);
    check_ours("open_memstream buffer", buf, len);
    free(buf);
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int mapped = 0;
    while (getline(&line, &cap, f) > 0)
        if (strstr(line, "libhakmem") != NULL)
            mapped = 1;
    check_ours("getline buffer", line, 1);
    free(line);
    fclose(f);
    assert_true(mapped);
}

static void *thread_alloc(void *arg)
{
    (void)arg;
    return malloc(777);
}

static void test_threads_and_purge(void **state)
{
    (void)state;
    pthread_t t;
    void *p = NULL;
    assert_int_equal(pthread_create(&t, NULL, thread_alloc, NULL), 0);
    pthread_join(t, &p);
    check_ours("malloc in a thread", p, 777);
    itest_fill(p, 777, 5);
    if (purge == NULL)
        fail_msg("libhakmem.so is not preloaded");
    purge();
    assert_int_equal(itest_check(p, 777, 5), -1);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hakmem_is_preloaded),
        cmocka_unit_test(test_every_entry_point),
        cmocka_unit_test(test_libc_allocations),
        cmocka_unit_test(test_threads_and_purge),
    };
    return cmocka_run_group_tests_name("integration.preload", tests, NULL, NULL);
}
