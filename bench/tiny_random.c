/* tiny_random: random mixed tiny sizes, each thread on its own blocks.
 *
 * Each thread fills a working set of N slots with blocks of 16-1024 B; each
 * op frees a random slot's block (checking it) and allocates a new random
 * size in its place.  4 Ki slots stay in the caches; 32 Ki slots (about
 * 17 MiB) do not, so the allocator's metadata misses too.  With -t T every
 * thread does the same (weak scaling: T times the work of one thread); no
 * block crosses threads.
 */
#include <pthread.h>

#include "bench.h"

typedef struct {
    bench_job base; /* first: bench_run_jobs */
    uint64_t seed;
    size_t nslots, lo, hi;
} tiny_job;

static atomic_int tiny_stop;

static void *tiny_thread(void *arg)
{
    tiny_job *job = arg;
    size_t n = job->nslots;
    void **blocks = bench_malloc(n * sizeof *blocks);
    size_t *sizes = bench_malloc(n * sizeof *sizes);
    uint64_t s = job->seed, ops = 0;
    for (size_t k = 0; k < n; k++) {
        sizes[k] = bench_size(&s, job->lo, job->hi);
        blocks[k] = bench_alloc_filled(sizes[k]);
    }
    while (!atomic_load_explicit(&tiny_stop, memory_order_relaxed)) {
        for (int i = 0; i < 4096; i++) {
            size_t k = (size_t)(bench_rand(&s) % n);
            bench_free_checked(blocks[k], sizes[k]);
            sizes[k] = bench_size(&s, job->lo, job->hi);
            blocks[k] = bench_alloc_filled(sizes[k]);
        }
        ops += 4096;
    }
    for (size_t k = 0; k < n; k++)
        bench_free_checked(blocks[k], sizes[k]);
    free(blocks);
    free(sizes);
    job->base.ops = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    double threads = 1, nslots = 4096, seconds = 2, lo = 16, hi = 1024, seed = 1;
    const bench_opt opts[] = {
        {'t', "threads, each with its own working set", &threads},
        {'n', "working set per thread (blocks)", &nslots},
        {'s', "seconds to run", &seconds},
        {'m', "smallest block (bytes, >= 8)", &lo},
        {'M', "largest block (bytes)", &hi},
        {'S', "random seed", &seed},
    };
    bench_parse(
        argc, argv,
        "Random mixed tiny sizes: each thread replaces random blocks of its own working set.", opts,
        sizeof opts / sizeof opts[0]);
    size_t nt = (size_t)threads, n = (size_t)nslots;
    if (nt < 1 || n < 1 || lo < 8 || hi < lo)
        bench_usage(argv[0], "bad parameters", opts, sizeof opts / sizeof opts[0]);

    tiny_job *jobs = bench_malloc(nt * sizeof *jobs);
    for (size_t t = 0; t < nt; t++)
        jobs[t] = (tiny_job){
            .seed = bench_seed((uint64_t)seed, t), .nslots = n, .lo = (size_t)lo, .hi = (size_t)hi};
    uint64_t ops;
    double elapsed = bench_run_jobs(jobs, sizeof *jobs, nt, tiny_thread, &tiny_stop, seconds, &ops);
    free(jobs);
    char line[256];
    snprintf(line, sizeof line,
             "threads=%zu working_set=%zu ops=%llu seconds=%.3f ops_per_sec=%.0f", nt, n,
             (unsigned long long)ops, elapsed, (double)ops / elapsed);
    bench_report("tiny_random", line);
    printf("tiny_random: %zu threads x %zu blocks of %g-%g B, %.2f M ops/s (free+malloc)\n", nt, n,
           lo, hi, (double)ops / elapsed / 1e6);
    return 0;
}
