/*
 * The figures hakstat computes from a dump: one table, which the human
 * summary, its JSON form and the diff all walk (jemalloc's "one description,
 * two outputs").
 */
#ifndef HAKSTAT_SUMMARY_H
#define HAKSTAT_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include <jv.h>

#include "dump.h"

typedef enum { HS_COUNT, HS_BYTES, HS_PCT, HS_MS } hs_unit;

#define HS_TIER_FIGURES(X, ID, name)                                                               \
    X(ID##_ALLOC, "tiers." name ".alloc", name " allocations", HS_COUNT)                           \
    X(ID##_FREE, "tiers." name ".free", name " frees", HS_COUNT)                                   \
    X(ID##_LIVE, "tiers." name ".live", name " live blocks", HS_COUNT)                             \
    X(ID##_REQUESTED, "tiers." name ".bytes_requested", name " bytes requested", HS_BYTES)         \
    X(ID##_ALLOCATED, "tiers." name ".bytes_allocated", name " bytes allocated", HS_BYTES)

/* X(ID, "json.path", "label", unit); the first path component is the section. */
#define HS_FIGURES(X)                                                                              \
    X(PROCESSES, "run.processes", "processes", HS_COUNT)                                           \
    X(ELAPSED, "run.elapsed_ms", "elapsed", HS_MS)                                                 \
    X(THREADS, "run.threads_started", "threads started", HS_COUNT)                                 \
    X(ENV_WARNINGS, "run.env_warnings", "HAKMEM_* warnings", HS_COUNT)                             \
    X(ALLOC, "totals.alloc", "allocations", HS_COUNT)                                              \
    X(FREE, "totals.free", "frees", HS_COUNT)                                                      \
    X(LIVE, "totals.live", "live blocks", HS_COUNT)                                                \
    X(REQUESTED, "totals.bytes_requested", "bytes requested", HS_BYTES)                            \
    X(ALLOCATED, "totals.bytes_allocated", "bytes allocated", HS_BYTES)                            \
    X(WASTE, "totals.internal_waste_pct", "internal waste", HS_PCT)                                \
    X(TINY_HIT, "rates.tiny_cache_hit_pct", "tiny cache hits", HS_PCT)                             \
    X(MIDPOOL_HIT, "rates.mid_pool_cache_hit_pct", "mid+pool cache hits", HS_PCT)                  \
    X(LARGE_HIT, "rates.large_cache_hit_pct", "large cache hits", HS_PCT)                          \
    X(REALLOC_IN_PLACE, "rates.realloc_in_place_pct", "realloc in place", HS_PCT)                  \
    X(REMOTE, "rates.remote_free_pct", "remote frees", HS_PCT)                                     \
    X(MF2_REUSE, "rates.mf2_page_reuse_pct", "MF2 page reuse", HS_PCT)                             \
    X(MF2_DRAIN, "rates.mf2_drain_success_pct", "MF2 drain success", HS_PCT)                       \
    X(LOCK_CONTENTION, "rates.lock_contention_pct", "lock contention", HS_PCT)                     \
    X(LOCK_WAIT, "rates.lock_wait_ms", "lock wait", HS_MS)                                         \
    X(DRAINS, "tiny_remote.drains", "drains", HS_COUNT)                                            \
    X(DRAINED, "tiny_remote.drained_blocks", "drained blocks", HS_COUNT)                           \
    X(PENDING_ENQUEUED, "tiny_remote.pending_enqueued", "pending enqueued", HS_COUNT)              \
    X(PENDING_TAKEN, "tiny_remote.pending_taken", "pending taken", HS_COUNT)                       \
    X(ORPHANED, "tiny_remote.orphaned", "orphaned at thread exit", HS_COUNT)                       \
    X(ADOPTED, "tiny_remote.adopted", "orphans adopted", HS_COUNT)                                 \
    X(RUN_CHUNKS, "pool_runs.chunks_in_use", "chunks in use at exit", HS_COUNT)                    \
    X(RUN_RESIZED, "pool_runs.resized_in_place", "resized in place", HS_COUNT)                     \
    X(RUN_PURGED, "pool_runs.purged_bytes", "purged while in use", HS_BYTES)                       \
    X(MAPPED, "memory.mapped_bytes", "mapped at exit", HS_BYTES)                                   \
    X(MAPPED_PEAK, "memory.mapped_peak_bytes", "mapped at peak", HS_BYTES)                         \
    X(RSS, "memory.rss_bytes", "RSS at exit", HS_BYTES)                                            \
    X(RSS_PEAK, "memory.rss_peak_bytes", "RSS at peak", HS_BYTES)                                  \
    X(MMAP_CALLS, "memory.mmap_calls", "mmap calls", HS_COUNT)                                     \
    X(MUNMAP_CALLS, "memory.munmap_calls", "munmap calls", HS_COUNT)                               \
    X(MADVISE_CALLS, "memory.madvise_calls", "madvise calls", HS_COUNT)                            \
    X(MADVISE_BYTES, "memory.madvise_bytes", "madvised bytes", HS_BYTES)                           \
    HS_TIER_FIGURES(X, TINY, "tiny")                                                               \
    HS_TIER_FIGURES(X, MID, "mid")                                                                 \
    HS_TIER_FIGURES(X, POOL, "pool")                                                               \
    HS_TIER_FIGURES(X, LARGE, "large")

enum {
#define HS_FIG_ENUM(id, path, label, unit) HS_FIG_##id,
    HS_FIGURES(HS_FIG_ENUM)
#undef HS_FIG_ENUM
        HS_FIG_COUNT
};

/* Columns of the tier table, in the order of HS_TIER_FIGURES. */
#define HS_TIER_COLUMNS 5
#define HS_TIER_ROWS 4

typedef struct hs_figure {
    const char *path;
    const char *label;
    hs_unit unit;
} hs_figure;

extern const hs_figure hs_figures[HS_FIG_COUNT];

/* The figures of a dump; absent where the dump lacks the counters or a rate
 * has nothing to divide by. */
typedef struct hs_summary {
    double value[HS_FIG_COUNT];
    bool present[HS_FIG_COUNT];
} hs_summary;

void hs_summary_compute(const hs_dump *d, hs_summary *s);

/* A value as a person reads it: "1,234", "1.5 MiB", "99.2%", "2.33 s". */
void hs_format(char *buf, size_t size, hs_unit unit, double v);

/* The first path component of a figure, which is the section it is shown in. */
const char *hs_section_title(const char *path);

/* "sqlite3, pid 1234" or "3 processes of sqlite3, sh (pids 1, 2, 3)". */
void hs_print_who(FILE *out, const hs_dump *d);

void hs_summary_print(FILE *out, const hs_dump *d);
jv hs_summary_json(const hs_dump *d);

/* obj with value set at a dotted path ("rates.remote_free_pct"); consumes both. */
jv hs_json_set(jv obj, const char *path, jv value);

/* A figure as JSON: a number (percentages to 2 decimals), or null when absent. */
jv hs_json_figure(const hs_summary *s, int fig);

void hs_diff_print(FILE *out, const hs_dump *a, const hs_dump *b);
jv hs_diff_json(const hs_dump *a, const hs_dump *b);

/* {"programs": [...], "pids": [...]} of a dump. */
jv hs_json_who(const hs_dump *d);

/* Prints j as indented JSON and a newline; consumes j. */
void hs_json_print(FILE *out, jv j);

#endif /* HAKSTAT_SUMMARY_H */
