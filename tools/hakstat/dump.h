/*
 * A hakmem stats dump (schema "hakmem.stats/1", docs/STATS.md) read into C,
 * or the sum of several.  The counters are those of src/stats/counters.def,
 * the table the allocator writes them from, so a counter added there is read
 * here without another list to keep.
 */
#ifndef HAKSTAT_DUMP_H
#define HAKSTAT_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_SCHEMA "hakmem.stats/1"

/* Per-class counters: HS_CC_ALLOC, HS_CC_FREE, ... */
enum {
#define HAK_CLASS_COUNTER(id, key, unit, doc) HS_CC_##id,
#include "counters.def"
    HS_CC_COUNT
};

/* Single counters: HS_GC_TINY_DRAINS, HS_GC_OS_MMAP_CALLS, ... */
enum {
#define HAK_COUNTER(id, group, key, unit, doc) HS_GC_##id,
#include "counters.def"
    HS_GC_COUNT
};

/* The tiers whose blocks come in size classes. */
enum { HS_TINY, HS_MID, HS_POOL, HS_CLASS_TIERS };
extern const char *const hs_tier_names[HS_CLASS_TIERS];

/* Requested sizes: bucket i counts sizes in (2^(i-1), 2^i]; bucket 0 also 0. */
#define HS_HIST_BUCKETS 64

/* Numbers found in an optional object the schema may grow (tiers.mid.mf2,
 * tiers.<tier>.lock_stats, ...), by their dotted path from the document's root. */
typedef struct hs_extra {
    char *path;
    uint64_t value;
} hs_extra;

typedef struct hs_config {
    char *name;
    char *value; /* a number's digits or the string */
    bool from_env;
} hs_config;

typedef struct hs_class {
    uint32_t index;
    uint64_t size;
    int tier;
    uint64_t c[HS_CC_COUNT];
} hs_class;

typedef struct hs_tier {
    uint64_t c[HS_CC_COUNT];
    uint64_t bytes_allocated;
    uint64_t slabs_in_use;
} hs_tier;

typedef struct hs_dump {
    size_t processes;
    char **programs; /* distinct, in order of first appearance */
    size_t nprograms;
    int64_t *pids;
    size_t npids;
    char reason[8];            /* "exit", "signal", "api"; of the first dump */
    uint64_t start_ms, end_ms; /* earliest start, latest end */
    uint64_t elapsed_ms;       /* of the one process, or end_ms - start_ms of a sum */
    hs_config *config;         /* of the first dump */
    size_t nconfig;
    uint64_t env_warnings;
    uint64_t rss_bytes, rss_peak_bytes;
    uint64_t threads_live;
    uint64_t mapped_bytes, mapped_peak_bytes;
    uint64_t alloc, free, bytes_requested, bytes_allocated; /* "totals" */
    hs_tier tier[HS_CLASS_TIERS];
    uint64_t g[HS_GC_COUNT];
    /* Counters of counters.def are optional (a dump from an older build
     * lacks the newer ones); the fixed fields of the schema are not. */
    bool g_present[HS_GC_COUNT];
    bool cc_present[HS_CC_COUNT];
    hs_class *classes; /* ascending index */
    size_t nclasses;
    bool hist_enabled;
    uint64_t hist[HS_HIST_BUCKETS];
    hs_extra *extras;
    size_t nextras;
} hs_dump;

/* The longest error message the loader writes, with the file name before it. */
#define HS_ERR_MAX 512

/* Reads a dump from text.  0, or -1 with a one-line reason in err (which
 * does not repeat the name) and *d left empty. */
int hs_dump_parse(const char *text, size_t len, hs_dump *d, char *err);

/* Reads the file at path: as hs_dump_parse, with I/O errors in err too. */
int hs_dump_load(const char *path, hs_dump *d, char *err);

/* Adds src into sum (an empty dump is the zero to start from). */
void hs_dump_add(hs_dump *sum, const hs_dump *src);

void hs_dump_free(hs_dump *d);

/* The index of a per-class counter by its key ("refill"), or -1 if the
 * dump has no such counter. */
int hs_class_counter(const hs_dump *d, const char *key);

/* The dotted path of a counter of the table: "tiers.tiny.drains", "os.mmap_calls". */
const char *hs_counter_path(int gc);

/* A number by its dotted path: a counter of the table, or one found in an
 * object the schema grew ("tiers.mid.mf2.pages_new"); false if the dump has none. */
bool hs_dump_find(const hs_dump *d, const char *path, uint64_t *value);

#endif /* HAKSTAT_DUMP_H */
