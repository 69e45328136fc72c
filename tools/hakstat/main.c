/*
 * hakstat: reads hakmem's JSON stats dumps (docs/STATS.md) and tells a
 * person what the allocator did.  Subcommands: summary (the default), diff,
 * top, run.
 */
#include "hakstat.h"
#include "summary.h"
#include "top.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

// ------------------------------------------------------------- usage

static const char usage_synopsis[] = "usage: hakstat [summary] [--json] FILE...\n"
                                     "       hakstat diff [--json] A B\n"
                                     "       hakstat top [--by allocated|live|count] [-n N]\n"
                                     "                   [--json | --folded] FILE...\n"
                                     "       hakstat run [--json] [-o OUT] [--] CMD [ARGS...]\n"
                                     "       hakstat [COMMAND] --help\n";

static const char usage_summary[] =
    "hakstat [summary] [--json] FILE...\n"
    "    Reads one or more stats dumps (schema \"hakmem.stats/1\", written by a\n"
    "    program run with HAKMEM_STATS=1) and prints what the allocator did:\n"
    "    totals, cache hit and remote-free rates, memory mapped and resident, each\n"
    "    tier, the top size classes, the top allocation sites (dumps written with\n"
    "    HAKMEM_PROF_SAMPLE set) and the histogram of requested sizes.  Several\n"
    "    dumps (a program that forks, a batch of runs) are added together and the\n"
    "    number of processes is shown.  FILE - reads standard input.  A FILE named\n"
    "    like a command needs the word summary first (hakstat summary diff).\n"
    "    --json   print the computed figures as one JSON document instead\n";

static const char usage_diff[] =
    "hakstat diff [--json] A B\n"
    "    Prints every figure of the summary for dump A and dump B side by side,\n"
    "    with the change from A to B (absolute, and relative where A is not 0;\n"
    "    rates change in percentage points), the five allocation sites whose\n"
    "    bytes allocated or live changed most (the same stack in A and B, where\n"
    "    both have sites) and the HAKMEM_* settings that differ: for A/B runs of\n"
    "    one switch, or two snapshots of a server to see what grew.\n"
    "    --json   print the figures and their changes as one JSON document\n";

static const char usage_top[] =
    "hakstat top [--by allocated|live|count] [-n N] [--json | --folded] FILE...\n"
    "    Prints the allocation sites (call stacks) that weigh most, from dumps of\n"
    "    a program run with HAKMEM_PROF_SAMPLE=BYTES (hakmem then records the\n"
    "    stack of about one allocation per BYTES allocated; 524288 is a good\n"
    "    start).  A site is a line: its bytes allocated and still live\n"
    "    (estimates from the samples), samples, share of the --by figure of all\n"
    "    sites, and the frame that called the allocator, as symbol+offset\n"
    "    (object), or object+offset for addr2line; the rest of its stack\n"
    "    follows, a frame a line.  Several dumps (a program and its children,\n"
    "    snapshots of several processes) are merged: the same stack (frames\n"
    "    alike by object and offset, by address where the object is unknown)\n"
    "    adds up.  Options may come after the FILEs.\n"
    "    --by allocated  rank by bytes allocated (the default)\n"
    "    --by live       rank by bytes still live: what holds memory, leaks\n"
    "    --by count      rank by samples\n"
    "    -n N            the N heaviest sites (default 10; 0: all); sites at 0\n"
    "                    for the --by figure are left out\n"
    "    --json          a JSON array instead: each site's figures, share_pct\n"
    "                    and frames as the dump gives them (addr, obj,\n"
    "                    obj_offset, sym, sym_offset) with their name\n"
    "    --folded        folded stacks for flame graphs (flamegraph.pl, inferno):\n"
    "                    \"outermost;...;innermost VALUE\", VALUE the --by figure,\n"
    "                    frames by symbol; every site unless -n is given\n"
    "    A FILE without sites (HAKMEM_PROF_SAMPLE was unset or 0) is an error,\n"
    "    with --json and --folded too: exit 2 and nothing on stdout.  Sites that\n"
    "    sampled nothing are none: \"No allocation was sampled\", [], no line.\n";

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
    "        hakmem.stats/1 dump, or missing a field, or (top) without sites (one\n"
    "        line on stderr each: hakstat: FILE: what is wrong)\n"
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
    "    HAKMEM_PROF_SAMPLE=524288 hakstat run -- prog   # the summary names the top sites\n"
    "    HAKMEM_STATS=1 HAKMEM_PROF_SAMPLE=524288 HAKMEM_STATS_FILE=/tmp/p.%p.json \\\n"
    "        LD_PRELOAD=libhakmem.so prog; hakstat top --by live /tmp/p.*.json\n"
    "    hakstat top --folded /tmp/p.*.json | flamegraph.pl >sites.svg\n"
    "\n"
    "SEE ALSO\n"
    "    docs/STATS.md (every field of the dump), docs/ENV.md (HAKMEM_* variables)\n";

void hs_usage(FILE *out, const char *command)
{
    if (command == NULL) {
        fprintf(out,
                "hakstat - read hakmem's allocator statistics\n\n%s\nCOMMANDS\n    %s\n    %s\n    "
                "%s\n    %s%s",
                usage_synopsis, usage_summary, usage_diff, usage_top, usage_run, usage_rest);
        return;
    }
    const char *text = strcmp(command, "diff") == 0  ? usage_diff
                       : strcmp(command, "top") == 0 ? usage_top
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

/* Loads and sums files; false (after a line for each bad one) if any is
 * bad, or with need_sites lacks the sites section. */
static bool load_all(char **files, int n, bool need_sites, hs_dump *sum)
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
        if (need_sites && !one.sites.present) {
            fprintf(stderr,
                    "hakstat: %s: no sites: allocation sampling was off "
                    "(HAKMEM_PROF_SAMPLE=524288 turns it on)\n",
                    files[i]);
            ok = false;
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
    int status = load_all(argv + first, argc - first, false, &sum)
                     ? hs_write_summary(stdout, &sum, json)
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
    bool ok_a = load_all(argv + first, 1, false, &a);
    bool ok_b = load_all(argv + first + 1, 1, false, &b);
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

// ------------------------------------------------------------- top

typedef struct top_opts {
    hs_site_by by;
    size_t n;
    bool n_given, json, folded;
    char **files;
    int nfiles;
} top_opts;

/* The value of option name at argv[*i], as "--by live" or "--by=live"; NULL
 * if argv[*i] is not that option, "" if its value is missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0)
        return NULL;
    if (argv[*i][len] == '=')
        return argv[*i] + len + 1;
    if (argv[*i][len] != '\0')
        return NULL;
    return *i + 1 < argc ? argv[++*i] : "";
}

static bool parse_count(const char *text, size_t *n)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v > SIZE_MAX)
        return false;
    *n = (size_t)v;
    return true;
}

/* One option of top at argv[*i]; false (after saying why) on a usage error. */
static bool parse_top_option(int argc, char **argv, int *i, top_opts *o)
{
    const char *value;
    if (strcmp(argv[*i], "--json") == 0) {
        o->json = true;
    } else if (strcmp(argv[*i], "--folded") == 0) {
        o->folded = true;
    } else if ((value = option_value(argc, argv, i, "--by")) != NULL) {
        if (!hs_site_by_parse(value, &o->by)) {
            fprintf(stderr, "hakstat top: --by takes allocated, live or count, not \"%s\"\n",
                    value);
            return false;
        }
    } else if ((value = option_value(argc, argv, i, "-n")) != NULL) {
        o->n_given = true;
        if (!parse_count(value, &o->n)) {
            fprintf(stderr, "hakstat top: -n takes a number of sites, not \"%s\"\n", value);
            return false;
        }
    } else {
        fprintf(stderr, "hakstat top: unknown option %s\n%s", argv[*i], usage_synopsis);
        return false;
    }
    return true;
}

/* Options and files in any order; -1 on a usage error, 0 after --help, else 1. */
static int parse_top_opts(int argc, char **argv, top_opts *o)
{
    bool options = true;
    memset(o, 0, sizeof(*o));
    o->by = HS_BY_ALLOCATED;
    o->n = 10;
    o->files = calloc((size_t)argc, sizeof(*o->files));
    for (int i = 1; i < argc; i++) {
        if (!options || argv[i][0] != '-' || argv[i][1] == '\0') {
            o->files[o->nfiles++] = argv[i];
        } else if (strcmp(argv[i], "--") == 0) {
            options = false;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            hs_usage(stdout, "top");
            return 0;
        } else if (!parse_top_option(argc, argv, &i, o)) {
            return -1;
        }
    }
    if (o->json && o->folded) {
        fprintf(stderr, "hakstat top: --json or --folded, not both\n%s", usage_synopsis);
        return -1;
    }
    if (o->nfiles == 0) {
        fprintf(stderr, "hakstat top: no dump to read\n%s", usage_synopsis);
        return -1;
    }
    return 1;
}

static int top_main(int argc, char **argv)
{
    top_opts o;
    hs_dump sum;
    int parsed = parse_top_opts(argc, argv, &o);
    int status = parsed == 0 ? HS_EXIT_OK : HS_EXIT_USAGE;
    if (parsed > 0 && load_all(o.files, o.nfiles, true, &sum)) {
        /* A flame graph of the top 10 alone would look like the whole. */
        size_t n = o.folded && !o.n_given ? 0 : o.n;
        if (o.json)
            hs_json_print(stdout, hs_top_json(&sum, o.by, n));
        else if (o.folded)
            hs_top_folded(stdout, &sum, o.by, n);
        else
            hs_top_print(stdout, &sum, o.by, n);
        status = fflush(stdout) == 0 && !ferror(stdout) ? HS_EXIT_OK : HS_EXIT_FAILED;
    }
    if (parsed > 0)
        hs_dump_free(&sum);
    free(o.files);
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
    if (strcmp(cmd, "top") == 0)
        return top_main(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return hs_run_main(argc - 1, argv + 1);
    return summary_main(argc, argv);
}
