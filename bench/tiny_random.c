/* tiny_random: random mixed tiny sizes, single-threaded.
 *
 * A working set of N slots is filled with blocks of 16-1024 B; each op
 * frees a random slot's block (checking it) and allocates a new random size
 * in its place.  4 Ki slots stay in the caches; 32 Ki slots (about 17 MiB)
 * do not, so the allocator's metadata misses too.
 */
#include "bench.h"

int main(int argc, char **argv)
{
    double nslots = 4096, seconds = 2, lo = 16, hi = 1024, seed = 1;
    const bench_opt opts[] = {
        {'n', "working set (blocks)", &nslots},
        {'s', "seconds to run", &seconds},
        {'m', "smallest block (bytes, >= 8)", &lo},
        {'M', "largest block (bytes)", &hi},
        {'S', "random seed", &seed},
    };
    bench_parse(argc, argv, "Random mixed tiny sizes, one thread: replace random blocks of a working set.",
                opts, sizeof opts / sizeof opts[0]);
    size_t n = (size_t)nslots;
    if (n < 1 || lo < 8 || hi < lo)
        bench_usage(argv[0], "bad parameters", opts, sizeof opts / sizeof opts[0]);

    void **blocks = bench_malloc(n * sizeof *blocks);
    size_t *sizes = bench_malloc(n * sizeof *sizes);
    uint64_t s = bench_seed((uint64_t)seed, 0);
    for (size_t k = 0; k < n; k++) {
        sizes[k] = bench_size(&s, (size_t)lo, (size_t)hi);
        blocks[k] = bench_alloc_filled(sizes[k]);
    }

    uint64_t ops = 0;
    double start = bench_now(), elapsed;
    do {
        for (int i = 0; i < 4096; i++) {
            size_t k = (size_t)(bench_rand(&s) % n);
            bench_free_checked(blocks[k], sizes[k]);
            sizes[k] = bench_size(&s, (size_t)lo, (size_t)hi);
            blocks[k] = bench_alloc_filled(sizes[k]);
        }
        ops += 4096;
        elapsed = bench_now() - start;
    } while (elapsed < seconds);

    for (size_t k = 0; k < n; k++)
        bench_free_checked(blocks[k], sizes[k]);
    free(blocks);
    free(sizes);
    char line[256];
    snprintf(line, sizeof line, "working_set=%zu ops=%llu seconds=%.3f ops_per_sec=%.0f", n,
             (unsigned long long)ops, elapsed, (double)ops / elapsed);
    bench_report("tiny_random", line);
    printf("tiny_random: %zu blocks of %g-%g B, %.2f M ops/s (free+malloc)\n", n, lo, hi,
           (double)ops / elapsed / 1e6);
    return 0;
}
