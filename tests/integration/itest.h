/*
 * Helpers shared by the integration and stress tests: block patterns, RSS
 * figures, the sizes that cover every tier, and checks usable in a forked
 * child (where cmocka's longjmp-based asserts must not run).
 */
#ifndef HAK_ITEST_H
#define HAK_ITEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

/* Tier limits from src/size_classes.def: tiny <= 1 KiB, mid <= 32 KiB,
 * pool <= 1 MiB, large above. */
#define TIER_TINY_MAX (1 * KiB)
#define TIER_MID_MAX (32 * KiB)
#define TIER_POOL_MAX (1 * MiB)

/* Sizes on both sides of every tier boundary plus a few in the middle. */
static const size_t itest_tier_sizes[] = {
    0,       1,       8,           15,      16,          17,           24,
    31,      32,      48,          100,     128,         129,          255,
    256,     500,     512,         777,     1000,        1023,         1024,
    1025,    1100,    2048,        4095,    4096,        4097,         8000,
    16384,   30000,   32767,       32768,   32769,       40000,        65535,
    65536,   65537,   100000,      262144,  500000,      1048575,      1048576,
    1048577, 1500000, 2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 3 * MiB + 17, 4 * MiB,
};
#define ITEST_N_TIER_SIZES (sizeof itest_tier_sizes / sizeof itest_tier_sizes[0])

/* Calls that are meant to fail go through these, so that the compiler
 * neither folds them nor warns that the old block is used after a realloc
 * (after a failed realloc it is still valid). */
static void *(*volatile itest_realloc)(void *, size_t) = realloc;
static void *(*volatile itest_reallocarray)(void *, size_t, size_t) = reallocarray;

/* ---------------------------------------------------------------- random */

/* splitmix64: a small, seedable generator so that every thread and every run
 * is reproducible from its seed. */
/* Whether hakmem itself serves a request of n bytes: with HAKMEM_WRAP_L2=0
 * the mid and pool sizes (1 KiB < n <= 1 MiB) go to the next allocator. */
static inline int itest_hakmem_serves(size_t n)
{
    const char *wrap = getenv("HAKMEM_WRAP_L2");
    int l2 = n > TIER_TINY_MAX && n <= TIER_POOL_MAX;
    return !(wrap != NULL && wrap[0] == '0' && l2);
}

static inline uint64_t itest_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The n elements of `size` bytes (at most 64) at base, in a random order
 * (Fisher-Yates): frees in such an order empty slabs unevenly. */
static inline void itest_shuffle(void *base, size_t n, size_t size, uint64_t *rng)
{
    char *a = base, tmp[64];
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(itest_rand(rng) % i);
        memcpy(tmp, a + (i - 1) * size, size);
        memcpy(a + (i - 1) * size, a + j * size, size);
        memcpy(a + j * size, tmp, size);
    }
}

/* A size in [1, max], weighted to small: ~70% tiny, ~20% mid, ~8% pool,
 * ~2% large (when max allows). */
static inline size_t itest_rand_size(uint64_t *st, size_t max)
{
    uint64_t r = itest_rand(st);
    unsigned pick = (unsigned)(r % 100);
    size_t lim;
    if (pick < 70)
        lim = TIER_TINY_MAX;
    else if (pick < 90)
        lim = TIER_MID_MAX;
    else if (pick < 98)
        lim = TIER_POOL_MAX;
    else
        lim = 4 * MiB;
    if (lim > max)
        lim = max;
    return 1 + (size_t)((r >> 8) % lim);
}

/* ---------------------------------------------------------------- patterns */

static inline uint64_t itest_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    return x;
}

/* Byte i of the pattern for seed is byte i % 8 of the 64-bit word
 * itest_word(seed, i / 8), as memcpy lays it out: so a prefix of a pattern
 * is the pattern of the shorter length (realloc keeps prefixes). */
static inline uint64_t itest_word(uint64_t seed, size_t k)
{
    return itest_mix(seed | 1) + (uint64_t)k * 0x9E3779B97F4A7C15ull;
}

/* Fills n bytes at p with the pattern for seed.  The whole range is
 * written, so an allocator that hands out overlapping blocks is caught. */
static inline void itest_fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = (unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = itest_word(seed, i / 8);
        memcpy(b + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = itest_word(seed, i / 8);
        memcpy(b + i, &w, n - i);
    }
}

/* Returns the offset of the first byte that differs from itest_fill(p, n,
 * seed), or -1 if the range is intact. */
static inline long itest_check(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = itest_word(seed, i / 8);
        size_t len = n - i < 8 ? n - i : 8;
        if (memcmp(b + i, &w, len) != 0) {
            for (size_t k = 0; k < len; k++)
                if (b[i + k] != ((const unsigned char *)&w)[k])
                    return (long)(i + k);
        }
    }
    return -1;
}

/* The pattern of a block is derived from its address and size, so a block
 * that moved, or was confused with another, fails its check. */
static inline uint64_t itest_addr_seed(const void *p, size_t n)
{
    return (uint64_t)(uintptr_t)p * 0x100000001B3ull ^ (uint64_t)n;
}

static inline void itest_fill_addr(void *p, size_t n) { itest_fill(p, n, itest_addr_seed(p, n)); }

static inline long itest_check_addr(const void *p, size_t n)
{
    return itest_check(p, n, itest_addr_seed(p, n));
}

static inline int itest_all_zero(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

/* Blocks up to 64 KiB are written whole; bigger ones at both ends only
 * (4 KiB each), to keep tests fast: the pattern still proves both ends lie
 * inside the block and that no other block overlaps them. */
#define ITEST_END_BYTES (4 * KiB)
#define ITEST_WHOLE_MAX (64 * KiB)

static inline void itest_fill_ends(void *p, size_t n)
{
    if (n <= ITEST_WHOLE_MAX) {
        itest_fill_addr(p, n);
        return;
    }
    itest_fill(p, ITEST_END_BYTES, itest_addr_seed(p, n));
    itest_fill((char *)p + n - ITEST_END_BYTES, ITEST_END_BYTES, itest_addr_seed(p, n) + 1);
}

/* 1 if the block still holds what itest_fill_ends(p, n) wrote. */
static inline int itest_check_ends(const void *p, size_t n)
{
    if (n <= ITEST_WHOLE_MAX)
        return itest_check_addr(p, n) == -1;
    return itest_check(p, ITEST_END_BYTES, itest_addr_seed(p, n)) == -1 &&
           itest_check((const char *)p + n - ITEST_END_BYTES, ITEST_END_BYTES,
                       itest_addr_seed(p, n) + 1) == -1;
}

/* ---------------------------------------------------------------- process figures */

/* Resident set size in bytes, from /proc/self/statm (second field, pages). */
static inline size_t itest_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Virtual size in bytes, from /proc/self/statm (first field, pages). */
static inline size_t itest_vmsize(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu", &size) != 1)
        size = 0;
    fclose(f);
    return (size_t)size * (size_t)sysconf(_SC_PAGESIZE);
}

static inline double itest_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void itest_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---------------------------------------------------------------- forked children */

/* In a forked child: report the failed check on stderr (write(2), no stdio
 * buffers shared with the parent) and exit with a status that names it. */
static inline void itest_child_fail(int code, const char *where, int line, const char *cond,
                                    const char *fmt, ...)
{
    char buf[768];
    int n = snprintf(buf, sizeof buf, "child check failed (%s:%d): %s: ", where, line, cond);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += m < (int)(sizeof buf - (size_t)n - 1) ? m : (int)(sizeof buf - (size_t)n - 2);
    buf[n++] = '\n';
    if (write(2, buf, (size_t)n) < 0)
        _exit(code);
    _exit(code);
}

#define CHILD_CHECK(cond, code, ...)                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            itest_child_fail((code), __FILE__, __LINE__, #cond, __VA_ARGS__);                      \
    } while (0)

/* Waits for pid; returns its exit status, or 128 + signal number if it was
 * killed (a crash or the child's alarm). */
static inline int itest_wait_status(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        ;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

#endif /* HAK_ITEST_H */
