/* churn: tens of thousands of short-lived threads that each allocate.
 *
 * The main thread keeps T threads alive at a time; each allocates B blocks
 * of 16 B to 4 KiB, checks and frees three quarters of them, and hands the
 * rest to its parent, which checks and frees them after the join: every
 * thread's heap is set up, used, torn down, and freed into after its owner
 * has exited.  An op is one thread.
 */
#include <pthread.h>

#include "bench.h"

typedef struct {
    uint64_t seed;
    size_t nblocks;
    void **left;  /* handed to the parent */
    size_t *left_sizes;
    pthread_t tid;
} churn_job;

static void *churn_thread(void *arg)
{
    churn_job *job = arg;
    uint64_t s = job->seed;
    void *blocks[256];
    size_t sizes[256];
    size_t n = job->nblocks, kept = 0;
    for (size_t k = 0; k < n; k++) {
        sizes[k] = bench_size(&s, 16, (bench_rand(&s) & 7) ? 256 : 4096);
        blocks[k] = bench_alloc_filled(sizes[k]);
    }
    for (size_t k = 0; k < n; k++) {
        if (k % 4 == 3) {
            job->left[kept] = blocks[k];
            job->left_sizes[kept++] = sizes[k];
        } else {
            bench_free_checked(blocks[k], sizes[k]);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    double threads = 2, seconds = 2, nblocks = 64, seed = 1;
    const bench_opt opts[] = {
        {'t', "threads alive at a time", &threads},
        {'s', "seconds to run", &seconds},
        {'b', "blocks each thread allocates (<= 256)", &nblocks},
        {'S', "random seed", &seed},
    };
    bench_parse(argc, argv, "Thread churn: many short-lived threads that each allocate.", opts,
                sizeof opts / sizeof opts[0]);
    size_t nt = (size_t)threads, nb = (size_t)nblocks;
    if (nt < 1 || nb < 1 || nb > 256)
        bench_usage(argv[0], "bad parameters", opts, sizeof opts / sizeof opts[0]);

    churn_job *jobs = bench_malloc(nt * sizeof *jobs);
    for (size_t t = 0; t < nt; t++) {
        jobs[t].left = bench_malloc(nb * sizeof(void *));
        jobs[t].left_sizes = bench_malloc(nb * sizeof(size_t));
        jobs[t].nblocks = nb;
    }
    uint64_t created = 0;
    double start = bench_now(), elapsed;
    do {
        for (size_t t = 0; t < nt; t++) {
            jobs[t].seed = bench_seed((uint64_t)seed, created + t);
            if (pthread_create(&jobs[t].tid, NULL, churn_thread, &jobs[t]) != 0) {
                fprintf(stderr, "error: pthread_create failed\n");
                return 1;
            }
        }
        for (size_t t = 0; t < nt; t++) {
            pthread_join(jobs[t].tid, NULL);
            for (size_t k = 0; k < nb / 4; k++)
                bench_free_checked(jobs[t].left[k], jobs[t].left_sizes[k]);
        }
        created += nt;
        elapsed = bench_now() - start;
    } while (elapsed < seconds);

    for (size_t t = 0; t < nt; t++) {
        free(jobs[t].left);
        free(jobs[t].left_sizes);
    }
    free(jobs);
    char line[256];
    snprintf(line, sizeof line, "threads=%llu ops=%llu seconds=%.3f ops_per_sec=%.0f",
             (unsigned long long)created, (unsigned long long)created, elapsed, (double)created / elapsed);
    bench_report("churn", line);
    printf("churn: %llu threads of %zu blocks each, %.0f threads/s\n", (unsigned long long)created, nb,
           (double)created / elapsed);
    return 0;
}
