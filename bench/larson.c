/* larson: a server simulation in the style of Larson and Krishnan's benchmark.
 *
 * T threads each own an array of blocks and replace random ones (free, then
 * malloc a new random size).  After a round a thread exits and a new thread
 * takes its array over, shifted by one: thread i of round r+1 gets what thread
 * i-1 of round r allocated, so most frees are of blocks another (often exited)
 * thread allocated.  An op is one free plus one malloc.
 */
#include <pthread.h>

#include "bench.h"

typedef struct {
    void **blocks;
    size_t *sizes;
} larson_array;

typedef struct {
    larson_array *array;
    uint64_t seed;
    size_t nblocks, lo, hi;
    uint64_t ops;
} larson_job;

static void *larson_round(void *arg)
{
    larson_job *job = arg;
    larson_array *a = job->array;
    uint64_t s = job->seed;
    for (uint64_t i = 0; i < job->ops; i++) {
        size_t k = (size_t)(bench_rand(&s) % job->nblocks);
        bench_free_checked(a->blocks[k], a->sizes[k]);
        a->sizes[k] = bench_size(&s, job->lo, job->hi);
        a->blocks[k] = bench_alloc_filled(a->sizes[k]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    double threads = 2, seconds = 2, nblocks = 5000, round_ops = 50000, lo = 8, hi = 1000, seed = 1;
    const bench_opt opts[] = {
        {'t', "threads", &threads},
        {'s', "seconds to run (whole rounds)", &seconds},
        {'n', "blocks per thread", &nblocks},
        {'r', "ops per thread and round, then a new thread takes over", &round_ops},
        {'m', "smallest block (bytes, >= 8)", &lo},
        {'M', "largest block (bytes)", &hi},
        {'S', "random seed", &seed},
    };
    bench_parse(argc, argv, "Larson-style server simulation: threads replace random blocks; "
                "each round's blocks pass to the next round's successor thread.",
                opts, sizeof opts / sizeof opts[0]);
    size_t nt = (size_t)threads, nb = (size_t)nblocks;
    if (nt < 1 || nb < 1 || lo < 8 || hi < lo || round_ops < 1)
        bench_usage(argv[0], "bad parameters", opts, sizeof opts / sizeof opts[0]);

    larson_array *arrays = bench_malloc(nt * sizeof *arrays);
    uint64_t s = bench_seed((uint64_t)seed, 0);
    for (size_t t = 0; t < nt; t++) {
        arrays[t].blocks = bench_malloc(nb * sizeof(void *));
        arrays[t].sizes = bench_malloc(nb * sizeof(size_t));
        for (size_t k = 0; k < nb; k++) {
            arrays[t].sizes[k] = bench_size(&s, (size_t)lo, (size_t)hi);
            arrays[t].blocks[k] = bench_alloc_filled(arrays[t].sizes[k]);
        }
    }

    pthread_t *tids = bench_malloc(nt * sizeof *tids);
    larson_job *jobs = bench_malloc(nt * sizeof *jobs);
    uint64_t ops = 0, rounds = 0;
    double start = bench_now(), elapsed;
    do {
        for (size_t t = 0; t < nt; t++) {
            jobs[t] = (larson_job){&arrays[(t + rounds) % nt], bench_seed((uint64_t)seed, rounds * nt + t + 1),
                                   nb, (size_t)lo, (size_t)hi, (uint64_t)round_ops};
            if (pthread_create(&tids[t], NULL, larson_round, &jobs[t]) != 0) {
                fprintf(stderr, "error: pthread_create failed\n");
                return 1;
            }
        }
        for (size_t t = 0; t < nt; t++)
            pthread_join(tids[t], NULL);
        ops += nt * (uint64_t)round_ops;
        rounds++;
        elapsed = bench_now() - start;
    } while (elapsed < seconds);

    for (size_t t = 0; t < nt; t++) {
        for (size_t k = 0; k < nb; k++)
            bench_free_checked(arrays[t].blocks[k], arrays[t].sizes[k]);
        free(arrays[t].blocks);
        free(arrays[t].sizes);
    }
    char line[256];
    snprintf(line, sizeof line, "threads=%zu ops=%llu rounds=%llu seconds=%.3f ops_per_sec=%.0f", nt,
             (unsigned long long)ops, (unsigned long long)rounds, elapsed, (double)ops / elapsed);
    bench_report("larson", line);
    printf("larson: %zu threads, %.2f M ops/s (free+malloc of 8-1000 B), %llu rounds\n", nt,
           (double)ops / elapsed / 1e6, (unsigned long long)rounds);
    free(tids);
    free(jobs);
    free(arrays);
    return 0;
}
