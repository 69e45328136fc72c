/* mid_large_mt: mid-size blocks, several threads, each on its own blocks.
 *
 * The workload of the earlier hakmem's bench_mid_large_mt (seeds/002): each
 * thread owns W slots; an op picks a random slot and frees its block if it
 * has one (checking it), or else allocates one of 2^13..2^15 bytes plus up
 * to 2 KiB (8-34 KiB, so the top third crosses 32 KiB).  About half the
 * slots are full at any time.  An op is one malloc or one free.
 */
#include <pthread.h>

#include "bench.h"

typedef struct {
    bench_job base; /* first: bench_run_jobs */
    uint64_t seed;
    size_t nslots;
} mid_job;

static atomic_int mid_stop;

static size_t mid_size(uint64_t *s)
{
    uint64_t r = bench_rand(s);
    return ((size_t)1 << (13 + r % 3)) + (size_t)((r >> 8) & 0x7FF);
}

static void *mid_thread(void *arg)
{
    mid_job *job = arg;
    uint64_t s = job->seed, ops = 0;
    void **blocks = calloc(job->nslots, sizeof *blocks);
    size_t *sizes = bench_malloc(job->nslots * sizeof *sizes);
    if (!blocks) {
        fprintf(stderr, "error: calloc failed\n");
        exit(1);
    }
    while (!atomic_load_explicit(&mid_stop, memory_order_relaxed)) {
        for (int i = 0; i < 1024; i++) {
            size_t k = (size_t)(bench_rand(&s) % job->nslots);
            if (blocks[k]) {
                bench_free_checked(blocks[k], sizes[k]);
                blocks[k] = NULL;
            } else {
                sizes[k] = mid_size(&s);
                blocks[k] = bench_alloc_filled(sizes[k]);
            }
        }
        ops += 1024;
    }
    for (size_t k = 0; k < job->nslots; k++)
        if (blocks[k])
            bench_free_checked(blocks[k], sizes[k]);
    free(blocks);
    free(sizes);
    job->base.ops = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    double threads = 2, seconds = 2, nslots = 2048, seed = 42;
    const bench_opt opts[] = {
        {'t', "threads", &threads},
        {'s', "seconds to run", &seconds},
        {'n', "slots per thread (working set)", &nslots},
        {'S', "random seed", &seed},
    };
    bench_parse(argc, argv, "Mid-large multi-threaded: 8-34 KiB blocks, each thread on its own slots.",
                opts, sizeof opts / sizeof opts[0]);
    size_t nt = (size_t)threads;
    if (nt < 1 || nslots < 1)
        bench_usage(argv[0], "bad parameters", opts, sizeof opts / sizeof opts[0]);

    mid_job *jobs = bench_malloc(nt * sizeof *jobs);
    for (size_t t = 0; t < nt; t++)
        jobs[t] = (mid_job){.seed = bench_seed((uint64_t)seed, t), .nslots = (size_t)nslots};
    uint64_t ops;
    double elapsed = bench_run_jobs(jobs, sizeof *jobs, nt, mid_thread, &mid_stop, seconds, &ops);
    free(jobs);
    char line[256];
    snprintf(line, sizeof line, "threads=%zu working_set=%g ops=%llu seconds=%.3f ops_per_sec=%.0f", nt,
             nslots, (unsigned long long)ops, elapsed, (double)ops / elapsed);
    bench_report("mid_large_mt", line);
    printf("mid_large_mt: %zu threads x %g slots of 8-34 KiB, %.2f M ops/s (malloc or free)\n", nt, nslots,
           (double)ops / elapsed / 1e6);
    return 0;
}
