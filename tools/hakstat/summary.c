/*
 * `hakstat summary`: the figures of one dump or a sum of dumps, as a page a
 * person reads in ten seconds or as JSON.  Output depends only on the dumps
 * (no clock, no paths, no colour), so tests compare it byte for byte.
 */
#include "summary.h"
#include "top.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const hs_figure hs_figures[HS_FIG_COUNT] = {
#define HS_FIG_ROW(id, path, label, unit) {path, label, unit},
    HS_FIGURES(HS_FIG_ROW)
#undef HS_FIG_ROW
};

#define TOP_CLASSES 8
#define BAR_WIDTH 40

// ------------------------------------------------------------- computing

static void set(hs_summary *s, int fig, double v)
{
    s->value[fig] = v;
    s->present[fig] = true;
}

static void set_pct(hs_summary *s, int fig, double part, double whole)
{
    if (whole > 0)
        set(s, fig, 100.0 * part / whole);
}

static double tier_sum(const hs_dump *d, int cc, int first, int last)
{
    double sum = 0;
    for (int t = first; t <= last; t++)
        sum += (double)d->tier[t].c[cc];
    return sum;
}

/* A counter by its path in the dump ("os.mmap_calls"); 0 if the dump has none. */
static double counter(const hs_dump *d, const char *path)
{
    uint64_t n = 0;
    hs_dump_find(d, path, &n);
    return (double)n;
}

/* A figure straight from a counter, absent if the dump has no such counter. */
static void set_counter(hs_summary *s, int fig, const hs_dump *d, const char *path)
{
    uint64_t n;
    if (hs_dump_find(d, path, &n))
        set(s, fig, (double)n);
}

/* A per-class counter summed over the mid and pool tiers; 0 if there is none. */
static double mid_pool_sum(const hs_dump *d, const char *key)
{
    int cc = hs_class_counter(d, key);
    return cc < 0 ? 0 : tier_sum(d, cc, HS_MID, HS_POOL);
}

static void compute_tiers(const hs_dump *d, hs_summary *s)
{
    for (int t = 0; t < HS_CLASS_TIERS; t++) {
        const hs_tier *tier = &d->tier[t];
        int base = HS_FIG_TINY_ALLOC + t * HS_TIER_COLUMNS;
        set(s, base, (double)tier->c[HS_CC_ALLOC]);
        set(s, base + 1, (double)tier->c[HS_CC_FREE]);
        set(s, base + 2, (double)tier->c[HS_CC_ALLOC] - (double)tier->c[HS_CC_FREE]);
        set(s, base + 3, (double)tier->c[HS_CC_BYTES_REQUESTED]);
        set(s, base + 4, (double)tier->bytes_allocated);
    }
    set(s, HS_FIG_LARGE_ALLOC, counter(d, "tiers.large.alloc"));
    set(s, HS_FIG_LARGE_FREE, counter(d, "tiers.large.free"));
    set(s, HS_FIG_LARGE_LIVE, counter(d, "tiers.large.alloc") - counter(d, "tiers.large.free"));
    set(s, HS_FIG_LARGE_REQUESTED, counter(d, "tiers.large.bytes_requested"));
    set(s, HS_FIG_LARGE_ALLOCATED, counter(d, "tiers.large.bytes_allocated"));
}

/* The first of a few paths the dump may use for one counter. */
static bool find_any(const hs_dump *d, const char *const *paths, double *v)
{
    uint64_t n;
    for (; *paths != NULL; paths++) {
        if (hs_dump_find(d, *paths, &n)) {
            *v = (double)n;
            return true;
        }
    }
    return false;
}

/* MF2 mid pages: the refills a page the thread had could serve, against
 * those that took a new page; drains that found blocks. */
static void compute_mf2(const hs_dump *d, hs_summary *s)
{
    static const char *const reuses[] = {"mf2.reuses", "tiers.mid.mf2.reuses", NULL};
    static const char *const tried[] = {"mf2.drain_attempts", "tiers.mid.mf2.drain_attempts", NULL};
    static const char *const drained[] = {"mf2.drains", "tiers.mid.mf2.drains", NULL};
    double r, a, ok;
    int slabs_new = hs_class_counter(d, "slabs_new");
    if (find_any(d, reuses, &r) && slabs_new >= 0)
        set_pct(s, HS_FIG_MF2_REUSE, r, r + tier_sum(d, slabs_new, HS_MID, HS_MID));
    if (find_any(d, tried, &a) && find_any(d, drained, &ok))
        set_pct(s, HS_FIG_MF2_DRAIN, ok, a);
}

static bool lock_stats_on(const hs_dump *d)
{
    for (size_t i = 0; i < d->nconfig; i++)
        if (strcmp(d->config[i].name, "HAKMEM_SHARED_POOL_LOCK_STATS") == 0)
            return strcmp(d->config[i].value, "0") != 0;
    return false;
}

/* Shared-pool locks (with HAKMEM_SHARED_POOL_LOCK_STATS=1): the share of
 * acquisitions that found the lock held, and the time spent waiting. */
static void compute_locks(const hs_dump *d, hs_summary *s)
{
    double contended =
        mid_pool_sum(d, "lock_acquire_contended") + mid_pool_sum(d, "lock_release_contended");
    double wait_ns =
        mid_pool_sum(d, "lock_acquire_wait_ns") + mid_pool_sum(d, "lock_release_wait_ns");
    if (!lock_stats_on(d) && contended == 0 && wait_ns == 0)
        return;
    set_pct(s, HS_FIG_LOCK_CONTENTION, contended,
            mid_pool_sum(d, "lock_acquire") + mid_pool_sum(d, "lock_release"));
    set(s, HS_FIG_LOCK_WAIT, wait_ns / 1e6);
}

static void compute_rates(const hs_dump *d, hs_summary *s)
{
    double tiny_alloc = tier_sum(d, HS_CC_ALLOC, HS_TINY, HS_TINY);
    double mp_alloc = tier_sum(d, HS_CC_ALLOC, HS_MID, HS_POOL);
    double in_place = counter(d, "realloc.in_place");
    set_pct(s, HS_FIG_TINY_HIT, tiny_alloc - tier_sum(d, HS_CC_REFILL, HS_TINY, HS_TINY),
            tiny_alloc);
    set_pct(s, HS_FIG_MIDPOOL_HIT, mp_alloc - tier_sum(d, HS_CC_REFILL, HS_MID, HS_POOL), mp_alloc);
    set_pct(s, HS_FIG_LARGE_HIT, counter(d, "tiers.large.cache_hits"),
            counter(d, "tiers.large.alloc"));
    set_pct(s, HS_FIG_REALLOC_IN_PLACE, in_place, in_place + counter(d, "realloc.moved"));
    set_pct(s, HS_FIG_REMOTE, tier_sum(d, HS_CC_FREE_REMOTE, HS_TINY, HS_POOL),
            tier_sum(d, HS_CC_FREE, HS_TINY, HS_POOL));
    compute_mf2(d, s);
    compute_locks(d, s);
    set_counter(s, HS_FIG_DRAINS, d, "tiers.tiny.drains");
    set_counter(s, HS_FIG_DRAINED, d, "tiers.tiny.drained_blocks");
    set_counter(s, HS_FIG_PENDING_ENQUEUED, d, "tiers.tiny.pending_enqueued");
    set_counter(s, HS_FIG_PENDING_TAKEN, d, "tiers.tiny.pending_taken");
    set_counter(s, HS_FIG_ORPHANED, d, "tiers.tiny.orphaned");
    set_counter(s, HS_FIG_ADOPTED, d, "tiers.tiny.adopted");
}

/* The pool's blocks above 64 KiB (page runs); absent from older dumps. */
static void compute_runs(const hs_dump *d, hs_summary *s)
{
    uint64_t made, released;
    if (hs_dump_find(d, "tiers.pool.run_chunks_new", &made) &&
        hs_dump_find(d, "tiers.pool.run_chunks_released", &released))
        set(s, HS_FIG_RUN_CHUNKS, made >= released ? (double)(made - released) : 0);
    set_counter(s, HS_FIG_RUN_RESIZED, d, "tiers.pool.runs_resized_in_place");
    set_counter(s, HS_FIG_RUN_PURGED, d, "tiers.pool.run_purged_bytes");
}

static void compute_memory(const hs_dump *d, hs_summary *s)
{
    set(s, HS_FIG_MAPPED, (double)d->mapped_bytes);
    set(s, HS_FIG_MAPPED_PEAK, (double)d->mapped_peak_bytes);
    set(s, HS_FIG_RSS, (double)d->rss_bytes);
    set(s, HS_FIG_RSS_PEAK, (double)d->rss_peak_bytes);
    set_counter(s, HS_FIG_MMAP_CALLS, d, "os.mmap_calls");
    set_counter(s, HS_FIG_MUNMAP_CALLS, d, "os.munmap_calls");
    set_counter(s, HS_FIG_MADVISE_CALLS, d, "os.madvise_calls");
    set_counter(s, HS_FIG_MADVISE_BYTES, d, "os.madvise_bytes");
}

void hs_summary_compute(const hs_dump *d, hs_summary *s)
{
    memset(s, 0, sizeof(*s));
    set(s, HS_FIG_PROCESSES, (double)d->processes);
    set(s, HS_FIG_ELAPSED, (double)d->elapsed_ms);
    set(s, HS_FIG_THREADS, counter(d, "threads.started"));
    set(s, HS_FIG_ENV_WARNINGS, (double)d->env_warnings);
    set(s, HS_FIG_ALLOC, (double)d->alloc);
    set(s, HS_FIG_FREE, (double)d->free);
    set(s, HS_FIG_LIVE, (double)d->alloc - (double)d->free);
    set(s, HS_FIG_REQUESTED, (double)d->bytes_requested);
    set(s, HS_FIG_ALLOCATED, (double)d->bytes_allocated);
    set_pct(s, HS_FIG_WASTE, (double)d->bytes_allocated - (double)d->bytes_requested,
            (double)d->bytes_allocated);
    compute_rates(d, s);
    compute_runs(d, s);
    compute_memory(d, s);
    compute_tiers(d, s);
}

// ------------------------------------------------------------- formatting

/* An integer with thousands separators; v is at most about 2^64. */
static void format_count(char *buf, size_t size, double v)
{
    char digits[48];
    int n = snprintf(digits, sizeof(digits), "%.0f", fabs(v) < 1e30 ? fabs(v) : 1e30);
    size_t at = 0;
    if (v <= -0.5 && at + 1 < size)
        buf[at++] = '-';
    for (int i = 0; i < n && at + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[at++] = ',';
        buf[at++] = digits[i];
    }
    buf[at] = '\0';
}

static void format_bytes(char *buf, size_t size, double v)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double a = fabs(v);
    int u = -1;
    if (a < 1024) {
        snprintf(buf, size, "%.0f B", v);
        return;
    }
    while (a >= 1024 && u < 5) {
        a /= 1024;
        u++;
    }
    /* Exact multiples (the histogram's limits, configured sizes) without ".0". */
    snprintf(buf, size, a == floor(a) ? "%s%.0f %s" : "%s%.1f %s", v < 0 ? "-" : "", a, units[u]);
}

void hs_format(char *buf, size_t size, hs_unit unit, double v)
{
    switch (unit) {
    case HS_COUNT:
        format_count(buf, size, v);
        break;
    case HS_BYTES:
        format_bytes(buf, size, v);
        break;
    case HS_PCT:
        snprintf(buf, size, "%.1f%%", v);
        break;
    case HS_MS:
        if (fabs(v) < 1000)
            snprintf(buf, size, "%.0f ms", v);
        else
            snprintf(buf, size, "%.2f s", v / 1000);
        break;
    }
}

const char *hs_section_title(const char *path)
{
    static const char *const titles[][2] = {
        {"run.", "Run"},
        {"totals.", "Totals"},
        {"rates.", "Rates"},
        {"tiny_remote.", "Tiny remote frees"},
        {"pool_runs.", "Pool blocks above 64 KiB (page runs)"},
        {"memory.", "Memory"},
        {"tiers.", "Tiers"},
    };
    for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
        if (strncmp(path, titles[i][0], strlen(titles[i][0])) == 0)
            return titles[i][1];
    return "Other";
}

static int compare_pids(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void hs_print_who(FILE *out, const hs_dump *d)
{
    enum { SHOWN_PIDS = 8 };
    int64_t *pids = malloc((d->npids + 1) * sizeof(*pids));
    for (size_t i = 0; i < d->npids; i++)
        pids[i] = d->pids[i];
    qsort(pids, d->npids, sizeof(*pids), compare_pids);
    if (d->processes != 1)
        fprintf(out, "%zu processes of ", d->processes);
    for (size_t i = 0; i < d->nprograms; i++)
        fprintf(out, "%s%s", i > 0 ? ", " : "", d->programs[i]);
    fprintf(out, " (pid%s", d->npids != 1 ? "s" : "");
    for (size_t i = 0; i < d->npids && i < SHOWN_PIDS; i++)
        fprintf(out, "%s%" PRId64, i > 0 ? ", " : " ", pids[i]);
    fprintf(out, "%s)", d->npids > SHOWN_PIDS ? ", ..." : "");
    free(pids);
}

// ------------------------------------------------------------- the page

/* Why a single dump was written, when it was not the process's exit. */
static const char *reason_note(const hs_dump *d)
{
    if (d->processes != 1 || strcmp(d->reason, "exit") == 0)
        return "";
    if (strcmp(d->reason, "signal") == 0)
        return ", a snapshot on HAKMEM_STATS_SIGNAL";
    return strcmp(d->reason, "api") == 0 ? ", a snapshot by hak_stats_dump()" : ", a snapshot";
}

static const char *config_value(const hs_dump *d, const char *name)
{
    for (size_t i = 0; i < d->nconfig; i++)
        if (strcmp(d->config[i].name, name) == 0)
            return d->config[i].value;
    return NULL;
}

/* A dump written for HAKMEM_PROF_SAMPLE alone: nothing was counted. */
static bool counting_was_off(const hs_dump *d)
{
    const char *stats = config_value(d, "HAKMEM_STATS");
    const char *signal = config_value(d, "HAKMEM_STATS_SIGNAL");
    return stats != NULL && strcmp(stats, "0") == 0 && signal != NULL &&
           strcmp(signal, "none") == 0;
}

static void print_header(FILE *out, const hs_dump *d, const hs_summary *s)
{
    char elapsed[32], threads[32];
    hs_format(elapsed, sizeof(elapsed), HS_MS, s->value[HS_FIG_ELAPSED]);
    hs_format(threads, sizeof(threads), HS_COUNT, s->value[HS_FIG_THREADS]);
    fputs("hakmem stats: ", out);
    hs_print_who(out, d);
    fprintf(out, "\n  %s, %s thread%s%s\n", elapsed, threads,
            s->value[HS_FIG_THREADS] == 1 ? "" : "s", reason_note(d));
    if (counting_was_off(d))
        fputs("  counting was off (HAKMEM_STATS=1 turns it on): the counts below are zero;\n"
              "  memory and sites are as measured\n",
              out);
}

/* "Totals", "Rates", ...: one line a figure present. */
static void print_sections(FILE *out, const hs_summary *s)
{
    const char *shown = NULL;
    for (int f = HS_FIG_ALLOC; f < HS_FIG_TINY_ALLOC; f++) {
        char value[48];
        const char *title = hs_section_title(hs_figures[f].path);
        if (!s->present[f])
            continue;
        if (shown != title)
            fprintf(out, "\n%s\n", title);
        shown = title;
        hs_format(value, sizeof(value), hs_figures[f].unit, s->value[f]);
        fprintf(out, "  %-24s %14s\n", hs_figures[f].label, value);
    }
}

static void print_tiers(FILE *out, const hs_summary *s)
{
    static const char *const names[HS_TIER_ROWS] = {"tiny", "mid", "pool", "large"};
    fprintf(out, "\n%-8s %14s %14s %14s %12s %12s\n", "Tiers", "allocations", "frees", "live",
            "requested", "allocated");
    for (int t = 0; t < HS_TIER_ROWS; t++) {
        fprintf(out, "  %-6s", names[t]);
        for (int c = 0; c < HS_TIER_COLUMNS; c++) {
            char value[48];
            int f = HS_FIG_TINY_ALLOC + t * HS_TIER_COLUMNS + c;
            hs_format(value, sizeof(value), hs_figures[f].unit, s->value[f]);
            fprintf(out, " %*s", c < 3 ? 14 : 12, value);
        }
        fputc('\n', out);
    }
}

static int compare_class_alloc(const void *a, const void *b)
{
    const hs_class *x = a, *y = b;
    if (x->c[HS_CC_ALLOC] != y->c[HS_CC_ALLOC])
        return x->c[HS_CC_ALLOC] < y->c[HS_CC_ALLOC] ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

/* The classes with the most allocations, at most TOP_CLASSES; the count. */
static size_t top_classes(const hs_dump *d, hs_class *top)
{
    hs_class *sorted = malloc((d->nclasses + 1) * sizeof(*sorted));
    size_t n = 0;
    for (size_t i = 0; i < d->nclasses; i++)
        sorted[i] = d->classes[i];
    qsort(sorted, d->nclasses, sizeof(*sorted), compare_class_alloc);
    while (n < d->nclasses && n < TOP_CLASSES && sorted[n].c[HS_CC_ALLOC] > 0) {
        top[n] = sorted[n];
        n++;
    }
    free(sorted);
    return n;
}

static double pct_or_zero(double part, double whole) { return whole > 0 ? 100 * part / whole : 0; }

static void print_top_classes(FILE *out, const hs_dump *d)
{
    hs_class top[TOP_CLASSES];
    size_t n = top_classes(d, top);
    if (n == 0)
        return;
    fprintf(out, "\nTop size classes %7s %5s %14s %7s %8s %8s\n", "size", "tier", "allocations",
            "share", "remote", "refill");
    for (size_t i = 0; i < n; i++) {
        char size[32], alloc[48];
        const uint64_t *c = top[i].c;
        hs_format(size, sizeof(size), HS_BYTES, (double)top[i].size);
        hs_format(alloc, sizeof(alloc), HS_COUNT, (double)c[HS_CC_ALLOC]);
        fprintf(out, "  class %-3" PRIu32 " %14s %5s %14s %6.1f%% %7.1f%% %7.1f%%\n", top[i].index,
                size, hs_tier_names[top[i].tier], alloc,
                pct_or_zero((double)c[HS_CC_ALLOC], (double)d->alloc),
                pct_or_zero((double)c[HS_CC_FREE_REMOTE], (double)c[HS_CC_FREE]),
                pct_or_zero((double)c[HS_CC_REFILL], (double)c[HS_CC_ALLOC]));
    }
}

/* The buckets from the first to the last non-zero one; false if all are zero. */
static bool hist_range(const hs_dump *d, int *first, int *last, uint64_t *max)
{
    *first = -1;
    *max = 0;
    for (int b = 0; b < HS_HIST_BUCKETS; b++) {
        if (d->hist[b] == 0)
            continue;
        if (*first < 0)
            *first = b;
        *last = b;
        *max = d->hist[b] > *max ? d->hist[b] : *max;
    }
    return *first >= 0;
}

static void print_histogram(FILE *out, const hs_dump *d)
{
    int first, last;
    uint64_t max, total = 0;
    if (!d->hist_enabled || !hist_range(d, &first, &last, &max)) {
        fputs("\nRequested sizes: not recorded (HAKMEM_SIZE_HIST=1 records them)\n", out);
        return;
    }
    for (int b = first; b <= last; b++)
        total += d->hist[b];
    fputs("\nRequested sizes\n", out);
    for (int b = first; b <= last; b++) {
        char limit[32], count[48];
        int width = (int)((double)d->hist[b] * BAR_WIDTH / (double)max + 0.5);
        width = width == 0 && d->hist[b] > 0 ? 1 : width;
        hs_format(limit, sizeof(limit), HS_BYTES, ldexp(1, b));
        hs_format(count, sizeof(count), HS_COUNT, (double)d->hist[b]);
        fprintf(out, "  <= %-9s |%-*.*s| %14s %5.1f%%\n", limit, BAR_WIDTH, width,
                "########################################", count,
                pct_or_zero((double)d->hist[b], (double)total));
    }
}

static void print_config(FILE *out, const hs_dump *d, const hs_summary *s)
{
    bool any = false;
    for (size_t i = 0; i < d->nconfig; i++) {
        if (!d->config[i].from_env)
            continue;
        fprintf(out, "%s  %s=%s\n", any ? "" : "\nSet in the environment\n", d->config[i].name,
                d->config[i].value);
        any = true;
    }
    if (s->value[HS_FIG_ENV_WARNINGS] > 0)
        fprintf(out, "\nhakmem warned about %.0f HAKMEM_* variable%s (see its stderr)\n",
                s->value[HS_FIG_ENV_WARNINGS], s->value[HS_FIG_ENV_WARNINGS] == 1 ? "" : "s");
}

void hs_summary_print(FILE *out, const hs_dump *d)
{
    hs_summary s;
    hs_summary_compute(d, &s);
    print_header(out, d, &s);
    print_sections(out, &s);
    print_tiers(out, &s);
    print_top_classes(out, d);
    hs_sites_summary_print(out, d);
    print_histogram(out, d);
    print_config(out, d, &s);
}

// ------------------------------------------------------------- JSON

jv hs_json_set(jv obj, const char *path, jv value)
{
    jv keys = jv_array();
    while (*path != '\0') {
        size_t len = strcspn(path, ".");
        keys = jv_array_append(keys, jv_string_sized(path, (int)len));
        path += len + (path[len] == '.');
    }
    return jv_setpath(obj, keys, value);
}

jv hs_json_figure(const hs_summary *s, int fig)
{
    if (!s->present[fig])
        return jv_null();
    if (hs_figures[fig].unit == HS_PCT || hs_figures[fig].unit == HS_MS)
        return jv_number(round(s->value[fig] * 100) / 100);
    return jv_number(s->value[fig]);
}

jv hs_json_who(const hs_dump *d)
{
    jv programs = jv_array(), pids = jv_array();
    for (size_t i = 0; i < d->nprograms; i++)
        programs = jv_array_append(programs, jv_string(d->programs[i]));
    for (size_t i = 0; i < d->npids; i++)
        pids = jv_array_append(pids, jv_number((double)d->pids[i]));
    return jv_object_set(jv_object_set(jv_object(), jv_string("programs"), programs),
                         jv_string("pids"), pids);
}

static jv json_pct(double part, double whole)
{
    return jv_number(round(pct_or_zero(part, whole) * 100) / 100);
}

static jv json_top_classes(const hs_dump *d)
{
    hs_class top[TOP_CLASSES];
    size_t n = top_classes(d, top);
    jv arr = jv_array();
    for (size_t i = 0; i < n; i++) {
        const uint64_t *c = top[i].c;
        jv row = jv_object();
        row = jv_object_set(row, jv_string("class"), jv_number(top[i].index));
        row = jv_object_set(row, jv_string("size"), jv_number((double)top[i].size));
        row = jv_object_set(row, jv_string("tier"), jv_string(hs_tier_names[top[i].tier]));
        row = jv_object_set(row, jv_string("alloc"), jv_number((double)c[HS_CC_ALLOC]));
        row = jv_object_set(row, jv_string("share_pct"),
                            json_pct((double)c[HS_CC_ALLOC], (double)d->alloc));
        row = jv_object_set(row, jv_string("remote_free_pct"),
                            json_pct((double)c[HS_CC_FREE_REMOTE], (double)c[HS_CC_FREE]));
        row = jv_object_set(row, jv_string("refill_pct"),
                            json_pct((double)c[HS_CC_REFILL], (double)c[HS_CC_ALLOC]));
        arr = jv_array_append(arr, row);
    }
    return arr;
}

static jv json_histogram(const hs_dump *d)
{
    if (!d->hist_enabled)
        return jv_null();
    jv arr = jv_array();
    for (int b = 0; b < HS_HIST_BUCKETS; b++) {
        if (d->hist[b] == 0)
            continue;
        jv row = jv_object_set(jv_object(), jv_string("max"), jv_number(ldexp(1, b)));
        row = jv_object_set(row, jv_string("count"), jv_number((double)d->hist[b]));
        arr = jv_array_append(arr, row);
    }
    return arr;
}

static jv json_env_config(const hs_dump *d)
{
    jv obj = jv_object();
    for (size_t i = 0; i < d->nconfig; i++)
        if (d->config[i].from_env)
            obj = jv_object_set(obj, jv_string(d->config[i].name), jv_string(d->config[i].value));
    return obj;
}

jv hs_summary_json(const hs_dump *d)
{
    hs_summary s;
    jv j = jv_object_set(jv_object(), jv_string("schema"), jv_string("hakstat.summary/1"));
    hs_summary_compute(d, &s);
    j = jv_object_merge(j, hs_json_who(d));
    for (int f = 0; f < HS_FIG_COUNT; f++)
        j = hs_json_set(j, hs_figures[f].path, hs_json_figure(&s, f));
    j = jv_object_set(j, jv_string("top_classes"), json_top_classes(d));
    j = jv_object_set(j, jv_string("top_sites"), hs_sites_summary_json(d));
    j = jv_object_set(j, jv_string("histogram"), json_histogram(d));
    return jv_object_set(j, jv_string("config_from_environment"), json_env_config(d));
}

void hs_json_print(FILE *out, jv j)
{
    jv text = jv_dump_string(j, JV_PRINT_INDENT_FLAGS(2));
    fprintf(out, "%s\n", jv_string_value(text));
    jv_free(text);
}
