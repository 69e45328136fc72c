/*
 * The stats document (docs/STATS.md), written without allocating: at exit,
 * from a signal handler, or through hak_stats_dump / hak_stats_get.
 *
 * One walk over the figures (stats_walk) feeds two visitors, as jemalloc's
 * emitter does: the JSON writer and the path lookup of hak_stats_get, so the
 * two can never disagree.  The writer formats into a static buffer and
 * flushes it with write(2); a file dump goes to a temporary name and is
 * renamed into place, so a reader never sees half a document.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h> /* rename(2) only: no stdio stream is ever used here */
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../alloc.h"
#include "../env/env.h"
#include "../fmt.h"
#include "../prof/prof.h"
#include "hakmem.h"
#include "stats.h"

// ------------------------------------------------------------ the walk

typedef struct visitor {
    void (*open)(void *ctx, const char *key, bool array);
    void (*close)(void *ctx, bool array);
    void (*number)(void *ctx, const char *key, uint64_t v);
    void (*boolean)(void *ctx, const char *key, bool v);
    void (*string)(void *ctx, const char *key, const char *s); /* s NULL: null */
    void *ctx;
} visitor;

/* Everything one walk reports, gathered first so the walk itself is pure. */
typedef struct snapshot {
    hak_stats_shard s;
    const char *reason;
    uint64_t end_ms;
    uint64_t rss, rss_peak;
} snapshot;

static uint64_t start_unix_ms;
static const char *const tier_names[] = {"tiny", "mid", "pool"};

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Resident pages from /proc/self/statm (its second field): open and read
 * are system calls, safe in a signal handler. */
static uint64_t rss_bytes(void)
{
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    const char *p = strchr(text, ' ');
    uint64_t pages = 0;
    for (p = p ? p + 1 : text + n; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (uint64_t)(*p - '0');
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void take_snapshot(snapshot *snap, const char *reason)
{
    hak_stats_collect(&snap->s);
    snap->reason = reason;
    snap->end_ms = unix_ms();
    snap->rss = rss_bytes();
    struct rusage ru;
    snap->rss_peak = getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024u : 0;
    if (snap->rss_peak < snap->rss) /* the kernel's high-water mark lags the current count */
        snap->rss_peak = snap->rss;
}

static uint64_t class_sum(const snapshot *snap, unsigned tier, hak_class_stat_id id)
{
    uint64_t sum = 0;
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++)
        if (hak_class_tier[c] == tier)
            sum += snap->s.cls[c][id];
    return sum;
}

static uint64_t bytes_allocated(const snapshot *snap, unsigned tier)
{
    uint64_t sum = 0;
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++)
        if (hak_class_tier[c] == tier)
            sum += snap->s.cls[c][HAK_CSTAT_ALLOC] * hak_class_size[c];
    return sum;
}

/* The HAK_COUNTER rows of one group. */
static void walk_group(const visitor *v, const snapshot *snap, const char *group)
{
#define HAK_COUNTER(id, grp, key, unit, doc)                                                       \
    if (strcmp(grp, group) == 0)                                                                   \
        v->number(v->ctx, key, snap->s.global[HAK_STAT_##id]);
#include "counters.def"
}

static void walk_config(const visitor *v)
{
    v->open(v->ctx, "config", true);
    for (int id = 0; id < HAK_ENV_COUNT; id++) {
        char text[512];
        hak_buf b = HAK_BUF_INIT(text);
        hak_env_append_value(&b, (hak_env_id)id);
        hak_buf_char(&b, '\0');
        text[sizeof(text) - 1] = '\0';
        v->open(v->ctx, hak_env_name((hak_env_id)id), false);
        v->string(v->ctx, "name", hak_env_name((hak_env_id)id));
        hak_env_type type = hak_env_type_of((hak_env_id)id);
        if (type == HAK_ENV_ENUM || type == HAK_ENV_PATH) {
            v->string(v->ctx, "value", text);
        } else {
            uint64_t n = 0;
            for (const char *p = text; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (uint64_t)(*p - '0');
            v->number(v->ctx, "value", n); /* every numeric variable is >= 0 */
        }
        v->string(v->ctx, "source",
                  hak_env_from_environment((hak_env_id)id) ? "environment" : "default");
        v->close(v->ctx, false);
    }
    v->close(v->ctx, true);
}

static void walk_tier(const visitor *v, const snapshot *snap, unsigned tier)
{
    v->open(v->ctx, tier_names[tier], false);
#define HAK_CLASS_COUNTER(id, key, unit, doc) v->number(v->ctx, key, class_sum(snap, tier, HAK_CSTAT_##id));
#include "counters.def"
    v->number(v->ctx, "bytes_allocated", bytes_allocated(snap, tier));
    v->number(v->ctx, "slabs_in_use", class_sum(snap, tier, HAK_CSTAT_SLABS_NEW) -
                                          class_sum(snap, tier, HAK_CSTAT_SLABS_RELEASED));
    walk_group(v, snap, tier_names[tier]);
    if (tier == HAK_TIER_MID) {
        v->open(v->ctx, "mf2", false);
        v->boolean(v->ctx, "enabled", hak_env.mf2_enable);
        walk_group(v, snap, "mf2");
        v->close(v->ctx, false);
    }
    v->close(v->ctx, false);
}

static void walk_totals(const visitor *v, const snapshot *snap)
{
    uint64_t alloc = snap->s.global[HAK_STAT_LARGE_ALLOC];
    uint64_t freed = snap->s.global[HAK_STAT_LARGE_FREE];
    uint64_t requested = snap->s.global[HAK_STAT_LARGE_BYTES_REQUESTED];
    uint64_t allocated = snap->s.global[HAK_STAT_LARGE_BYTES_ALLOCATED];
    for (unsigned t = HAK_TIER_TINY; t <= HAK_TIER_POOL; t++) {
        alloc += class_sum(snap, t, HAK_CSTAT_ALLOC);
        freed += class_sum(snap, t, HAK_CSTAT_FREE);
        requested += class_sum(snap, t, HAK_CSTAT_BYTES_REQUESTED);
        allocated += bytes_allocated(snap, t);
    }
    v->open(v->ctx, "totals", false);
    v->number(v->ctx, "alloc", alloc);
    v->number(v->ctx, "free", freed);
    v->number(v->ctx, "bytes_requested", requested);
    v->number(v->ctx, "bytes_allocated", allocated);
    v->close(v->ctx, false);
}

static bool class_active(const snapshot *snap, unsigned c)
{
    for (unsigned id = 0; id < HAK_CSTAT_COUNT; id++)
        if (snap->s.cls[c][id] != 0)
            return true;
    return false;
}

static void walk_classes(const visitor *v, const snapshot *snap)
{
    v->open(v->ctx, "classes", true);
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        if (!class_active(snap, c))
            continue;
        char key[8];
        hak_buf kb = HAK_BUF_INIT(key);
        hak_buf_u64(&kb, c);
        key[kb.len] = '\0';
        v->open(v->ctx, key, false);
        v->number(v->ctx, "class", c);
        v->number(v->ctx, "size", hak_class_size[c]);
        v->string(v->ctx, "tier", tier_names[hak_class_tier[c]]);
#define HAK_CLASS_COUNTER(id, key, unit, doc) v->number(v->ctx, key, snap->s.cls[c][HAK_CSTAT_##id]);
#include "counters.def"
        v->close(v->ctx, false);
    }
    v->close(v->ctx, true);
}

static void walk_histogram(const visitor *v, const snapshot *snap)
{
    v->open(v->ctx, "histogram", false);
    v->boolean(v->ctx, "enabled", hak_hist_enabled);
    v->open(v->ctx, "buckets", true);
    for (unsigned b = 0; b < HAK_HIST_BUCKETS - 1; b++) {
        if (snap->s.hist[b] == 0)
            continue;
        char key[24];
        hak_buf kb = HAK_BUF_INIT(key);
        hak_buf_u64(&kb, (uint64_t)1 << b);
        key[kb.len] = '\0';
        v->open(v->ctx, key, false);
        v->number(v->ctx, "max", (uint64_t)1 << b);
        v->number(v->ctx, "count", snap->s.hist[b]);
        v->close(v->ctx, false);
    }
    v->close(v->ctx, true);
    v->close(v->ctx, false);
}

/* A number as "0x..." text, written into `text`. */
static const char *hex_text(char *text, size_t cap, uint64_t v)
{
    hak_buf b = {text, cap, 0, false};
    hak_buf_hex(&b, v);
    hak_buf_char(&b, '\0');
    text[cap - 1] = '\0';
    return text;
}

static void walk_frame(const visitor *v, uintptr_t addr)
{
    char addr_text[24], offset_text[24];
    hak_prof_place at;
    hak_prof_locate(addr, &at);
    v->open(v->ctx, NULL, false);
    v->string(v->ctx, "addr", hex_text(addr_text, sizeof(addr_text), addr));
    v->string(v->ctx, "obj", at.obj);
    v->string(v->ctx, "obj_offset", hex_text(offset_text, sizeof(offset_text), addr - at.obj_base));
    v->string(v->ctx, "sym", at.sym);
    if (at.sym != NULL)
        v->number(v->ctx, "sym_offset", addr - at.sym_addr);
    v->close(v->ctx, false);
}

static void walk_site(const visitor *v, uint32_t i)
{
    hak_prof_site site;
    hak_prof_get_site(i, &site);
    char key[16];
    hak_buf kb = HAK_BUF_INIT(key);
    hak_buf_u64(&kb, i);
    key[kb.len] = '\0';
    v->open(v->ctx, key, false);
    v->number(v->ctx, "samples", site.samples);
    v->number(v->ctx, "samples_live", site.samples_live);
    v->number(v->ctx, "requested_bytes", site.requested_bytes);
    v->number(v->ctx, "allocated_bytes", site.allocated_bytes);
    v->number(v->ctx, "live_bytes", site.live_bytes);
    v->open(v->ctx, "frames", true);
    for (uint32_t f = 0; f < site.depth; f++)
        walk_frame(v, site.frames[f]);
    v->close(v->ctx, true);
    v->close(v->ctx, false);
}

/* Only with sampling on (HAKMEM_PROF_SAMPLE). */
static void walk_sites(const visitor *v)
{
    if (!hak_prof_enabled)
        return;
    hak_prof_totals t;
    hak_prof_get_totals(&t);
    uint32_t count = hak_prof_site_count();
    v->open(v->ctx, "sites", false);
    v->number(v->ctx, "sample_bytes", t.sample_bytes);
    v->number(v->ctx, "depth", t.depth);
    v->number(v->ctx, "samples", t.samples);
    v->number(v->ctx, "samples_live", t.samples_live);
    v->number(v->ctx, "unrecorded", t.unrecorded);
    v->open(v->ctx, "stacks", true);
    for (uint32_t i = 0; i < count; i++)
        walk_site(v, i);
    v->close(v->ctx, true);
    v->close(v->ctx, false);
}

static void stats_walk(const visitor *v, const snapshot *snap)
{
    v->open(v->ctx, NULL, false);
    v->string(v->ctx, "schema", "hakmem.stats/1");
    v->number(v->ctx, "pid", (uint64_t)getpid());
    v->string(v->ctx, "program", program_invocation_short_name);
    v->string(v->ctx, "reason", snap->reason);
    v->number(v->ctx, "start_unix_ms", start_unix_ms);
    v->number(v->ctx, "end_unix_ms", snap->end_ms);
    v->number(v->ctx, "elapsed_ms", snap->end_ms - start_unix_ms);
    walk_config(v);
    v->number(v->ctx, "env_warnings", hak_env_warnings());
    v->open(v->ctx, "process", false);
    v->number(v->ctx, "rss_bytes", snap->rss);
    v->number(v->ctx, "rss_peak_bytes", snap->rss_peak);
    v->close(v->ctx, false);
    v->open(v->ctx, "threads", false);
    walk_group(v, snap, "threads");
    v->number(v->ctx, "live", snap->s.global[HAK_STAT_THREADS_STARTED] -
                                  snap->s.global[HAK_STAT_THREADS_EXITED]);
    v->close(v->ctx, false);
    v->open(v->ctx, "segments", false);
    walk_group(v, snap, "segments");
    v->close(v->ctx, false);
    v->open(v->ctx, "os", false);
    walk_group(v, snap, "os");
    v->number(v->ctx, "mapped_bytes", hak_stats_mapped_now());
    v->number(v->ctx, "mapped_peak_bytes", hak_stats_mapped_peak());
    v->close(v->ctx, false);
    walk_totals(v, snap);
    v->open(v->ctx, "tiers", false);
    for (unsigned t = HAK_TIER_TINY; t <= HAK_TIER_POOL; t++)
        walk_tier(v, snap, t);
    v->open(v->ctx, "large", false);
    walk_group(v, snap, "large");
    v->close(v->ctx, false);
    v->close(v->ctx, false);
    v->open(v->ctx, "realloc", false);
    walk_group(v, snap, "realloc");
    v->close(v->ctx, false);
    walk_classes(v, snap);
    walk_histogram(v, snap);
    walk_sites(v);
    v->close(v->ctx, false);
}

// ------------------------------------------------------------ JSON writer

#define JSON_DEPTH 8

typedef struct json_writer {
    hak_buf b;
    int fd;
    bool failed;
    int depth;
    bool has_item[JSON_DEPTH];
    bool in_array[JSON_DEPTH];
} json_writer;

static char json_space[64 << 10];

static void json_flush_if_full(json_writer *w)
{
    if (w->b.cap - w->b.len < 8192 && !hak_buf_flush(&w->b, w->fd)) /* room for a path */
        w->failed = true;
}

static void json_string(hak_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    hak_buf_char(b, '"');
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            hak_buf_char(b, '\\');
            hak_buf_char(b, (char)c);
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            hak_buf_mem(b, esc, sizeof(esc));
        } else {
            hak_buf_char(b, (char)c);
        }
    }
    hak_buf_char(b, '"');
}

/* The comma and key before a value; keys of array elements are not written. */
static void json_member(json_writer *w, const char *key)
{
    json_flush_if_full(w);
    if (w->depth > 0) {
        if (w->has_item[w->depth - 1])
            hak_buf_char(&w->b, ',');
        w->has_item[w->depth - 1] = true;
        if (!w->in_array[w->depth - 1] && key != NULL) {
            json_string(&w->b, key);
            hak_buf_char(&w->b, ':');
        }
    }
}

static void json_open(void *ctx, const char *key, bool array)
{
    json_writer *w = ctx;
    json_member(w, key);
    hak_buf_char(&w->b, array ? '[' : '{');
    if (w->depth < JSON_DEPTH) {
        w->has_item[w->depth] = false;
        w->in_array[w->depth] = array;
    }
    w->depth++;
}

static void json_close(void *ctx, bool array)
{
    json_writer *w = ctx;
    w->depth--;
    hak_buf_char(&w->b, array ? ']' : '}');
}

static void json_number(void *ctx, const char *key, uint64_t v)
{
    json_writer *w = ctx;
    json_member(w, key);
    hak_buf_u64(&w->b, v);
}

static void json_bool(void *ctx, const char *key, bool v)
{
    json_writer *w = ctx;
    json_member(w, key);
    hak_buf_str(&w->b, v ? "true" : "false");
}

static void json_str(void *ctx, const char *key, const char *s)
{
    json_writer *w = ctx;
    json_member(w, key);
    if (s != NULL)
        json_string(&w->b, s);
    else
        hak_buf_str(&w->b, "null");
}

/* One dump at a time: the buffer is static, and a signal may arrive while
 * a dump is being written. */
static int dump_busy;

static int write_document(int fd, const char *reason)
{
    if (__atomic_exchange_n(&dump_busy, 1, __ATOMIC_ACQUIRE)) {
        errno = EBUSY;
        return -1;
    }
    static snapshot snap; /* 60 KiB: too big for a signal handler's stack */
    take_snapshot(&snap, reason);
    json_writer w = {.b = HAK_BUF_INIT(json_space), .fd = fd};
    visitor v = {json_open, json_close, json_number, json_bool, json_str, &w};
    stats_walk(&v, &snap);
    hak_buf_char(&w.b, '\n');
    bool ok = !w.failed && !w.b.overflow && hak_buf_flush(&w.b, fd);
    __atomic_store_n(&dump_busy, 0, __ATOMIC_RELEASE);
    if (!ok && errno == 0)
        errno = EIO;
    return ok ? 0 : -1;
}

// ------------------------------------------------------------ lookup by path

#define PATH_MAX_KEYS 8

typedef struct path_lookup {
    const char *want;
    const char *keys[PATH_MAX_KEYS];
    int depth;
    bool found;
    uint64_t value;
} path_lookup;

/* true if the keys open now, then `last`, spell the wanted path. */
static bool path_matches(const path_lookup *q, const char *last)
{
    const char *p = q->want;
    for (int i = 1; i < q->depth && i < PATH_MAX_KEYS; i++) {
        size_t n = strlen(q->keys[i]);
        if (strncmp(p, q->keys[i], n) != 0 || p[n] != '.')
            return false;
        p += n + 1;
    }
    return strcmp(p, last) == 0;
}

static void path_open(void *ctx, const char *key, bool array)
{
    (void)array;
    path_lookup *q = ctx;
    if (q->depth < PATH_MAX_KEYS)
        q->keys[q->depth] = key != NULL ? key : "";
    q->depth++;
}

static void path_close(void *ctx, bool array)
{
    (void)array;
    ((path_lookup *)ctx)->depth--;
}

static void path_number(void *ctx, const char *key, uint64_t v)
{
    path_lookup *q = ctx;
    if (!q->found && q->depth <= PATH_MAX_KEYS && path_matches(q, key)) {
        q->found = true;
        q->value = v;
    }
}

static void path_boolean(void *ctx, const char *key, bool v) { path_number(ctx, key, v); }

static void path_string(void *ctx, const char *key, const char *s)
{
    (void)ctx, (void)key, (void)s;
}

// ------------------------------------------------------------ public

HAK_API int hak_stats_dump(int fd) { return write_document(fd, "api"); }

HAK_API int hak_stats_get(const char *path, unsigned long long *value)
{
    static snapshot snap;
    static int busy;
    if (path == NULL || __atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
        return -1;
    take_snapshot(&snap, "api");
    path_lookup q = {.want = path};
    visitor v = {path_open, path_close, path_number, path_boolean, path_string, &q};
    stats_walk(&v, &snap);
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
    if (!q.found)
        return -1;
    *value = q.value;
    return 0;
}

// ------------------------------------------------------------ files, exit, signal

/* HAKMEM_STATS_FILE with %p replaced by the pid and %% by %. */
static void expand_path(hak_buf *b, const char *pattern)
{
    for (const char *p = pattern; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            hak_buf_u64(b, (uint64_t)getpid());
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            hak_buf_char(b, '%');
            p++;
        } else {
            hak_buf_char(b, *p);
        }
    }
    hak_buf_char(b, '\0');
}

static void report_failure(const char *path, const char *why)
{
    char line[4400];
    hak_buf lb = HAK_BUF_INIT(line);
    hak_buf_str(&lb, "hakmem: cannot write the stats dump to ");
    hak_buf_str(&lb, path);
    hak_buf_str(&lb, ": ");
    hak_buf_str(&lb, why);
    hak_buf_char(&lb, '\n');
    hak_buf_flush(&lb, STDERR_FILENO);
}

/* Something that exists and is not a regular file (a device such as
 * /dev/null, a FIFO) is written as it is: renaming a file over it would
 * replace it, for the whole machine when we run as root. */
static bool write_in_place(const char *path, const char *reason)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return false;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_document(fd, reason) != 0)
        report_failure(path, "write failed");
    if (fd >= 0)
        close(fd);
    return true;
}

static void dump_to_file(const char *reason)
{
    const char *pattern = hak_env.stats_file;
    if (strcmp(pattern, "-") == 0) {
        write_document(STDERR_FILENO, reason);
        return;
    }
    char path[4096], tmp[4200];
    hak_buf pb = HAK_BUF_INIT(path);
    expand_path(&pb, pattern);
    if (!pb.overflow && write_in_place(path, reason))
        return;
    hak_buf tb = HAK_BUF_INIT(tmp);
    hak_buf_str(&tb, path);
    hak_buf_str(&tb, ".tmp.");
    hak_buf_u64(&tb, (uint64_t)getpid());
    hak_buf_char(&tb, '\0');
    if (pb.overflow || tb.overflow) {
        hak_write_str(STDERR_FILENO, "hakmem: HAKMEM_STATS_FILE is too long; no stats dump\n");
        return;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_document(fd, reason) != 0) {
        report_failure(path, fd < 0 || errno != EBUSY ? "write failed" : "another dump is in progress");
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        report_failure(path, "rename failed");
        unlink(tmp);
    }
}

static void on_stats_signal(int sig)
{
    (void)sig;
    int saved = errno;
    dump_to_file("signal");
    errno = saved;
}

static const int stats_signals[] = {0, SIGUSR1, SIGUSR2, SIGHUP}; /* env.def's words, in order */

void hak_stats_mark_start(void) { start_unix_ms = unix_ms(); }

void hak_stats_dump_init(void)
{
    hak_stats_mark_start();
    int sig = stats_signals[hak_env.stats_signal];
    if (sig != 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stats_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
    }
}

/* At exit (a destructor runs for the preloaded library and for a program
 * linked with the static one alike). */
__attribute__((destructor)) static void dump_at_exit(void)
{
    if (hak_env.stats || hak_prof_enabled)
        dump_to_file("exit");
}
