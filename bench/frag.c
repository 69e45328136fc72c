/* frag: fragmentation and memory returned to the OS.
 *
 * 1. Allocate G MiB of mixed sizes: by bytes about a third each of tiny
 *    (16 B-1 KiB), mid (1-32 KiB) and pool (32 KiB-1 MiB) blocks.
 * 2. Free 90% of the blocks at random (checking them), so most pages keep a
 *    few live blocks, then let the allocator settle (W seconds of sleep and
 *    a little allocation, since some allocators purge only as the program
 *    allocates) and read the RSS: does the freed memory go back?
 * 3. Allocate another mix, half as many bytes, sizes 1.5 times larger (so
 *    they fit the holes only if the allocator can reuse them across
 *    classes), and read the RSS again.
 * Reports the peak RSS, the RSS after the free and at the end, against the
 * bytes live at each point; ops_per_sec counts mallocs and frees over the
 * time not spent settling.
 */
#include "bench.h"

typedef struct {
    void *p;
    size_t size;
} frag_block;

/* A size from the mix, scaled by SCALE/2: a third of the bytes per tier. */
static size_t frag_size(uint64_t *s, size_t scale)
{
    uint64_t r = bench_rand(s) % 1048;
    size_t size;
    if (r < 1015)
        size = bench_size(s, 16, 1024);
    else if (r < 1047)
        size = bench_size(s, 1025, 32768);
    else
        size = bench_size(s, 32769, 1 << 20);
    return size * scale / 2;
}

static void frag_settle(double seconds)
{
    bench_sleep(seconds);
    for (int i = 0; i < 1000; i++)
        free(bench_alloc_filled(64 + (size_t)(i % 8) * 512));
}

static size_t frag_fill(frag_block *b, size_t start, size_t cap, uint64_t *s, size_t bytes, size_t scale,
                        size_t *live)
{
    size_t n = start, added = 0;
    while (added < bytes && n < cap) {
        b[n].size = frag_size(s, scale);
        b[n].p = bench_alloc_filled(b[n].size);
        added += b[n].size;
        n++;
    }
    *live += added;
    return n;
}

int main(int argc, char **argv)
{
    double mib = 1024, free_share = 0.9, settle = 0.5, seed = 1;
    const bench_opt opts[] = {
        {'g', "MiB allocated in the first mix", &mib},
        {'f', "share of the blocks freed", &free_share},
        {'w', "seconds to settle before reading the RSS", &settle},
        {'S', "random seed", &seed},
    };
    bench_parse(argc, argv, "Fragmentation: allocate a mix, free most of it at random, allocate another mix.",
                opts, sizeof opts / sizeof opts[0]);
    if (mib < 1 || free_share > 1)
        bench_usage(argv[0], "bad parameters", opts, sizeof opts / sizeof opts[0]);
    size_t bytes = (size_t)(mib * 1048576), live = 0;
    size_t cap = bytes / 512 + 1024; /* the mix averages about 1.5 KiB */
    frag_block *b = bench_malloc(cap * sizeof *b);
    uint64_t s = bench_seed((uint64_t)seed, 0), ops = 0;

    double t0 = bench_now();
    size_t n = frag_fill(b, 0, cap, &s, bytes, 2, &live);
    ops += n;
    /* Free a random share: a partial Fisher-Yates moves the victims to the end. */
    size_t nfree = (size_t)((double)n * free_share);
    for (size_t i = 0; i < nfree; i++) {
        size_t k = (size_t)(bench_rand(&s) % (n - i));
        frag_block victim = b[k];
        b[k] = b[n - 1 - i];
        b[n - 1 - i] = victim;
        bench_free_checked(victim.p, victim.size);
        live -= victim.size;
    }
    n -= nfree;
    ops += nfree;
    double t1 = bench_now();
    frag_settle(settle);
    long freed_rss = bench_rss_kb();
    size_t freed_live = live;

    double t2 = bench_now();
    size_t n2 = frag_fill(b, n, cap, &s, bytes / 2, 3, &live);
    ops += n2 - n;
    n = n2;
    double t3 = bench_now();
    frag_settle(settle);
    long final_rss = bench_rss_kb();
    size_t final_live = live;

    double t4 = bench_now();
    for (size_t k = 0; k < n; k++)
        bench_free_checked(b[k].p, b[k].size);
    ops += n;
    double elapsed = (t1 - t0) + (t3 - t2) + (bench_now() - t4);
    free(b);

    char line[512];
    snprintf(line, sizeof line,
             "mib=%g ops=%llu seconds=%.3f ops_per_sec=%.0f freed_live_kb=%zu freed_rss_kb=%ld "
             "final_live_kb=%zu final_rss_kb=%ld",
             mib, (unsigned long long)ops, elapsed, (double)ops / elapsed, freed_live / 1024, freed_rss,
             final_live / 1024, final_rss);
    bench_report("frag", line);
    printf("frag: peak RSS %.0f MiB; after freeing %.0f%%: %.0f MiB RSS for %.0f MiB live; after the "
           "second mix: %.0f MiB RSS for %.0f MiB live\n",
           (double)bench_peak_rss_kb() / 1024, free_share * 100, (double)freed_rss / 1024,
           (double)freed_live / 1048576, (double)final_rss / 1024, (double)final_live / 1048576);
    return 0;
}
