/*
 * Writes docs/STATS.md from counters.def, and checks counters.def while doing so.
 *
 *   gen_stats_doc            the document on stdout
 *   gen_stats_doc FILE       the document into FILE
 *   gen_stats_doc --check FILE
 *                            exit status 1 if FILE differs from what would be written
 *
 * The fixed fields of the dump (pid, config, levels such as RSS) are written
 * here in prose; every counter comes from the table.  A build tool, not part
 * of the library: it may use stdio and allocate.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docgen.h"

typedef struct counter_row {
    const char *id;
    const char *group; /* NULL for a per-class counter */
    const char *key;
    const char *unit;
    const char *doc;
} counter_row;

static const counter_row rows[] = {
#define HAK_CLASS_COUNTER(id, key, unit, doc) {#id, NULL, key, unit, doc},
#define HAK_COUNTER(id, group, key, unit, doc) {#id, group, key, unit, doc},
#include "counters.def"
};

#define ROW_COUNT (sizeof(rows) / sizeof(rows[0]))

/* Levels read when the dump is written, not counted: no row in counters.def. */
static const counter_row levels[] = {
    {"", "threads", "live", "threads", "threads with a heap when the dump was written"},
    {"", "os", "mapped_bytes", "bytes", "bytes hakmem had mapped when the dump was written"},
    {"", "os", "mapped_peak_bytes", "bytes", "the most bytes hakmem had mapped at any time"},
};

#define LEVEL_COUNT (sizeof(levels) / sizeof(levels[0]))

static const char *const class_tiers[] = {"tiny", "mid", "pool"};

// ------------------------------------------------------------- checking counters.def

static bool same(const char *a, const char *b) { return a != NULL && b != NULL && !strcmp(a, b); }

static bool is_word(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool is_tier(const char *group)
{
    return same(group, "tiny") || same(group, "mid") || same(group, "pool") || same(group, "large");
}

/* A tier whose object also holds the per-class counters summed. */
static bool is_class_tier(const char *group)
{
    return same(group, "tiny") || same(group, "mid") || same(group, "pool");
}

/* Whether two rows would write the same key into one object of the dump. */
static bool clash(const counter_row *a, const counter_row *b)
{
    if (!same(a->key, b->key))
        return false;
    if (a->group == NULL || b->group == NULL)
        return a->group == b->group || is_class_tier(a->group) || is_class_tier(b->group);
    return same(a->group, b->group);
}

/* The first thing wrong with row i, or NULL. */
static const char *row_problem(size_t i)
{
    static const char *const units[] = {"blocks",   "bytes",   "events", "slabs", "calls",
                                        "segments", "threads", "pages",  "ns",    "chunks"};
    const counter_row *r = &rows[i];
    bool known_unit = false;
    if (r->doc[0] == '\0' || strchr(r->doc, '\n') != NULL || strchr(r->doc, '|') != NULL)
        return "the meaning must be one non-empty line without '|'";
    if (!is_word(r->key) || (r->group != NULL && !is_word(r->group)))
        return "group and key must be lower-case words (a-z, 0-9, _)";
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
        known_unit |= same(r->unit, units[u]);
    if (!known_unit)
        return "unknown unit (add it to the list in gen_stats_doc.c)";
    for (size_t j = 0; j < i; j++)
        if (clash(&rows[j], r))
            return "the same key twice in one object of the dump";
    return NULL;
}

static bool table_is_valid(void)
{
    bool ok = true;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const char *problem = row_problem(i);
        if (problem != NULL) {
            fprintf(stderr, "counters.def: %s: %s\n", rows[i].id, problem);
            ok = false;
        }
    }
    return ok;
}

// ------------------------------------------------------------- the document

static const char intro[] =
    "# The stats dump (`hakmem.stats/1`)\n"
    "\n"
    "<!-- Generated from src/stats/counters.def by tools/docgen/gen_stats_doc.c; do not edit.\n"
    "     Regenerate with `cmake --build build --target stats_doc`. -->\n"
    "\n"
    "hakmem can count what it does and write it down as one JSON document per\n"
    "process: how many blocks of each size class were handed out and freed, by which\n"
    "thread, how often the thread caches missed, what was asked of the OS. This page\n"
    "describes how to get that document and every field in it.\n"
    "\n"
    "## Getting a dump\n"
    "\n"
    "- `HAKMEM_STATS=1` turns counting on when the process starts and writes the dump\n"
    "  when it exits. With it off (the default) the counters are never touched.\n"
    "- `HAKMEM_STATS_FILE` says where: `%p` in it becomes the process id, so a program\n"
    "  that forks, or several running at once, write one file each; `-` is standard\n"
    "  error. The default is `hakmem.%p.json` in the current directory. A dump is\n"
    "  written to a temporary file and renamed, so a reader never sees half of one.\n"
    "- `HAKMEM_STATS_SIGNAL=USR1` (or `USR2`, `HUP`) turns counting on and writes a\n"
    "  snapshot each time that signal arrives: for servers that do not exit.\n"
    "- `HAKMEM_SIZE_HIST=1` also counts requested sizes in power-of-two buckets\n"
    "  (`histogram` below).\n"
    "- From code: `hak_stats_dump(fd)` writes the document to a file descriptor, and\n"
    "  `hak_stats_get(\"tiers.tiny.alloc\", &value)` reads one number of it by its path\n"
    "  (`include/hakmem.h`).\n"
    "- `hakstat run -- CMD ARGS...` does all of this for one command and prints a\n"
    "  summary (below).\n"
    "\n"
    "Every counter counts events since the process started; a forked child starts\n"
    "again from zero and writes its own dump, except that `slabs_new` starts at the\n"
    "slabs it inherited and `threads.started` at its one thread, so `slabs_in_use` and\n"
    "`threads.live` stay true. Levels (bytes mapped now, RSS) are read when the dump\n"
    "is written. All numbers are non-negative integers.\n"
    "\n"
    "## The document\n"
    "\n"
    "```json\n"
    "{\n"
    "  \"schema\": \"hakmem.stats/1\", \"pid\": 1234, \"program\": \"sqlite3\", \"reason\": "
    "\"exit\",\n"
    "  \"start_unix_ms\": 1763875931123, \"end_unix_ms\": 1763875933456, \"elapsed_ms\": 2333,\n"
    "  \"config\": [{\"name\": \"HAKMEM_TINY_USE_SUPERSLAB\", \"value\": 1, \"source\": "
    "\"default\"}],\n"
    "  \"env_warnings\": 0,\n"
    "  \"process\": {...}, \"threads\": {...}, \"os\": {...}, \"totals\": {...},\n"
    "  \"tiers\": {\"tiny\": {...}, \"mid\": {...}, \"pool\": {...}, \"large\": {...}},\n"
    "  \"realloc\": {...},\n"
    "  \"classes\": [{\"class\": 0, \"size\": 16, \"tier\": \"tiny\", \"alloc\": 10, ...}],\n"
    "  \"histogram\": {\"enabled\": true, \"buckets\": [{\"max\": 16, \"count\": 10}]}\n"
    "}\n"
    "```\n"
    "\n"
    "A reader must ignore fields it does not know: later versions of hakmem add\n"
    "fields (for example objects inside `tiers.mid`) without changing `schema`. A field\n"
    "is removed or changes meaning only with a new schema version.\n"
    "\n"
    "### Top-level fields\n"
    "\n"
    "| Field | Type | Meaning |\n"
    "|-------|------|---------|\n"
    "| `schema` | string | always `\"hakmem.stats/1\"` for this layout |\n"
    "| `pid` | number | the process id |\n"
    "| `program` | string | the executable's file name, without its directory |\n"
    "| `reason` | string | why it was written: `\"exit\"` (at process exit), `\"signal\"` "
    "(`HAKMEM_STATS_SIGNAL`), `\"api\"` (`hak_stats_dump`) |\n"
    "| `start_unix_ms` | number | when hakmem initialised, milliseconds since 1970 (UTC) |\n"
    "| `end_unix_ms` | number | when the dump was written, the same way |\n"
    "| `elapsed_ms` | number | the milliseconds between the two |\n"
    "| `config` | array | every `HAKMEM_*` variable, in the order of docs/ENV.md (below) |\n"
    "| `env_warnings` | number | warnings hakmem printed about `HAKMEM_*` variables "
    "(malformed values, unknown names) |\n"
    "| `process` | object | the process's memory (below) |\n"
    "| `threads` | object | threads (below) |\n"
    "| `os` | object | what hakmem asked of the OS (below) |\n"
    "| `totals` | object | all tiers together (below) |\n"
    "| `tiers` | object | `tiny`, `mid`, `pool` and `large` (below) |\n"
    "| `realloc` | object | `realloc` calls (below) |\n"
    "| `classes` | array | one object per size class that saw any activity (below) |\n"
    "| `histogram` | object | requested sizes (below) |\n"
    "| `sites` | object | allocation sites, only with `HAKMEM_PROF_SAMPLE` on (below) |\n"
    "\n"
    "### `config`\n"
    "\n"
    "One object per `HAKMEM_*` variable (all of them, set or not):\n"
    "\n"
    "| Field | Type | Meaning |\n"
    "|-------|------|---------|\n"
    "| `name` | string | the variable, e.g. `\"HAKMEM_PURGE_DELAY_MS\"` |\n"
    "| `value` | number or string | the effective value: a number for bool (0 or 1), int and "
    "size (bytes); the word for an enum; the string for a path |\n"
    "| `source` | string | `\"environment\"` if the variable was set (and valid), else "
    "`\"default\"` |\n"
    "\n"
    "### `process`\n"
    "\n"
    "| Field | Unit | Meaning |\n"
    "|-------|------|---------|\n"
    "| `rss_bytes` | bytes | the process's resident set when the dump was written |\n"
    "| `rss_peak_bytes` | bytes | its largest resident set so far (VmHWM) |\n";

static const char tiers_text[] =
    "\n"
    "### `tiers`\n"
    "\n"
    "`tiny` (up to 1 KiB), `mid` (up to 32 KiB) and `pool` (up to 1 MiB) serve blocks of\n"
    "fixed size classes. Each of their objects holds every per-class counter (see\n"
    "`classes`) summed over the tier's classes, two more fields, and the counters of\n"
    "the tier's own group:\n"
    "\n"
    "| Field | Unit | Meaning |\n"
    "|-------|------|---------|\n"
    "| *every per-class counter* | | summed over the tier's classes |\n"
    "| `bytes_allocated` | bytes | the usable size of every block handed out (its "
    "class's size), summed |\n"
    "| `slabs_in_use` | slabs | slabs the tier holds when the dump is written |\n";

static const char classes_text[] =
    "\n"
    "### `classes`\n"
    "\n"
    "One object per size class with any counter not zero, in ascending `class`. The\n"
    "classes are those of `src/size_classes.def`.\n"
    "\n"
    "| Field | Unit | Meaning |\n"
    "|-------|------|---------|\n"
    "| `class` | | the class number |\n"
    "| `size` | bytes | the class's block size |\n"
    "| `tier` | | `\"tiny\"`, `\"mid\"` or `\"pool\"` |\n";

static const char histogram_text[] =
    "\n"
    "### `histogram`\n"
    "\n"
    "| Field | Type | Meaning |\n"
    "|-------|------|---------|\n"
    "| `enabled` | boolean | `true` when `HAKMEM_SIZE_HIST=1` recorded sizes |\n"
    "| `buckets` | array | `{\"max\": M, \"count\": N}`: N requests asked for a size in "
    "(M/2, M]; the first bucket, `max` 1, counts sizes 0 and 1. Powers of two, ascending, "
    "non-zero buckets only; `[]` when not enabled. The counts add up to `totals.alloc` |\n";

static const char sites_text[] =
    "\n"
    "### `sites`\n"
    "\n"
    "Present only when `HAKMEM_PROF_SAMPLE` is above 0, which also writes the dump at\n"
    "exit (counting stays as `HAKMEM_STATS` says). Each thread counts down the bytes it\n"
    "allocates and samples the allocation that crosses zero; the next distance is drawn\n"
    "from an exponential distribution of mean `HAKMEM_PROF_SAMPLE` bytes, so every byte\n"
    "is as likely to be sampled as any other, whatever the size of its block. A sampled\n"
    "block's call stack (up to `HAKMEM_PROF_DEPTH` frames, taken with libunwind) is\n"
    "counted at its site, the distinct stack; its free is recognised. A sample of `s`\n"
    "bytes stands for `s / (1 - exp(-s / HAKMEM_PROF_SAMPLE))` bytes, which makes the byte\n"
    "estimates unbiased. Blocks the next allocator serves (`HAKMEM_WRAP_L2=0`) are not\n"
    "sampled.\n"
    "\n"
    "| Field | Type | Meaning |\n"
    "|-------|------|---------|\n"
    "| `sample_bytes` | number | `HAKMEM_PROF_SAMPLE`: the mean bytes between samples |\n"
    "| `depth` | number | `HAKMEM_PROF_DEPTH`: the most frames kept per stack |\n"
    "| `samples` | number | sampled allocations so far, all sites |\n"
    "| `samples_live` | number | of those, the ones not freed yet |\n"
    "| `unrecorded` | number | samples dropped because a table was full (16,384 sites, "
    "196,608 live samples) |\n"
    "| `stacks` | array | one object per site, in the order they were first seen (below) |\n"
    "\n"
    "Each element of `stacks`:\n"
    "\n"
    "| Field | Type | Meaning |\n"
    "|-------|------|---------|\n"
    "| `samples` | number | sampled allocations at this site |\n"
    "| `samples_live` | number | of those, not freed yet |\n"
    "| `requested_bytes` | bytes | the sampled allocations' requested sizes, summed |\n"
    "| `allocated_bytes` | bytes | estimated bytes allocated here since the start (all "
    "allocations, not only the sampled ones) |\n"
    "| `live_bytes` | bytes | estimated bytes allocated here and not freed yet |\n"
    "| `frames` | array | the call stack, innermost (the call of `malloc`, `new`, ...) "
    "first; hakmem's own frames are left out |\n"
    "\n"
    "Each frame, resolved with `dladdr` when the dump is written:\n"
    "\n"
    "| Field | Type | Meaning |\n"
    "|-------|------|---------|\n"
    "| `addr` | string | the return address, `\"0x...\"` |\n"
    "| `obj` | string | the file of the object that holds it (`\"\"` if none) |\n"
    "| `obj_offset` | string | the address less the object's load address, `\"0x...\"`: "
    "what `addr2line -e OBJ` takes |\n"
    "| `sym` | string or null | the dynamic symbol around the address; `null` for a static "
    "function or an executable built without `-rdynamic` |\n"
    "| `sym_offset` | number | the address less the symbol's; only where `sym` is a string |\n"
    "\n"
    "## Reading it with hakstat\n"
    "\n"
    "`hakstat` (built to `build/bin/hakstat`, installed next to the library) turns dumps\n"
    "into something a person reads in ten seconds:\n"
    "\n"
    "```sh\n"
    "hakstat run -- sqlite3 db 'select ...'  # run with stats on, print the summary\n"
    "hakstat hakmem.*.json                   # the sum of several dumps (a forked program)\n"
    "hakstat diff a.json b.json              # two runs side by side, with the change\n"
    "hakstat --json hakmem.1234.json         # the same figures as JSON, for scripts\n"
    "hakstat top hakmem.1234.json            # the heaviest allocation sites (sampling on)\n"
    "```\n"
    "\n"
    "The summary shows the totals and internal waste (bytes allocated beyond those\n"
    "requested), the thread-cache hit rates (1 - `refill`/`alloc`), the share of remote\n"
    "frees (`free_remote`/`free`), the tiny drain counters, memory mapped and resident,\n"
    "each tier, the top size classes and the histogram as bars. `hakstat --help` lists\n"
    "the options and exit codes.\n";

static const char *where(const char *group) { return is_tier(group) ? "tiers." : ""; }

/* The counters of one group (NULL: the per-class ones), then its levels. */
static void put_rows(FILE *out, const char *group)
{
    for (size_t i = 0; i < ROW_COUNT; i++)
        if (group == NULL ? rows[i].group == NULL : same(rows[i].group, group))
            fprintf(out, "| `%s` | %s | %s |\n", rows[i].key, rows[i].unit, rows[i].doc);
    for (size_t i = 0; group != NULL && i < LEVEL_COUNT; i++)
        if (same(levels[i].group, group))
            fprintf(out, "| `%s` | %s | %s (a level, not a counter) |\n", levels[i].key,
                    levels[i].unit, levels[i].doc);
}

static bool seen_before(size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (same(rows[j].group, rows[i].group))
            return true;
    return false;
}

/* MF2's counters are an object inside the mid tier, not at the top level. */
static bool is_mid_part(const char *group) { return same(group, "mf2"); }

/* Every other group that is not a tier: an object at the top level. */
static void put_other_groups(FILE *out)
{
    for (size_t i = 0; i < ROW_COUNT; i++) {
        if (rows[i].group == NULL || is_tier(rows[i].group) || is_mid_part(rows[i].group) ||
            seen_before(i))
            continue;
        fprintf(out, "\n### `%s`\n\n| Field | Unit | Meaning |\n|-------|------|---------|\n",
                rows[i].group);
        put_rows(out, rows[i].group);
    }
}

static const char totals_text[] =
    "\n### `totals`\n"
    "\n"
    "All tiers together (the three class tiers and `large`):\n"
    "\n"
    "| Field | Unit | Meaning |\n"
    "|-------|------|---------|\n"
    "| `alloc` | blocks | blocks handed out |\n"
    "| `free` | blocks | blocks freed |\n"
    "| `bytes_requested` | bytes | sum of the sizes asked for |\n"
    "| `bytes_allocated` | bytes | sum of the usable sizes handed out |\n";

static void put_tiers(FILE *out)
{
    fputs(tiers_text, out);
    for (size_t t = 0; t < sizeof(class_tiers) / sizeof(class_tiers[0]); t++) {
        fprintf(out, "\n#### `%s%s`\n\n", where(class_tiers[t]), class_tiers[t]);
        fputs("The per-class counters summed, `bytes_allocated`, `slabs_in_use`, and:\n\n"
              "| Field | Unit | Meaning |\n|-------|------|---------|\n",
              out);
        put_rows(out, class_tiers[t]);
        if (same(class_tiers[t], "mid")) {
            fputs("\n#### `tiers.mid.mf2`\n\n"
                  "MF2's per-thread 64 KiB mid pages (`HAKMEM_MF2_ENABLE`); with MF2 off the\n"
                  "mid tier is the shared pool and these stay 0:\n\n"
                  "| Field | Unit | Meaning |\n|-------|------|---------|\n"
                  "| `enabled` | boolean | `HAKMEM_MF2_ENABLE` in this process |\n",
                  out);
            put_rows(out, "mf2");
        }
    }
    fputs("\n#### `tiers.large`\n\n"
          "Blocks above 1 MiB (or aligned beyond any class) are mappings of their own, with\n"
          "no class:\n\n"
          "| Field | Unit | Meaning |\n|-------|------|---------|\n",
          out);
    put_rows(out, "large");
}

static void put_document(FILE *out)
{
    fputs(intro, out);
    put_other_groups(out);
    fputs(totals_text, out);
    put_tiers(out);
    fputs(classes_text, out);
    put_rows(out, NULL);
    fputs(histogram_text, out);
    fputs(sites_text, out);
}

// ------------------------------------------------------------- main

int main(int argc, char **argv)
{
    static const docgen g = {"src/stats/counters.def", "stats_doc", table_is_valid, put_document};
    return docgen_main(&g, argc, argv);
}
