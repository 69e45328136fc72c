/* realloc_chain: blocks grown by realloc from 16 B to 1 MiB, contents checked.
 *
 * C chains live at once.  Each op picks a random chain and reallocs its
 * block: usually it grows by up to half its size (so a chain crosses every
 * tier, tiny to large), one time in four it shrinks to between half and all
 * of its size.  The words the block held up to the smaller of the two sizes
 * are checked after every realloc, so a lost or short copy is caught.  A
 * chain that reaches the top is checked, freed and restarted at 16 B.  An
 * op is one realloc (or the malloc that restarts a chain).  It also reports
 * how often a realloc moved the block and the bytes a move had to carry per
 * op: the copying that in-place growth saves.
 */
#include "bench.h"

typedef struct {
    void *p;
    size_t size;
    uint64_t key;
} chain;

int main(int argc, char **argv)
{
    double nchains = 64, seconds = 2, lo = 16, hi = 1 << 20, seed = 1;
    const bench_opt opts[] = {
        {'c', "chains alive at once", &nchains},
        {'s', "seconds to run", &seconds},
        {'m', "first size of a chain (bytes, >= 8)", &lo},
        {'M', "last size of a chain (bytes)", &hi},
        {'S', "random seed", &seed},
    };
    bench_parse(argc, argv, "Realloc chains: grow blocks from 16 B to 1 MiB, checking contents.", opts,
                sizeof opts / sizeof opts[0]);
    size_t n = (size_t)nchains;
    if (n < 1 || lo < 8 || hi < lo)
        bench_usage(argv[0], "bad parameters", opts, sizeof opts / sizeof opts[0]);

    uint64_t s = bench_seed((uint64_t)seed, 0), generation = 0, ops = 0, restarts = 0;
    uint64_t reallocs = 0, moves = 0, moved_bytes = 0;
    chain *chains = bench_malloc(n * sizeof *chains);
    for (size_t k = 0; k < n; k++) {
        chains[k] = (chain){bench_malloc((size_t)lo), (size_t)lo, bench_rand(&s)};
        bench_fill_key(chains[k].p, chains[k].size, chains[k].key);
    }

    double start = bench_now(), elapsed;
    do {
        for (int i = 0; i < 256; i++) {
            chain *c = &chains[bench_rand(&s) % n];
            if (c->size >= (size_t)hi) {
                bench_check_key(c->p, c->size, c->size, c->key, "free");
                free(c->p);
                c->size = (size_t)lo;
                c->key = bench_rand(&s) ^ ++generation;
                c->p = bench_malloc(c->size);
                bench_fill_key(c->p, c->size, c->key);
                restarts++;
                continue;
            }
            size_t ns;
            if (bench_rand(&s) % 4 == 0)
                ns = bench_size(&s, c->size / 2 > lo ? c->size / 2 : (size_t)lo, c->size);
            else
                ns = c->size + bench_size(&s, 1, c->size / 2 > 8 ? c->size / 2 : 8);
            if (ns > hi)
                ns = (size_t)hi;
            void *p = realloc(c->p, ns);
            if (!p) {
                fprintf(stderr, "error: realloc(%zu) returned NULL\n", ns);
                return 1;
            }
            reallocs++;
            if (p != c->p) {
                moves++;
                moved_bytes += c->size < ns ? c->size : ns;
            }
            bench_check_key(p, c->size, ns, c->key, "realloc");
            c->p = p;
            c->size = ns;
            bench_fill_key(c->p, c->size, c->key);
        }
        ops += 256;
        elapsed = bench_now() - start;
    } while (elapsed < seconds);

    for (size_t k = 0; k < n; k++) {
        bench_check_key(chains[k].p, chains[k].size, chains[k].size, chains[k].key, "free");
        free(chains[k].p);
    }
    free(chains);
    double moved_pct = reallocs ? 100.0 * (double)moves / (double)reallocs : 0;
    double moved_kib = reallocs ? (double)moved_bytes / 1024.0 / (double)reallocs : 0;
    char line[320];
    snprintf(line, sizeof line,
             "chains=%zu restarts=%llu ops=%llu seconds=%.3f ops_per_sec=%.0f moved_pct=%.1f "
             "moved_kib_per_realloc=%.1f",
             n, (unsigned long long)restarts, (unsigned long long)ops, elapsed, (double)ops / elapsed,
             moved_pct, moved_kib);
    bench_report("realloc_chain", line);
    printf("realloc_chain: %zu chains of %g B to %g B, %.2f M reallocs/s, %llu chains completed; "
           "%.1f%% of reallocs moved the block, carrying %.1f KiB per realloc\n",
           n, lo, hi, (double)ops / elapsed / 1e6, (unsigned long long)restarts, moved_pct, moved_kib);
    return 0;
}
