/*
 * Writes docs/ENV.md from env.def, and checks env.def while doing so.
 *
 *   gen_env_doc            the document on stdout
 *   gen_env_doc FILE       the document into FILE
 *   gen_env_doc --check FILE
 *                          exit status 1 if FILE differs from what would be written
 *
 * A build tool, not part of the library: it may use stdio and allocate.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docgen.h"

typedef struct doc_row {
    const char *name;
    const char *type;     /* "BOOL", "INT", "SIZE", "ENUM" or "PATH" */
    int64_t def;          /* all but PATH */
    const char *def_path; /* PATH */
    int64_t min, max;
    const char *choices;
    const char *doc;
} doc_row;

/* The default column is a number or, for PATH, a string literal. */
#define DOC_NUM_BOOL(d) (d)
#define DOC_NUM_INT(d) (d)
#define DOC_NUM_SIZE(d) (d)
#define DOC_NUM_ENUM(d) (d)
#define DOC_NUM_PATH(d) 0
#define DOC_STR_BOOL(d) NULL
#define DOC_STR_INT(d) NULL
#define DOC_STR_SIZE(d) NULL
#define DOC_STR_ENUM(d) NULL
#define DOC_STR_PATH(d) (d)

static const doc_row rows[] = {
#define HAKMEM_ENV(name, field, type, def, min, max, choices, doc)                                 \
    {"HAKMEM_" #name, #type, DOC_NUM_##type(def), DOC_STR_##type(def), (min), (max), (choices), (doc)},
#include "env.def"
#undef HAKMEM_ENV
};

#define ROW_COUNT (sizeof(rows) / sizeof(rows[0]))

// ------------------------------------------------------------- checking env.def

static bool is_type(const doc_row *r, const char *type) { return strcmp(r->type, type) == 0; }

static int64_t count_words(const char *choices)
{
    int64_t n = 1;
    for (; *choices != '\0'; choices++)
        n += *choices == '|';
    return n;
}

/* The first thing wrong with a row, or NULL. */
static const char *row_problem(const doc_row *r)
{
    if (r->doc[0] == '\0' || strchr(r->doc, '\n') != NULL)
        return "the description must be one non-empty line";
    if (is_type(r, "PATH"))
        return r->choices[0] != '\0' ? "choices must be \"\" for PATH" : NULL;
    if (is_type(r, "ENUM")) {
        if (r->choices[0] == '\0' || strstr(r->choices, "||") != NULL || r->choices[0] == '|' ||
            r->choices[strlen(r->choices) - 1] == '|')
            return "ENUM choices must be non-empty words separated by |";
        if (r->min != 0 || r->max != count_words(r->choices) - 1)
            return "ENUM range must be 0, number of choices - 1";
    } else if (r->choices[0] != '\0') {
        return "choices must be \"\" for all but ENUM";
    }
    if (is_type(r, "BOOL") && (r->min != 0 || r->max != 1))
        return "BOOL range must be 0, 1";
    if (is_type(r, "SIZE") && r->min < 0)
        return "SIZE minimum must not be negative";
    if (r->def < r->min || r->def > r->max)
        return "default outside [min, max]";
    return NULL;
}

static bool table_is_valid(void)
{
    bool ok = true;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const char *problem = row_problem(&rows[i]);
        if (problem != NULL) {
            fprintf(stderr, "env.def: %s: %s\n", rows[i].name, problem);
            ok = false;
        }
    }
    return ok;
}

// ------------------------------------------------------------- the document

static const char intro[] =
    "# HAKMEM_* environment variables\n"
    "\n"
    "<!-- Generated from src/env/env.def by tools/docgen/gen_env_doc.c; do not edit.\n"
    "     Regenerate with `cmake --build build --target env_doc`. -->\n"
    "\n"
    "hakmem reads its configuration from `HAKMEM_*` environment variables once, when it\n"
    "initialises (at the process's first allocation); changing them later has no effect.\n"
    "\n"
    "## How values are read\n"
    "\n"
    "- **bool**: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`, in any case.\n"
    "- **int**: a decimal integer, with an optional leading `-`, within the range shown.\n"
    "- **size**: a decimal number of bytes, optionally followed by `K`, `M` or `G` (powers\n"
    "  of 1024; `KB`/`KiB` forms and any case are accepted too), within the range shown:\n"
    "  `64M` is 67108864.\n"
    "- **enum**: one of the words shown, in any case.\n"
    "- **path**: any non-empty string.\n"
    "\n"
    "Nothing else is accepted: no spaces, no `+`, no fractions, no hexadecimal.\n"
    "\n"
    "A malformed value (a word that is not a boolean, a number with trailing characters\n"
    "such as `12x`, an empty value, a number out of range or too large to represent) is\n"
    "reported with one line on stderr that names the variable, the value and the\n"
    "default, and the default is used:\n"
    "\n"
    "    hakmem: HAKMEM_PURGE_DELAY_MS=\"12x\" is not an integer in [0, 3600000]; using the default 250\n"
    "\n"
    "An unknown `HAKMEM_*` name is reported with the closest known name, if one is close:\n"
    "\n"
    "    hakmem: unknown variable HAKMEM_VERBOS; did you mean HAKMEM_VERBOSE?\n"
    "\n"
    "Variables whose names do not start with `HAKMEM_` are ignored.\n"
    "\n"
    "With `HAKMEM_STRICT_ENV=1` either problem is fatal: hakmem prints the lines, then one\n"
    "more saying so, and exits with status 2.  With `HAKMEM_VERBOSE=1` it prints every\n"
    "variable's effective value on stderr at start-up, one line each, marked `(default)` or\n"
    "`(environment)`; sizes in bytes, enums as their word.  Both take effect wherever they\n"
    "appear in the environment.\n"
    "\n"
    "## Variables\n"
    "\n"
    "| Variable | Type | Default | Accepted | Description |\n"
    "|----------|------|---------|----------|-------------|\n";

static void put_lower(FILE *out, const char *s)
{
    for (; *s != '\0'; s++)
        fputc(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s, out);
}

/* Bytes, with the exact binary unit after them when there is one: "67108864 (64 MiB)". */
static void put_size(FILE *out, int64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    int unit = -1;
    fprintf(out, "%" PRId64, bytes);
    while (bytes != 0 && bytes % 1024 == 0 && unit < 3) {
        bytes /= 1024;
        unit++;
    }
    if (unit >= 0)
        fprintf(out, " (%" PRId64 " %s)", bytes, units[unit]);
}

static void put_choice(FILE *out, const char *choices, int64_t index)
{
    for (int64_t i = 0; i < index; i++)
        choices += strcspn(choices, "|") + 1;
    fprintf(out, "`%.*s`", (int)strcspn(choices, "|"), choices);
}

static void put_default(FILE *out, const doc_row *r)
{
    if (is_type(r, "PATH")) {
        fprintf(out, "`\"%s\"`", r->def_path);
    } else if (is_type(r, "ENUM")) {
        put_choice(out, r->choices, r->def);
    } else if (is_type(r, "SIZE")) {
        put_size(out, r->def);
    } else {
        fprintf(out, "%" PRId64, r->def);
    }
}

static void put_accepted(FILE *out, const doc_row *r)
{
    if (is_type(r, "PATH")) {
        fputs("any non-empty string", out);
    } else if (is_type(r, "ENUM")) {
        for (int64_t i = 0; i <= r->max; i++) {
            fputs(i > 0 ? ", " : "", out);
            put_choice(out, r->choices, i);
        }
    } else if (is_type(r, "BOOL")) {
        fputs("0 or 1", out);
    } else if (is_type(r, "SIZE")) {
        put_size(out, r->min);
        fputs(" to ", out);
        put_size(out, r->max);
    } else {
        fprintf(out, "%" PRId64 " to %" PRId64, r->min, r->max);
    }
}

/* A table cell may not hold a bare '|'. */
static void put_cell_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

static void put_document(FILE *out)
{
    fputs(intro, out);
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const doc_row *r = &rows[i];
        fprintf(out, "| `%s` | ", r->name);
        put_lower(out, r->type);
        fputs(" | ", out);
        put_default(out, r);
        fputs(" | ", out);
        put_accepted(out, r);
        fputs(" | ", out);
        put_cell_text(out, r->doc);
        fputs(" |\n", out);
    }
}

// ------------------------------------------------------------- main

int main(int argc, char **argv)
{
    static const docgen g = {"src/env/env.def", "env_doc", table_is_valid, put_document};
    return docgen_main(&g, argc, argv);
}
