/* pairs: N malloc+free pairs of one size on one thread, for instruction
 * counts under callgrind (bench/compare runs it with N and with 0 pairs and
 * divides the difference by N, which removes start-up and exit).
 *
 * A warm-up of 1000 pairs runs in both cases, so the difference is the
 * steady state: the allocator's fast paths plus this loop (about 5
 * instructions a pair).  The pointer escapes through an empty asm so the
 * compiler cannot pair the calls away.
 */
#include "bench.h"

static void pairs_run(size_t size, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        void *p = malloc(size);
        __asm__ volatile("" : : "r"(p) : "memory");
        free(p);
    }
}

int main(int argc, char **argv)
{
    double size = 16, n = 100000;
    const bench_opt opts[] = {
        {'z', "block size (bytes)", &size},
        {'n', "pairs after the warm-up", &n},
    };
    bench_parse(argc, argv, "malloc+free pairs of one size, for callgrind.", opts, sizeof opts / sizeof opts[0]);
    pairs_run((size_t)size, 1000);
    double start = bench_now();
    pairs_run((size_t)size, (uint64_t)n);
    double elapsed = bench_now() - start;
    char line[256];
    snprintf(line, sizeof line, "size=%g ops=%.0f seconds=%.6f ops_per_sec=%.0f", size, n, elapsed,
             n > 0 && elapsed > 0 ? n / elapsed : 0);
    bench_report("pairs", line);
    return 0;
}
