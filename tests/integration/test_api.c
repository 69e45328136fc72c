/*
 * The malloc family as a program sees it: results, usable sizes, zeroing,
 * POSIX error codes, huge and overflowing requests, exhaustion under
 * RLIMIT_AS, the hak_* names, and pointers hakmem never handed out.
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

/* glibc's own entry points, still exported by libc.so.6: the one legitimate
 * way for a linked program to hold a pointer hakmem did not hand out. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);

/* Volatile so the compiler cannot fold the huge requests at compile time. */
static volatile size_t v_size_max = SIZE_MAX;

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static int aligned_to(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* ---------------------------------------------------------------- malloc / free */

static void test_malloc_every_tier(void **state)
{
    (void)state;
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i];
        unsigned char *p = malloc(n);
        if (n == 0 && p == NULL)
            continue; /* POSIX allows either answer for 0 */
        assert_non_null(p);
        assert_true(aligned_to(p, 16));
        size_t us = malloc_usable_size(p);
        assert_true(us >= n);
        assert_int_equal(hak_owns(p), itest_hakmem_serves(n));
        /* Every usable byte is the program's to write. */
        itest_fill(p, us, n);
        assert_int_equal(itest_check(p, us, n), -1);
        free(p);
    }
}

static void test_free_null_and_realloc_null(void **state)
{
    (void)state;
    errno = 0;
    free(NULL);
    assert_int_equal(errno, 0);
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i] ? itest_tier_sizes[i] : 1;
        void *p = realloc(NULL, n);
        assert_non_null(p);
        assert_true(aligned_to(p, 16));
        assert_true(malloc_usable_size(p) >= n);
        assert_int_equal(hak_owns(p), itest_hakmem_serves(n));
        free(p);
    }
    assert_int_equal(malloc_usable_size(NULL), 0);
}

/* free() must leave errno alone (POSIX.1-2024; glibc since 2.33): programs
 * call free between a failing call and reading its errno. */
static void test_free_preserves_errno(void **state)
{
    (void)state;
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        void *p = malloc(itest_tier_sizes[i] + 1);
        assert_non_null(p);
        errno = 1234;
        free(p);
        assert_int_equal(errno, 1234);
    }
}

/* Blocks next to each other never overlap: each is filled with its own
 * pattern over its whole usable size, then all are checked. */
static void test_blocks_do_not_overlap(void **state)
{
    (void)state;
    enum { N = 512 };
    void *p[N];
    size_t n[N];
    uint64_t rng = 42;
    for (int i = 0; i < N; i++) {
        n[i] = itest_rand_size(&rng, 2 * MiB);
        p[i] = malloc(n[i]);
        assert_non_null(p[i]);
        n[i] = malloc_usable_size(p[i]);
        itest_fill_addr(p[i], n[i]);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(itest_check_addr(p[i], n[i]), -1);
        free(p[i]);
    }
}

/* ---------------------------------------------------------------- calloc */

static void test_calloc_zeroes(void **state)
{
    (void)state;
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i] ? itest_tier_sizes[i] : 1;
        unsigned char *p = calloc(1, n);
        assert_non_null(p);
        assert_true(aligned_to(p, 16));
        assert_true(itest_all_zero(p, n));
        free(p);
        p = calloc(n, 1);
        assert_non_null(p);
        assert_true(itest_all_zero(p, n));
        free(p);
    }
}

/* Memory that comes back from the allocator's own caches must be zeroed too:
 * malloc, dirty, free, calloc the same size, many times over. */
static void test_calloc_zeroes_reused_memory(void **state)
{
    (void)state;
    enum { N = 32 };
    void *p[N];
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i] ? itest_tier_sizes[i] : 1;
        int count = n > TIER_POOL_MAX ? 4 : N;
        for (int round = 0; round < 3; round++) {
            for (int k = 0; k < count; k++) {
                p[k] = malloc(n);
                assert_non_null(p[k]);
                memset(p[k], 0xA5, malloc_usable_size(p[k]));
            }
            for (int k = 0; k < count; k++)
                free(p[k]);
            for (int k = 0; k < count; k++) {
                p[k] = calloc(1, n);
                assert_non_null(p[k]);
                if (!itest_all_zero(p[k], n))
                    fail_msg("calloc(1, %zu) returned dirty memory (round %d, block %d)", n, round,
                             k);
            }
            for (int k = 0; k < count; k++) {
                memset(p[k], 0x5A, n);
                free(p[k]);
            }
        }
    }
}

static void test_calloc_overflow(void **state)
{
    (void)state;
    const size_t big[][2] = {
        {SIZE_MAX / 2 + 1, 2}, {2, SIZE_MAX / 2 + 1},   {(size_t)1 << 33, (size_t)1 << 33},
        {SIZE_MAX, SIZE_MAX},  {SIZE_MAX / 16 + 1, 16}, {65537, SIZE_MAX / 65536},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        errno = 0;
        void *p = calloc(big[i][0] + (v_size_max - SIZE_MAX), big[i][1]);
        if (p != NULL)
            fail_msg("calloc(%zu, %zu) overflows but returned %p", big[i][0], big[i][1], p);
        assert_int_equal(errno, ENOMEM);
    }
}

/* ---------------------------------------------------------------- reallocarray */

static void test_reallocarray(void **state)
{
    (void)state;
    unsigned char *p = reallocarray(NULL, 10, 10);
    assert_non_null(p);
    itest_fill(p, 100, 7);
    p = reallocarray(p, 1000, 40);
    assert_non_null(p);
    assert_true(malloc_usable_size(p) >= 40000);
    assert_int_equal(itest_check(p, 100, 7), -1);

    /* Overflow: NULL, ENOMEM, and the old block untouched and still ours. */
    errno = 0;
    void *q = itest_reallocarray(p, v_size_max / 2 + 1, 2);
    assert_null(q);
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    q = itest_reallocarray(p, (size_t)1 << 40, (size_t)1 << 40);
    assert_null(q);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(itest_check(p, 100, 7), -1);
    assert_int_equal(hak_owns(p), itest_hakmem_serves(40000));
    free(p);

    errno = 0;
    assert_null(reallocarray(NULL, v_size_max, 3));
    assert_int_equal(errno, ENOMEM);
}

/* ---------------------------------------------------------------- huge requests */

static void test_huge_requests_fail_with_enomem(void **state)
{
    (void)state;
    const size_t huge[] = {
        v_size_max,  v_size_max - 1,          v_size_max - 4096, v_size_max / 2,
        PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62,   v_size_max - 2 * MiB,
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        size_t n = huge[i];
        void *p;
#define EXPECT_ENOMEM(call)                                                                        \
    do {                                                                                           \
        errno = 0;                                                                                 \
        p = (call);                                                                                \
        if (p != NULL)                                                                             \
            fail_msg("%s with size %zu returned %p", #call, n, p);                                 \
        if (errno != ENOMEM)                                                                       \
            fail_msg("%s with size %zu: errno %d, expected ENOMEM", #call, n, errno);              \
    } while (0)
        EXPECT_ENOMEM(malloc(n));
        EXPECT_ENOMEM(calloc(1, n));
        EXPECT_ENOMEM(aligned_alloc(64, n));
        EXPECT_ENOMEM(aligned_alloc(2 * MiB, n));
        EXPECT_ENOMEM(memalign(4096, n));
        EXPECT_ENOMEM(valloc(n));
        EXPECT_ENOMEM(pvalloc(n)); /* rounding up to a page must not wrap */
        EXPECT_ENOMEM(hak_malloc(n));

        void *out = (void *)&out;
        int rc = posix_memalign(&out, 64, n);
        assert_int_equal(rc, ENOMEM);
        assert_true(out == (void *)&out || out == NULL);

        unsigned char *old = malloc(100);
        assert_non_null(old);
        itest_fill(old, 100, n);
        EXPECT_ENOMEM(itest_realloc(old, n));
        assert_int_equal(itest_check(old, 100, n), -1);
        free(old);
#undef EXPECT_ENOMEM
    }
}

/* ---------------------------------------------------------------- alignment entry points */

static void test_posix_memalign_einval(void **state)
{
    (void)state;
    const size_t bad[] = {0, 1, 2, 4, 3, 12, 24, 48, 96, 4097, (size_t)1 << 63 | 8, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *out = (void *)&out;
        int rc = posix_memalign(&out, bad[i], 64);
        if (rc != EINVAL)
            fail_msg("posix_memalign(alignment %zu) returned %d, expected EINVAL", bad[i], rc);
        assert_true(out == (void *)&out || out == NULL);
    }
    /* sizeof(void *) itself is the smallest valid alignment. */
    void *out = NULL;
    assert_int_equal(posix_memalign(&out, sizeof(void *), 1), 0);
    assert_non_null(out);
    assert_true(aligned_to(out, 16));
    free(out);
}

static void test_aligned_alloc_and_memalign_einval(void **state)
{
    (void)state;
    const size_t bad[] = {3, 5, 12, 24, 48, 96, 100, 4097, 3 * 4096, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = aligned_alloc(bad[i], 64);
        if (p != NULL)
            fail_msg("aligned_alloc(%zu, ...) returned %p, expected NULL", bad[i], p);
        assert_int_equal(errno, EINVAL);
        errno = 0;
        p = memalign(bad[i], 64);
        if (p != NULL)
            fail_msg("memalign(%zu, 64) returned %p, expected NULL", bad[i], p);
        assert_int_equal(errno, EINVAL);
        errno = 0;
        p = hak_aligned_alloc(bad[i], 64);
        assert_null(p);
        assert_int_equal(errno, EINVAL);
    }
}

/* Power-of-two alignments below 16 are valid and still give 16-byte
 * aligned blocks. */
static void test_small_alignments(void **state)
{
    (void)state;
    for (size_t a = 1; a <= 16; a <<= 1) {
        for (size_t n = 1; n <= 4096; n = n * 3 + 1) {
            void *p = aligned_alloc(a, n);
            assert_non_null(p);
            assert_true(aligned_to(p, 16));
            assert_true(malloc_usable_size(p) >= n);
            free(p);
            p = memalign(a, n);
            assert_non_null(p);
            assert_true(aligned_to(p, 16));
            free(p);
        }
    }
}

static void test_valloc_pvalloc(void **state)
{
    (void)state;
    const size_t pg = page_size();
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i];
        void *p = valloc(n);
        assert_non_null(p);
        assert_true(aligned_to(p, pg));
        assert_true(malloc_usable_size(p) >= n);
        assert_int_equal(hak_owns(p), itest_hakmem_serves(n));
        memset(p, 0x11, n);
        free(p);

        /* pvalloc rounds the size up to a whole page. */
        size_t rounded = (n + pg - 1) / pg * pg;
        p = pvalloc(n);
        assert_non_null(p);
        assert_true(aligned_to(p, pg));
        if (malloc_usable_size(p) < rounded)
            fail_msg("pvalloc(%zu): usable size %zu < %zu", n, malloc_usable_size(p), rounded);
        memset(p, 0x22, rounded);
        free(p);
    }
}

/* Writing the whole usable size of a block leaves its neighbours intact. */
static void test_usable_size_is_really_usable(void **state)
{
    (void)state;
    enum { N = 64 };
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i] ? itest_tier_sizes[i] : 1;
        int count = n > TIER_POOL_MAX ? 3 : N;
        void *p[N];
        size_t us[N];
        for (int k = 0; k < count; k++) {
            p[k] = malloc(n);
            assert_non_null(p[k]);
            us[k] = malloc_usable_size(p[k]);
            assert_true(us[k] >= n);
            itest_fill_addr(p[k], us[k]);
        }
        for (int k = 0; k < count; k++)
            if (itest_check_addr(p[k], us[k]) != -1)
                fail_msg("size %zu: block %d (usable %zu) was overwritten by a neighbour", n, k,
                         us[k]);
        for (int k = 0; k < count; k++)
            free(p[k]);
    }
}

/* ---------------------------------------------------------------- hak_* names */

static void test_hak_api(void **state)
{
    (void)state;
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i] ? itest_tier_sizes[i] : 1;
        unsigned char *p = hak_malloc(n);
        assert_non_null(p);
        assert_true(aligned_to(p, 16));
        assert_true(hak_malloc_usable_size(p) >= n);
        assert_int_equal(hak_owns(p), itest_hakmem_serves(n));
        itest_fill(p, n, n);
        p = hak_realloc(p, n * 2 + 1);
        assert_non_null(p);
        assert_int_equal(itest_check(p, n, n), -1);
        p = hak_reallocarray(p, n, 3);
        assert_non_null(p);
        assert_int_equal(itest_check(p, n, n), -1);
        hak_free(p);

        p = hak_calloc(n, 1);
        assert_non_null(p);
        assert_true(itest_all_zero(p, n));
        /* Linked in, hakmem is also the program's malloc: the two names mix. */
        free(p);

        void *q = NULL;
        assert_int_equal(hak_posix_memalign(&q, 256, n), 0);
        assert_true(aligned_to(q, 256));
        hak_free(q);
        q = hak_aligned_alloc(4096, n);
        assert_true(aligned_to(q, 4096));
        hak_free(q);
        q = hak_memalign(64, n);
        assert_true(aligned_to(q, 64));
        hak_free(q);
        q = hak_valloc(n);
        assert_true(aligned_to(q, page_size()));
        hak_free(q);
        q = hak_pvalloc(n);
        assert_true(aligned_to(q, page_size()));
        assert_true(hak_malloc_usable_size(q) >= (n + page_size() - 1) / page_size() * page_size());
        hak_free(q);

        q = malloc(n);
        assert_int_equal(hak_owns(q), itest_hakmem_serves(n));
        hak_free(q);
    }
    hak_free(NULL);
    assert_int_equal(hak_malloc_usable_size(NULL), 0);
    errno = 0;
    assert_null(hak_calloc(v_size_max, 2));
    assert_int_equal(errno, ENOMEM);
    void *q = (void *)&q;
    assert_int_equal(hak_posix_memalign(&q, 24, 8), EINVAL);
}

static int a_static_object;

static void test_owns_foreign_addresses(void **state)
{
    (void)state;
    int on_stack = 0;
    assert_int_equal(hak_owns(NULL), 0);
    assert_int_equal(hak_owns(&on_stack), 0);
    assert_int_equal(hak_owns(&a_static_object), 0);
    assert_int_equal(hak_owns((void *)test_owns_foreign_addresses), 0);
    assert_int_equal(hak_owns((void *)(uintptr_t)16), 0);
    assert_int_equal(hak_owns((void *)(uintptr_t)0x7ffffffff000ull), 0);
    assert_int_equal(hak_owns((void *)UINTPTR_MAX), 0);
}

/* hakmem.h: a large block counts by its exact start, and only while live. */
static void test_owns_large_only_while_live(void **state)
{
    (void)state;
    for (size_t n = 2 * MiB; n <= 64 * MiB; n *= 4) {
        char *p = malloc(n);
        assert_int_equal(hak_owns(p), 1);
        assert_int_equal(hak_owns(p + 16), 0);
        free(p);
        assert_int_equal(hak_owns(p), 0);
    }
}

/* A pointer from glibc's own malloc (reached by its internal name) reaches
 * hakmem's free/realloc/malloc_usable_size: it must be handed on, not
 * crash or be taken as hakmem's. */
static void test_foreign_pointer_from_libc(void **state)
{
    (void)state;
    for (size_t n = 8; n <= 4 * MiB; n *= 4) {
        unsigned char *p = __libc_malloc(n);
        assert_non_null(p);
        assert_int_equal(hak_owns(p), 0);
        itest_fill(p, n, n);
        assert_true(malloc_usable_size(p) >= n);
        p = realloc(p, n * 2);
        assert_non_null(p);
        assert_int_equal(itest_check(p, n, n), -1);
        free(p);
    }
    void *p = __libc_malloc(100);
    assert_non_null(p);
    free(p);
}

/* hak_purge between frees must leave live blocks alone. */
static void test_purge_keeps_live_blocks(void **state)
{
    (void)state;
    enum { N = 400 };
    void *p[N];
    size_t n[N];
    uint64_t rng = 7;
    for (int i = 0; i < N; i++) {
        n[i] = itest_rand_size(&rng, 3 * MiB);
        p[i] = malloc(n[i]);
        assert_non_null(p[i]);
        itest_fill_addr(p[i], n[i]);
    }
    for (int i = 0; i < N; i += 2)
        free(p[i]);
    hak_purge();
    for (int i = 1; i < N; i += 2)
        assert_int_equal(itest_check_addr(p[i], n[i]), -1);
    for (int i = 0; i < N; i += 2) {
        p[i] = malloc(n[i]);
        assert_non_null(p[i]);
        itest_fill_addr(p[i], n[i]);
    }
    hak_purge();
    for (int i = 0; i < N; i++) {
        assert_int_equal(itest_check_addr(p[i], n[i]), -1);
        free(p[i]);
    }
    hak_purge();
}

/* ---------------------------------------------------------------- RLIMIT_AS */

/* In a child with its address space capped at the current size + 64 MiB: a
 * 1 GiB request fails with ENOMEM, small requests still succeed, running
 * the space out fails cleanly with ENOMEM, and after freeing everything
 * allocation works again. */
static void rlimit_child(void)
{
    /* Touch every tier first, so that first-use set-up is not what fails. */
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++)
        free(malloc(itest_tier_sizes[i] + 1));

    size_t vm = itest_vmsize();
    CHILD_CHECK(vm > 0, 10, "cannot read /proc/self/statm");
    struct rlimit rl = {vm + 64 * MiB, vm + 64 * MiB};
    CHILD_CHECK(setrlimit(RLIMIT_AS, &rl) == 0, 11, "setrlimit: %s", strerror(errno));

    errno = 0;
    void *big = malloc(GiB);
    CHILD_CHECK(big == NULL, 12, "malloc(1 GiB) succeeded under RLIMIT_AS");
    CHILD_CHECK(errno == ENOMEM, 13, "malloc(1 GiB) errno %d", errno);
    errno = 0;
    big = calloc(GiB / 16, 16);
    CHILD_CHECK(big == NULL && errno == ENOMEM, 14, "calloc(1 GiB) %p errno %d", big, errno);
    void *out = NULL;
    CHILD_CHECK(posix_memalign(&out, 1 * MiB, GiB) == ENOMEM, 15,
                "posix_memalign 1 GiB did not fail with ENOMEM");

    for (int i = 0; i < 1000; i++) {
        size_t n = 1 + (size_t)i * 37 % 2000;
        void *p = malloc(n);
        CHILD_CHECK(p != NULL, 16, "small malloc(%zu) failed after a refused 1 GiB", n);
        itest_fill(p, n, (uint64_t)i);
        CHILD_CHECK(itest_check(p, n, (uint64_t)i) == -1, 17, "small block corrupted");
        free(p);
    }

    /* Run the address space out in every tier.  The allocator may hold
     * address space reserved before the limit was set, so exhaustion can
     * take more than the 64 MiB of headroom: MAX leaves room for 1 GiB. */
    const size_t step[] = {4 * MiB, 512 * KiB, 16 * KiB, 1000};
    for (size_t s = 0; s < sizeof step / sizeof step[0]; s++) {
        enum { MAX = 1 << 20 };
        static void *held[MAX];
        size_t k = 0;
        errno = 0;
        while (k < MAX) {
            void *p = malloc(step[s]);
            if (p == NULL)
                break;
            memset(p, 1, step[s] < 4096 ? step[s] : 4096);
            held[k++] = p;
        }
        CHILD_CHECK(k < MAX, 18, "%zu-byte blocks never ran out (%zu held)", step[s], k);
        CHILD_CHECK(errno == ENOMEM, 19, "exhaustion with %zu-byte blocks: errno %d", step[s],
                    errno);
        CHILD_CHECK(k > 0, 20, "not a single %zu-byte block fitted", step[s]);
        while (k > 0)
            free(held[--k]);
        hak_purge();
        void *p = malloc(step[s]);
        CHILD_CHECK(p != NULL, 21, "malloc(%zu) fails after freeing everything", step[s]);
        free(p);
        p = malloc(100);
        CHILD_CHECK(p != NULL, 22, "malloc(100) fails after exhaustion");
        free(p);
    }
    _exit(0);
}

static void test_enomem_under_rlimit_as(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(60);
        rlimit_child();
    }
    int st = itest_wait_status(pid);
    if (st != 0)
        fail_msg("RLIMIT_AS child exited with status %d (see its message above)", st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malloc_every_tier),
        cmocka_unit_test(test_free_null_and_realloc_null),
        cmocka_unit_test(test_free_preserves_errno),
        cmocka_unit_test(test_blocks_do_not_overlap),
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_calloc_zeroes_reused_memory),
        cmocka_unit_test(test_calloc_overflow),
        cmocka_unit_test(test_reallocarray),
        cmocka_unit_test(test_huge_requests_fail_with_enomem),
        cmocka_unit_test(test_posix_memalign_einval),
        cmocka_unit_test(test_aligned_alloc_and_memalign_einval),
        cmocka_unit_test(test_small_alignments),
        cmocka_unit_test(test_valloc_pvalloc),
        cmocka_unit_test(test_usable_size_is_really_usable),
        cmocka_unit_test(test_hak_api),
        cmocka_unit_test(test_owns_foreign_addresses),
        cmocka_unit_test(test_owns_large_only_while_live),
        cmocka_unit_test(test_foreign_pointer_from_libc),
        cmocka_unit_test(test_purge_keeps_live_blocks),
        cmocka_unit_test(test_enomem_under_rlimit_as),
    };
    return cmocka_run_group_tests_name("integration.api", tests, NULL, NULL);
}
