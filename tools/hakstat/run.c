/*
 * `hakstat run [--] CMD [ARGS...]`: CMD under LD_PRELOAD=libhakmem.so with
 * stats on, every dump it and its children write collected from a private
 * directory, summed and summarised, then removed.
 */
#include "hakstat.h"
#include "summary.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HAKSTAT_LIBDIR
#define HAKSTAT_LIBDIR "lib"
#endif
#ifndef HAKSTAT_MULTIARCH
#define HAKSTAT_MULTIARCH ""
#endif

extern char **environ;

typedef struct run_opts {
    bool json;
    const char *out_path;
    char **cmd;
} run_opts;

// ------------------------------------------------------------- options

/* Options before CMD; -1 on a usage error, 1 after --help, else 0. */
static int parse_opts(int argc, char **argv, run_opts *o)
{
    int i = 1;
    memset(o, 0, sizeof(*o));
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            hs_usage(stdout, "run");
            return 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            o->out_path = argv[++i];
        } else {
            fprintf(stderr, "hakstat run: unknown option %s\n", argv[i]);
            return -1;
        }
    }
    if (i == argc) {
        fputs("hakstat run: no command to run\n", stderr);
        return -1;
    }
    o->cmd = argv + i;
    return 0;
}

// ------------------------------------------------------------- the library

static bool readable(const char *path) { return access(path, R_OK) == 0; }

/* libhakmem.so next to this hakstat, as the build tree or an install lays it
 * out; its directory made absolute, its name kept (not the versioned file). */
static bool find_library(char *lib, size_t size)
{
    const char *const dirs[] = {"../lib", "../lib/" HAKSTAT_MULTIARCH, "../" HAKSTAT_LIBDIR};
    char exe[PATH_MAX], path[PATH_MAX * 2], dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", exe, dirs[i]);
        if (realpath(path, dir) == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/libhakmem.so", dir);
        if (readable(path) && strlen(path) < size) {
            strcpy(lib, path);
            return true;
        }
    }
    return false;
}

static bool choose_library(char *lib, size_t size)
{
    const char *forced = getenv("HAKMEM_LIB");
    if (forced != NULL && forced[0] != '\0') {
        if (!readable(forced)) {
            fprintf(stderr, "hakstat run: HAKMEM_LIB=%s: %s\n", forced, strerror(errno));
            return false;
        }
        snprintf(lib, size, "%s", forced);
        return true;
    }
    if (find_library(lib, size))
        return true;
    fputs("hakstat run: libhakmem.so not found next to hakstat (../lib, ../lib/" HAKSTAT_MULTIARCH
          ", ../" HAKSTAT_LIBDIR "); set HAKMEM_LIB to its path\n",
          stderr);
    return false;
}

// ------------------------------------------------------------- the child

static bool env_is(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The environment CMD runs in: ours, with hakmem preloaded and stats on. */
static char **child_env(const char *lib, const char *dir)
{
    size_t n = 0, k = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 5, sizeof(*env));
    const char *preload = getenv("LD_PRELOAD");
    for (size_t i = 0; i < n; i++)
        if (!env_is(environ[i], "LD_PRELOAD") && !env_is(environ[i], "HAKMEM_STATS") &&
            !env_is(environ[i], "HAKMEM_STATS_FILE"))
            env[k++] = strdup(environ[i]);
    if (asprintf(&env[k++], "LD_PRELOAD=%s%s%s", lib, preload != NULL && *preload ? ":" : "",
                 preload != NULL ? preload : "") < 0 ||
        asprintf(&env[k++], "HAKMEM_STATS_FILE=%s/hakmem.%%p.json", dir) < 0)
        return NULL;
    env[k++] = strdup("HAKMEM_STATS=1");
    if (getenv("HAKMEM_SIZE_HIST") == NULL)
        env[k++] = strdup("HAKMEM_SIZE_HIST=1");
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        free(env[i]);
    free(env);
}

/* Runs cmd and waits for it: its exit code, 128 + signal, or 127 if it
 * could not be started.  Ctrl-C goes to CMD; hakstat stays to report. */
static int run_child(char **cmd, char **env)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_int, old_quit;
    posix_spawnattr_t attr;
    sigset_t defaults;
    pid_t pid;
    int status;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGQUIT);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGQUIT, &ignore, &old_quit);
    int err = posix_spawnp(&pid, cmd[0], NULL, &attr, cmd, env);
    posix_spawnattr_destroy(&attr);
    while (err == 0 && waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            err = errno;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (err != 0) {
        fprintf(stderr, "hakstat run: %s: %s\n", cmd[0], strerror(err));
        return HS_EXIT_NOEXEC;
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

// ------------------------------------------------------------- the dumps

static bool is_dump_name(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "hakmem.", 7) == 0 && n > 12 && strcmp(name + n - 5, ".json") == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sums every dump in dir into sum (reporting the bad ones) and empties dir. */
static void collect_dumps(const char *dir, hs_dump *sum)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n++] = strdup(e->d_name);
    }
    if (d != NULL)
        closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), compare_names);
    for (size_t i = 0; i < n; i++) {
        char path[2 * PATH_MAX], err[HS_ERR_MAX];
        hs_dump one;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (is_dump_name(names[i]) && hs_dump_load(path, &one, err) == 0) {
            hs_dump_add(sum, &one);
            hs_dump_free(&one);
        } else if (is_dump_name(names[i])) {
            fprintf(stderr, "hakstat run: %s: %s\n", names[i], err);
        }
        unlink(path);
        free(names[i]);
    }
    free(names);
    rmdir(dir);
}

static int report(const run_opts *o, const hs_dump *sum, FILE *out)
{
    if (sum->processes == 0) {
        fprintf(stderr,
                "hakstat run: no stats dump from %s (a program that never allocates, ends "
                "with _exit(), or ignores LD_PRELOAD (static, set-user-ID) writes none)\n",
                o->cmd[0]);
        return HS_EXIT_OK;
    }
    return hs_write_summary(out, sum, o->json);
}

int hs_run_main(int argc, char **argv)
{
    run_opts o;
    char lib[PATH_MAX], dir[PATH_MAX];
    const char *tmp = getenv("TMPDIR");
    int parsed = parse_opts(argc, argv, &o);
    if (parsed != 0)
        return parsed > 0 ? HS_EXIT_OK : HS_EXIT_USAGE;
    if (!choose_library(lib, sizeof(lib)))
        return HS_EXIT_USAGE;
    FILE *out = o.out_path != NULL ? fopen(o.out_path, "w") : stderr;
    if (out == NULL) {
        fprintf(stderr, "hakstat run: %s: %s\n", o.out_path, strerror(errno));
        return HS_EXIT_USAGE;
    }
    snprintf(dir, sizeof(dir), "%s/hakstat.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    char **env = mkdtemp(dir) != NULL ? child_env(lib, dir) : NULL;
    if (env == NULL) {
        fprintf(stderr, "hakstat run: cannot make a directory for the dumps: %s\n",
                strerror(errno));
        return HS_EXIT_USAGE;
    }
    int code = run_child(o.cmd, env);
    free_env(env);
    hs_dump sum = {0};
    collect_dumps(dir, &sum);
    if (report(&o, &sum, out) != HS_EXIT_OK && code == 0)
        code = HS_EXIT_FAILED;
    hs_dump_free(&sum);
    if (out != stderr)
        fclose(out);
    return code;
}
