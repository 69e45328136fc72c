/* bench.h: what every workload in bench/ shares.
 *
 * Each workload is one small program, linked against nothing but libc and
 * pthreads: the allocator under test is chosen by LD_PRELOAD (bench/compare).
 * It prints one machine-readable line and one line for people:
 *
 *     bench=larson threads=2 ops=... seconds=... ops_per_sec=... peak_rss_kb=... rss_kb=...
 *     larson: 2 threads, 12.3 M ops/s, peak RSS 4.5 MiB
 *
 * Every block carries a pattern derived from a key (its address and size, or
 * a chain's identity for realloc) that is checked before the block is freed;
 * a mismatch prints where and exits with status 1.  The pattern covers the
 * first 64 bytes, one word in every 4 KiB and the last 8 bytes: enough to
 * catch overlapping blocks, a lost realloc copy or a scribbled header, and
 * it touches every page of a block, without turning a mid-size workload into
 * a memset benchmark.
 */
#ifndef HAK_BENCH_H
#define HAK_BENCH_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- options */

/* "-x VALUE" options: each workload lists its own in a table and calls
 * bench_parse, which rejects unknown names and malformed numbers. */
typedef struct {
    char name;
    const char *help;
    double *value;
} bench_opt;

static inline void bench_usage(const char *prog, const char *what, const bench_opt *opts, int n)
{
    fprintf(stderr, "usage: %s [options]\n%s\n", prog, what);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "  -%c N  %s (default %g)\n", opts[i].name, opts[i].help, *opts[i].value);
    exit(2);
}

static inline void bench_parse(int argc, char **argv, const char *what, const bench_opt *opts, int n)
{
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        int i = 0;
        if (arg[0] == '-' && arg[1] != '\0' && arg[2] == '\0')
            for (; i < n && opts[i].name != arg[1]; i++)
                ;
        if (arg[0] != '-' || i == n || a + 1 == argc)
            bench_usage(argv[0], what, opts, n);
        char *end;
        errno = 0;
        double v = strtod(argv[++a], &end);
        if (errno || *end || end == argv[a] || v < 0)
            bench_usage(argv[0], what, opts, n);
        *opts[i].value = v;
    }
}

/* ---------------------------------------------------------------- time, random */

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void bench_sleep(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* xorshift64*: fast, and the same sequence under every allocator. */
static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t bench_seed(uint64_t seed, uint64_t stream)
{
    uint64_t s = (seed + 1) * 0x9E3779B97F4A7C15ULL ^ (stream + 1) * 0xD1B54A32D192ED03ULL;
    return s ? s : 1;
}

/* A size in [lo, hi], uniform. */
static inline size_t bench_size(uint64_t *s, size_t lo, size_t hi)
{
    return lo + (size_t)(bench_rand(s) % (hi - lo + 1));
}

/* ---------------------------------------------------------------- patterns */

static inline uint64_t bench_word(uint64_t key, size_t off)
{
    uint64_t x = (key ^ (uint64_t)off) * 0x9E3779B97F4A7C15ULL;
    return x ^ (x >> 31);
}

/* The key of an ordinary block: its address and size, so that two live
 * blocks that overlap overwrite each other's words. */
static inline uint64_t bench_key(const void *p, size_t size)
{
    return (uint64_t)(uintptr_t)p ^ ((uint64_t)size << 44) ^ (uint64_t)size;
}

/* The offsets a pattern covers, from 0 in order; SIZE_MAX after the last.
 * SIZE is at least 8. */
static inline size_t bench_next_off(size_t off, size_t size)
{
    size_t last = (size - 8) & ~(size_t)7;
    if (off >= last)
        return SIZE_MAX;
    size_t next = off < 56 ? off + 8 : (off + 4096) & ~(size_t)4095;
    return next < last ? next : last;
}

static inline void bench_fill_key(void *p, size_t size, uint64_t key)
{
    for (size_t off = 0; off != SIZE_MAX; off = bench_next_off(off, size)) {
        uint64_t w = bench_word(key, off);
        memcpy((char *)p + off, &w, 8);
    }
}

__attribute__((cold, noinline, unused)) static void bench_fail(const char *what, const void *p, size_t size, size_t off, uint64_t got,
                       uint64_t want)
{
    fprintf(stderr,
            "error: %s: block %p of %zu bytes: word at offset %zu is 0x%016llx, expected "
            "0x%016llx\n",
            what, p, size, off, (unsigned long long)got, (unsigned long long)want);
    exit(1);
}

/* Checks the words a block of SIZE bytes filled with KEY carries, up to
 * LIMIT bytes (a realloc keeps only the smaller of its two sizes). */
static inline void bench_check_key(const void *p, size_t size, size_t limit, uint64_t key,
                                   const char *what)
{
    for (size_t off = 0; off != SIZE_MAX; off = bench_next_off(off, size)) {
        if (off + 8 > limit)
            break;
        uint64_t w;
        memcpy(&w, (const char *)p + off, 8);
        if (w != bench_word(key, off))
            bench_fail(what, p, size, off, w, bench_word(key, off));
    }
}

/* malloc that fails loudly: a workload never runs on without its block. */
static inline void *bench_malloc(size_t size)
{
    void *p = malloc(size);
    if (!p) {
        fprintf(stderr, "error: malloc(%zu) returned NULL\n", size);
        exit(1);
    }
    return p;
}

static inline void *bench_alloc_filled(size_t size)
{
    void *p = bench_malloc(size);
    bench_fill_key(p, size, bench_key(p, size));
    return p;
}

static inline void bench_free_checked(void *p, size_t size)
{
    bench_check_key(p, size, size, bench_key(p, size), "free");
    free(p);
}

/* ---------------------------------------------------------------- memory */

static inline long bench_peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static inline long bench_rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---------------------------------------------------------------- threads */

/* The part of a workload's per-thread job that bench_run_jobs uses: a job
 * struct starts with one. */
typedef struct bench_job {
    pthread_t tid;
    uint64_t ops; /* set by the thread when it sees *stop */
} bench_job;

/* Runs fn on nt jobs (each `stride` bytes apart, starting with a bench_job)
 * for `seconds`, then sets *stop and joins them: the elapsed seconds, the
 * ops summed into *ops; exits if a thread cannot be started. */
static inline double bench_run_jobs(void *jobs, size_t stride, size_t nt, void *(*fn)(void *),
                                    atomic_int *stop, double seconds, uint64_t *ops)
{
    double start = bench_now();
    for (size_t t = 0; t < nt; t++) {
        bench_job *job = (bench_job *)((char *)jobs + t * stride);
        if (pthread_create(&job->tid, NULL, fn, job) != 0) {
            fprintf(stderr, "error: pthread_create failed\n");
            exit(1);
        }
    }
    bench_sleep(seconds);
    atomic_store(stop, 1);
    double elapsed = bench_now() - start;
    *ops = 0;
    for (size_t t = 0; t < nt; t++) {
        bench_job *job = (bench_job *)((char *)jobs + t * stride);
        pthread_join(job->tid, NULL);
        *ops += job->ops;
    }
    return elapsed;
}

/* ---------------------------------------------------------------- report */

/* The machine-readable line: "bench=NAME" then the caller's fields, then
 * the memory figures every workload reports. */
static inline void bench_report(const char *name, const char *fields)
{
    printf("bench=%s %s peak_rss_kb=%ld rss_kb=%ld\n", name, fields, bench_peak_rss_kb(),
           bench_rss_kb());
    fflush(stdout);
}

#endif
