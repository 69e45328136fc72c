/*
 * The command line shared by the generators of docs/ENV.md
 * and docs/STATS.md (gen_env_doc, gen_stats_doc).  Each writes its document
 * from one table; this writes it to a file or stdout, or with --check
 * compares it with the checked-in file.
 */
#ifndef HAK_DOCGEN_H
#define HAK_DOCGEN_H

#include <stdbool.h>
#include <stdio.h>

typedef struct docgen {
    const char *table;        /* the source of truth, for the stale message */
    const char *target;       /* the CMake target that regenerates the document */
    bool (*table_is_valid)(void);
    void (*put_document)(FILE *out);
} docgen;

/* usage: PROGRAM [[--check] FILE]; 0 ok, 1 stale or invalid, 2 usage. */
int docgen_main(const docgen *g, int argc, char **argv);

#endif /* HAK_DOCGEN_H */
