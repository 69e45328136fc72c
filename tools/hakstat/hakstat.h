/* What main.c and run.c share: exit codes, usage texts, loading files. */
#ifndef HAKSTAT_H
#define HAKSTAT_H

#include <stdbool.h>
#include <stdio.h>

#include "dump.h"

/* Exit codes (hakstat --help, EXIT STATUS). `run` passes CMD's own on. */
enum {
    HS_EXIT_OK = 0,
    HS_EXIT_FAILED = 1, /* the output could not be written */
    HS_EXIT_USAGE = 2,  /* bad arguments or a bad dump */
    HS_EXIT_NOEXEC = 127,
};

/* The usage of a subcommand ("summary", "diff", "run") or of all (NULL). */
void hs_usage(FILE *out, const char *command);

/* Writes a summary of d (or its JSON) to out; HS_EXIT_OK or HS_EXIT_FAILED. */
int hs_write_summary(FILE *out, const hs_dump *d, bool json);

/* `hakstat run ...`, argv[0] being "run". */
int hs_run_main(int argc, char **argv);

#endif /* HAKSTAT_H */
