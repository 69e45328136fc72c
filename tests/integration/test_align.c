/*
 * Alignment of every result of every entry point: plain requests are 16-byte
 * aligned at any size, and every power-of-two alignment from 1 B to 4 MiB is
 * honoured by posix_memalign, aligned_alloc and memalign, at sizes across
 * all tiers, with other blocks being allocated and freed in between.
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

static int aligned_to(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* ---------------------------------------------------------------- interleaved traffic */

/* Blocks of random sizes live alongside the aligned ones and are freed and
 * replaced between aligned requests, so aligned blocks are carved from
 * slabs and chunks in every state, not only fresh ones. */
enum { NOISE = 256 };
static void *noise[NOISE];
static size_t noise_size[NOISE];
static uint64_t noise_rng = 12345;

static void noise_step(void)
{
    unsigned i = (unsigned)(itest_rand(&noise_rng) % NOISE);
    if (noise[i] != NULL) {
        if (!itest_check_ends(noise[i], noise_size[i]))
            fail_msg("noise block %p (%zu bytes) was overwritten", noise[i], noise_size[i]);
        free(noise[i]);
    }
    noise_size[i] = itest_rand_size(&noise_rng, 2 * MiB);
    noise[i] = malloc(noise_size[i]);
    assert_non_null(noise[i]);
    itest_fill_ends(noise[i], noise_size[i]);
}

static void noise_release(void)
{
    for (int i = 0; i < NOISE; i++) {
        if (noise[i] != NULL) {
            if (!itest_check_ends(noise[i], noise_size[i]))
                fail_msg("noise block %p (%zu bytes) was overwritten", noise[i], noise_size[i]);
            free(noise[i]);
            noise[i] = NULL;
        }
    }
}

/* ---------------------------------------------------------------- checks */

typedef enum { VIA_POSIX_MEMALIGN, VIA_ALIGNED_ALLOC, VIA_MEMALIGN, VIA_HAK_MEMALIGN } via;
static const char *const via_name[] = {"posix_memalign", "aligned_alloc", "memalign",
                                       "hak_posix_memalign"};

static void *alloc_aligned(via how, size_t a, size_t n)
{
    void *p = NULL;
    switch (how) {
    case VIA_POSIX_MEMALIGN: {
        /* posix_memalign needs a multiple of sizeof(void *). */
        size_t pa = a < sizeof(void *) ? sizeof(void *) : a;
        int rc = posix_memalign(&p, pa, n);
        if (rc != 0)
            fail_msg("posix_memalign(%zu, %zu) returned %d", pa, n, rc);
        break;
    }
    case VIA_ALIGNED_ALLOC:
        p = aligned_alloc(a, n);
        break;
    case VIA_MEMALIGN:
        p = memalign(a, n);
        break;
    case VIA_HAK_MEMALIGN: {
        size_t pa = a < sizeof(void *) ? sizeof(void *) : a;
        if (hak_posix_memalign(&p, pa, n) != 0)
            p = NULL;
        break;
    }
    }
    return p;
}

static void check_block(via how, size_t a, size_t n, void *p)
{
    if (p == NULL) {
        if (n == 0)
            return; /* allowed for size 0 */
        fail_msg("%s(alignment %zu, size %zu) returned NULL (errno %d)", via_name[how], a, n,
                 errno);
    }
    size_t want = a < 16 ? 16 : a;
    if (!aligned_to(p, want))
        fail_msg("%s(alignment %zu, size %zu) returned %p, not %zu-aligned", via_name[how], a, n, p,
                 want);
    size_t us = malloc_usable_size(p);
    if (us < n)
        fail_msg("%s(alignment %zu, size %zu): usable size %zu", via_name[how], a, n, us);
    if (hak_owns(p) != itest_hakmem_serves(n))
        fail_msg("%s(alignment %zu, size %zu): hak_owns(%p) is wrong", via_name[how], a, n, p);
}

/* ---------------------------------------------------------------- tests */

static void test_malloc_results_are_16_aligned(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 4 * KiB; n++) {
        void *p = malloc(n);
        if (p == NULL && n == 0)
            continue;
        assert_non_null(p);
        if (!aligned_to(p, 16))
            fail_msg("malloc(%zu) = %p", n, p);
        free(p);
    }
    enum { N = 2000 };
    static void *live[N];
    uint64_t rng = 99;
    for (int i = 0; i < N; i++) {
        size_t n = itest_rand_size(&rng, 4 * MiB);
        void *p = (i % 3 == 0) ? calloc(1, n) : (i % 3 == 1) ? malloc(n) : realloc(NULL, n);
        assert_non_null(p);
        if (!aligned_to(p, 16))
            fail_msg("allocation of %zu bytes = %p", n, p);
        live[i] = p;
        if (i % 4 == 3) {
            unsigned k = (unsigned)(itest_rand(&rng) % (unsigned)(i + 1));
            free(live[k]);
            live[k] = NULL;
        }
        if (i % 5 == 4) {
            unsigned k = (unsigned)(itest_rand(&rng) % (unsigned)(i + 1));
            if (live[k] != NULL) {
                live[k] = realloc(live[k], itest_rand_size(&rng, 4 * MiB));
                assert_non_null(live[k]);
                assert_true(aligned_to(live[k], 16));
            }
        }
    }
    for (int i = 0; i < N; i++)
        free(live[i]);
}

/* Every power-of-two alignment up to max_align, at every sampled size, via
 * every aligned entry point; blocks are kept live in a window and freed out
 * of order while noise traffic runs alongside. */
static void aligned_sweep(size_t max_align)
{
    enum { WINDOW = 16 };
    void *win[WINDOW] = {0};
    size_t win_size[WINDOW] = {0};
    unsigned w = 0;
    for (size_t a = 1; a <= max_align; a <<= 1) {
        for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
            size_t n = itest_tier_sizes[i];
            for (via how = VIA_POSIX_MEMALIGN; how <= VIA_HAK_MEMALIGN; how++) {
                void *p = alloc_aligned(how, a, n);
                check_block(how, a, n, p);
                if (p == NULL)
                    continue;
                size_t us = malloc_usable_size(p);
                itest_fill_ends(p, us);
                noise_step();
                unsigned slot = (w * 7 + 3) % WINDOW;
                w++;
                if (win[slot] != NULL) {
                    if (!itest_check_ends(win[slot], win_size[slot]))
                        fail_msg("aligned block %p (%zu usable bytes) was overwritten", win[slot],
                                 win_size[slot]);
                    free(win[slot]);
                }
                win[slot] = p;
                win_size[slot] = us;
            }
        }
    }
    for (int k = 0; k < WINDOW; k++) {
        if (win[k] != NULL) {
            assert_true(itest_check_ends(win[k], win_size[k]));
            free(win[k]);
        }
    }
    noise_release();
}

static void test_alignments_up_to_1mib(void **state)
{
    (void)state;
    aligned_sweep(1 * MiB);
}

static void test_alignments_2mib_and_4mib(void **state)
{
    (void)state;
    for (size_t a = 2 * MiB; a <= 4 * MiB; a <<= 1) {
        for (size_t n = 1; n <= 8 * MiB; n = n * 4 + 1000) {
            for (via how = VIA_POSIX_MEMALIGN; how <= VIA_HAK_MEMALIGN; how++) {
                void *p = alloc_aligned(how, a, n);
                check_block(how, a, n, p);
                itest_fill_ends(p, n);
                assert_true(itest_check_ends(p, n));
                free(p);
            }
        }
    }
}

/* Many aligned blocks of one alignment live at once: each is distinct,
 * aligned and intact. */
static void test_many_live_aligned_blocks(void **state)
{
    (void)state;
    enum { N = 300 };
    static void *p[N];
    static size_t n[N];
    uint64_t rng = 5;
    for (size_t a = 64; a <= 1 * MiB; a <<= 2) {
        for (int i = 0; i < N; i++) {
            n[i] = itest_rand_size(&rng, a >= 256 * KiB ? 64 * KiB : 1 * MiB);
            p[i] = aligned_alloc(a, n[i]);
            check_block(VIA_ALIGNED_ALLOC, a, n[i], p[i]);
            itest_fill_ends(p[i], n[i]);
            if (i % 3 == 2) {
                free(p[i - 1]);
                p[i - 1] = NULL;
            }
        }
        for (int i = 0; i < N; i++) {
            if (p[i] == NULL)
                continue;
            if (!itest_check_ends(p[i], n[i]))
                fail_msg("alignment %zu: block %d (%zu bytes) overwritten", a, i, n[i]);
            free(p[i]);
        }
    }
}

static void test_valloc_pvalloc_page_aligned(void **state)
{
    (void)state;
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++) {
        size_t n = itest_tier_sizes[i];
        void *p = valloc(n);
        void *q = pvalloc(n);
        noise_step();
        assert_non_null(p);
        assert_non_null(q);
        assert_true(aligned_to(p, pg));
        assert_true(aligned_to(q, pg));
        free(p);
        free(q);
    }
    noise_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malloc_results_are_16_aligned),
        cmocka_unit_test(test_alignments_up_to_1mib),
        cmocka_unit_test(test_alignments_2mib_and_4mib),
        cmocka_unit_test(test_many_live_aligned_blocks),
        cmocka_unit_test(test_valloc_pvalloc_page_aligned),
    };
    return cmocka_run_group_tests_name("integration.align", tests, NULL, NULL);
}
