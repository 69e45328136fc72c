/*
 * hakstat: reads hakmem's JSON stats dumps (docs/STATS.md) and tells a
 * person what the allocator did.  Subcommands: summary (the default), diff,
 * run.
 */
#include "hakstat.h"
#include "summary.h"

#include <string.h>

// ------------------------------------------------------------- usage

static const char usage_synopsis[] = "usage: hakstat [summary] [--json] FILE...\n"
                                     "       hakstat diff [--json] A B\n"
                                     "       hakstat run [--json] [-o OUT] [--] CMD [ARGS...]\n"
                                     "       hakstat [COMMAND] --help\n";

static const char usage_summary[] =
    "hakstat [summary] [--json] FILE...\n"
    "    Reads one or more stats dumps (schema \"hakmem.stats/1\", written by a\n"
    "    program run with HAKMEM_STATS=1) and prints what the allocator did:\n"
    "    totals, cache hit and remote-free rates, memory mapped and resident, each\n"
    "    tier, the top size classes and the histogram of requested sizes.  Several\n"
    "    dumps (a program that forks, a batch of runs) are added together and the\n"
    "    number of processes is shown.  FILE - reads standard input.  A FILE named\n"
    "    like a command needs the word summary first (hakstat summary diff).\n"
    "    --json   print the computed figures as one JSON document instead\n";

static const char usage_diff[] =
    "hakstat diff [--json] A B\n"
    "    Prints every figure of the summary for dump A and dump B side by side,\n"
    "    with the change from A to B (absolute, and relative where A is not 0;\n"
    "    rates change in percentage points), and the HAKMEM_* settings that\n"
    "    differ: for A/B runs of one switch.\n"
    "    --json   print the figures and their changes as one JSON document\n";

static const char usage_run[] =
    "hakstat run [--json] [-o OUT] [--] CMD [ARGS...]\n"
    "    Runs CMD with hakmem preloaded (LD_PRELOAD, kept after an LD_PRELOAD\n"
    "    already set), HAKMEM_STATS=1, HAKMEM_SIZE_HIST=1 (unless set) and the\n"
    "    dumps going to a private temporary directory; waits for CMD, then prints\n"
    "    the summary of every dump written (CMD and the processes it started),\n"
    "    removes them, and exits with CMD's exit code (128 + N if a signal N\n"
    "    killed it; 127 if CMD could not be started).  The summary goes to\n"
    "    standard error, so CMD's standard output stays its own.\n"
    "    --json   print the summary as JSON\n"
    "    -o OUT   write the summary to the file OUT instead of standard error\n"
    "    The library is HAKMEM_LIB if set, else libhakmem.so found from where\n"
    "    hakstat is: ../lib, ../lib/<multiarch>, ../<libdir>.\n";

static const char usage_rest[] =
    "\n"
    "EXIT STATUS\n"
    "    0   success\n"
    "    1   the output could not be written\n"
    "    2   bad arguments, or a FILE that is missing, unreadable, not JSON, not a\n"
    "        hakmem.stats/1 dump, or missing a field (one line on stderr each:\n"
    "        hakstat: FILE: what is wrong)\n"
    "    run exits with CMD's own status instead (see above); 2 if it could not\n"
    "    set up the run (no libhakmem.so, no temporary directory).\n"
    "\n"
    "ENVIRONMENT\n"
    "    HAKMEM_LIB   the hakmem library hakstat run preloads\n"
    "\n"
    "EXAMPLES\n"
    "    hakstat run -- sqlite3 db.sqlite 'select count(*) from t'\n"
    "    HAKMEM_STATS=1 HAKMEM_STATS_FILE=/tmp/a.%p.json prog; hakstat /tmp/a.*.json\n"
    "    hakstat diff --json a.json b.json | jq .figures.rates\n"
    "\n"
    "SEE ALSO\n"
    "    docs/STATS.md (every field of the dump), docs/ENV.md (HAKMEM_* variables)\n";

void hs_usage(FILE *out, const char *command)
{
    if (command == NULL) {
        fprintf(out,
                "hakstat - read hakmem's allocator statistics\n\n%s\nCOMMANDS\n    %s\n    %s\n    "
                "%s%s",
                usage_synopsis, usage_summary, usage_diff, usage_run, usage_rest);
        return;
    }
    const char *text = strcmp(command, "diff") == 0  ? usage_diff
                       : strcmp(command, "run") == 0 ? usage_run
                                                     : usage_summary;
    fprintf(out, "usage: %s%s", text, usage_rest);
}

// ------------------------------------------------------------- summary and diff

int hs_write_summary(FILE *out, const hs_dump *d, bool json)
{
    if (json)
        hs_json_print(out, hs_summary_json(d));
    else
        hs_summary_print(out, d);
    if (fflush(out) != 0 || ferror(out)) {
        perror("hakstat: writing the summary");
        return HS_EXIT_FAILED;
    }
    return HS_EXIT_OK;
}

/* Options of summary and diff; the index of the first file, -1 on a usage
 * error, 0 after --help. */
static int parse_opts(int argc, char **argv, const char *command, bool *json)
{
    int i = 1;
    *json = false;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0)
            return i + 1;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            hs_usage(stdout, command);
            return 0;
        }
        if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, "hakstat %s: unknown option %s\n%s", command, argv[i], usage_synopsis);
            return -1;
        }
        *json = true;
    }
    return i;
}

/* Loads and sums files; false (after a line for each bad one) if any is bad. */
static bool load_all(char **files, int n, hs_dump *sum)
{
    bool ok = true;
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < n; i++) {
        hs_dump one;
        char err[HS_ERR_MAX];
        if (hs_dump_load(files[i], &one, err) != 0) {
            fprintf(stderr, "hakstat: %s: %s\n", files[i], err);
            ok = false;
            continue;
        }
        hs_dump_add(sum, &one);
        hs_dump_free(&one);
    }
    return ok;
}

static int summary_main(int argc, char **argv)
{
    bool json;
    hs_dump sum;
    int first = parse_opts(argc, argv, "summary", &json);
    if (first <= 0)
        return first == 0 ? HS_EXIT_OK : HS_EXIT_USAGE;
    if (first == argc) {
        fprintf(stderr, "hakstat: no dump to read\n%s", usage_synopsis);
        return HS_EXIT_USAGE;
    }
    int status = load_all(argv + first, argc - first, &sum) ? hs_write_summary(stdout, &sum, json)
                                                            : HS_EXIT_USAGE;
    hs_dump_free(&sum);
    return status;
}

static int diff_main(int argc, char **argv)
{
    bool json;
    hs_dump a, b;
    int first = parse_opts(argc, argv, "diff", &json);
    if (first <= 0)
        return first == 0 ? HS_EXIT_OK : HS_EXIT_USAGE;
    if (argc - first != 2) {
        fprintf(stderr, "hakstat diff: needs two dumps, A and B\n%s", usage_synopsis);
        return HS_EXIT_USAGE;
    }
    bool ok_a = load_all(argv + first, 1, &a), ok_b = load_all(argv + first + 1, 1, &b);
    int status = HS_EXIT_USAGE;
    if (ok_a && ok_b) {
        if (json)
            hs_json_print(stdout, hs_diff_json(&a, &b));
        else
            hs_diff_print(stdout, &a, &b);
        status = fflush(stdout) == 0 && !ferror(stdout) ? HS_EXIT_OK : HS_EXIT_FAILED;
    }
    hs_dump_free(&a);
    hs_dump_free(&b);
    return status;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (argc < 2) {
        fputs(usage_synopsis, stderr);
        return HS_EXIT_USAGE;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        hs_usage(stdout, NULL);
        return HS_EXIT_OK;
    }
    if (strcmp(cmd, "summary") == 0)
        return summary_main(argc - 1, argv + 1);
    if (strcmp(cmd, "diff") == 0)
        return diff_main(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return hs_run_main(argc - 1, argv + 1);
    return summary_main(argc, argv);
}
