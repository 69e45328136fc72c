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

/* Allocation sites (the optional "sites" section, with HAKMEM_PROF_SAMPLE). */
#define HS_MAX_FRAMES 256
#define HS_MAX_STACKS (1u << 20)

typedef struct hs_frame {
    uint64_t addr;
    char *obj; /* "" when unknown */
    uint64_t obj_offset;
    char *sym; /* NULL when unresolved */
    uint64_t sym_offset;
} hs_frame;

typedef struct hs_site {
    uint64_t samples, samples_live;
    uint64_t requested_bytes, allocated_bytes, live_bytes;
    hs_frame *frames; /* innermost first */
    size_t nframes;
} hs_site;

typedef struct hs_sites {
    bool present;             /* the dump (one of the sum) has the section */
    bool sample_bytes_differ; /* dumps of a sum sampled at different rates */
    uint64_t sample_bytes;    /* of the first dump with sites */
    uint64_t depth;           /* the largest */
    uint64_t samples, samples_live, unrecorded;
    hs_site *stacks; /* distinct stacks, in hs_stack_compare order */
    size_t nstacks;
} hs_sites;

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
    hs_sites sites;
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

/* The order of stacks, which is also their identity: frame by frame, by
 * object and offset in it (alike in every process that loads the object),
 * by address where the object is unknown; 0 for the same stack. */
int hs_stack_compare(const hs_site *a, const hs_site *b);

#endif /* HAKSTAT_DUMP_H */
