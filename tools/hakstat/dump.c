/*
 * Loading and checking a stats dump with libjq, and summing dumps.
 *
 * libjq asserts (aborts) when a jv function gets a value of the wrong kind,
 * so every value from the file is checked for its kind before it is used:
 * a dump is untrusted input.
 */
#include "dump.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

const char *const hs_tier_names[HS_CLASS_TIERS] = {"tiny", "mid", "pool"};

static const char *const class_keys[HS_CC_COUNT] = {
#define HAK_CLASS_COUNTER(id, key, unit, doc) key,
#include "counters.def"
};

static const char *const counter_groups[HS_GC_COUNT] = {
#define HAK_COUNTER(id, group, key, unit, doc) group,
#include "counters.def"
};

static const char *const counter_keys[HS_GC_COUNT] = {
#define HAK_COUNTER(id, group, key, unit, doc) key,
#include "counters.def"
};

/* A dump is a few KiB; anything this large is not one. */
#define MAX_FILE_BYTES (256u << 20)
/* Bounds on what an untrusted file can make us keep. */
#define MAX_CLASS_INDEX 65535
#define MAX_EXTRAS 1024
#define MAX_EXTRA_DEPTH 3
#define PATH_MAX_LEN 160

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fputs("hakstat: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

static char *xstrdup(const char *s) { return strcpy(xrealloc(NULL, strlen(s) + 1), s); }

static bool fail(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, HS_ERR_MAX, fmt, ap);
    va_end(ap);
    return false;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

// ------------------------------------------------------------- counter paths

static bool is_tier_group(const char *group)
{
    static const char *const tiers[] = {"tiny", "mid", "pool", "large"};
    size_t len = strcspn(group, ".");
    for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++)
        if (strlen(tiers[i]) == len && strncmp(group, tiers[i], len) == 0)
            return true;
    return false;
}

/* Counters of a tier's group live under "tiers"; other groups at the root. */
const char *hs_counter_path(int gc)
{
    static char paths[HS_GC_COUNT][PATH_MAX_LEN];
    if (paths[gc][0] == '\0')
        snprintf(paths[gc], PATH_MAX_LEN, "%s%s.%s",
                 is_tier_group(counter_groups[gc]) ? "tiers." : "", counter_groups[gc],
                 counter_keys[gc]);
    return paths[gc];
}

int hs_class_counter(const hs_dump *d, const char *key)
{
    for (int cc = 0; cc < HS_CC_COUNT; cc++)
        if (strcmp(class_keys[cc], key) == 0 && d->cc_present[cc])
            return cc;
    return -1;
}

bool hs_dump_find(const hs_dump *d, const char *path, uint64_t *value)
{
    for (int gc = 0; gc < HS_GC_COUNT; gc++) {
        if (strcmp(hs_counter_path(gc), path) == 0 && d->g_present[gc]) {
            *value = d->g[gc];
            return true;
        }
    }
    for (size_t i = 0; i < d->nextras; i++) {
        if (strcmp(d->extras[i].path, path) == 0) {
            *value = d->extras[i].value;
            return true;
        }
    }
    return false;
}

// ------------------------------------------------------------- typed access

static const char *kind_word(jv_kind kind)
{
    switch (kind) {
    case JV_KIND_NULL:
        return "null";
    case JV_KIND_FALSE:
    case JV_KIND_TRUE:
        return "a boolean";
    case JV_KIND_NUMBER:
        return "a number";
    case JV_KIND_STRING:
        return "a string";
    case JV_KIND_ARRAY:
        return "an array";
    case JV_KIND_OBJECT:
        return "an object";
    default:
        return "missing";
    }
}

/* out = base.key (key_len bytes of key), cut to PATH_MAX_LEN; out may be base. */
static void join_path(char *out, const char *base, const char *key, size_t key_len)
{
    if (out != base)
        snprintf(out, PATH_MAX_LEN, "%s", base);
    size_t at = strlen(out);
    if (at > 0 && at + 1 < PATH_MAX_LEN)
        out[at++] = '.';
    if (key_len > PATH_MAX_LEN - 1 - at)
        key_len = PATH_MAX_LEN - 1 - at;
    memcpy(out + at, key, key_len);
    out[at + key_len] = '\0';
}

/* The value at a dotted path below v (named base in messages), of the kind
 * wanted (JV_KIND_TRUE stands for either boolean).  The caller frees *out. */
static bool at_path(jv v, const char *base, const char *path, jv_kind want, jv *out, char *err)
{
    char where[PATH_MAX_LEN];
    jv cur = jv_copy(v);
    snprintf(where, sizeof(where), "%s", base);
    while (*path != '\0') {
        size_t len = strcspn(path, ".");
        jv_kind kind = jv_get_kind(cur);
        if (kind != JV_KIND_OBJECT) {
            jv_free(cur);
            if (kind == JV_KIND_INVALID)
                return fail(err, "%s is missing", where);
            return fail(err, "%s is %s, expected an object", where[0] ? where : "the document",
                        kind_word(kind));
        }
        cur = jv_object_get(cur, jv_string_sized(path, (int)len));
        join_path(where, where, path, len);
        path += len + (path[len] == '.');
    }
    jv_kind kind = jv_get_kind(cur);
    if (kind == JV_KIND_FALSE)
        kind = JV_KIND_TRUE;
    if (kind != want) {
        jv_free(cur);
        if (kind == JV_KIND_INVALID)
            return fail(err, "%s is missing", where);
        return fail(err, "%s is %s, expected %s", where, kind_word(kind), kind_word(want));
    }
    *out = cur;
    return true;
}

static bool number_to_u64(jv num, const char *where, uint64_t *out, char *err)
{
    double x = jv_number_value(num);
    /* 2^64 as a double; every double below it converts exactly. */
    if (x >= 18446744073709551616.0 && x < 18446744073709551616.0 * 2)
        return fail(err, "%s is %.0f, more than 2^64 - 1 (a negative count written unsigned?)",
                    where, x);
    if (!(x >= 0 && x < 18446744073709551616.0) || x != floor(x))
        return fail(err, "%s is %g, expected a non-negative integer", where, x);
    *out = (uint64_t)x;
    return true;
}

static bool get_u64(jv v, const char *base, const char *path, uint64_t *out, char *err)
{
    jv num;
    char where[PATH_MAX_LEN];
    if (!at_path(v, base, path, JV_KIND_NUMBER, &num, err))
        return false;
    join_path(where, base, path, strlen(path));
    bool ok = number_to_u64(num, where, out, err);
    jv_free(num);
    return ok;
}

/* Whether path leads somewhere below v; an object missing on the way counts
 * as absent, anything else on the way as present (get_u64 then says why). */
static bool present_at(jv v, const char *path)
{
    jv cur = jv_copy(v);
    while (*path != '\0' && jv_get_kind(cur) == JV_KIND_OBJECT) {
        size_t len = strcspn(path, ".");
        cur = jv_object_get(cur, jv_string_sized(path, (int)len));
        path += len + (path[len] == '.');
    }
    bool present = jv_is_valid(cur);
    jv_free(cur);
    return present;
}

/* A counter of counters.def: a dump from before the counter was added lacks
 * it, which is no error; *present says which. */
static bool get_counter(jv v, const char *base, const char *path, uint64_t *out, bool *present,
                        char *err)
{
    if (!present_at(v, path))
        return true;
    *present = true;
    return get_u64(v, base, path, out, err);
}

/* A copy of the string at path, or NULL with err set. */
static char *get_string(jv v, const char *base, const char *path, char *err)
{
    jv s;
    if (!at_path(v, base, path, JV_KIND_STRING, &s, err))
        return NULL;
    char *copy = xstrdup(jv_string_value(s));
    jv_free(s);
    return copy;
}

// ------------------------------------------------------------- parsing

static bool parse_json(const char *text, size_t len, jv *out, char *err)
{
    if (len > MAX_FILE_BYTES)
        return fail(err, "larger than %u MiB, not a stats dump", MAX_FILE_BYTES >> 20);
    jv_parser *p = jv_parser_new(0);
    jv_parser_set_buf(p, text, (int)len, 0);
    jv v = jv_parser_next(p);
    jv next = jv_is_valid(v) ? jv_parser_next(p) : jv_invalid();
    jv_parser_free(p);
    jv bad = !jv_is_valid(v) ? v : next;
    bool ok = jv_is_valid(v) && !jv_is_valid(next) && !jv_invalid_has_msg(jv_copy(next));
    if (!ok) {
        jv msg = jv_is_valid(bad) ? jv_invalid() : jv_invalid_get_msg(jv_copy(bad));
        if (jv_get_kind(msg) == JV_KIND_STRING)
            fail(err, "invalid JSON: %s", jv_string_value(msg));
        else if (jv_is_valid(v))
            fail(err, "invalid JSON: more than one value");
        else
            fail(err, "empty: no JSON value");
        jv_free(msg);
        jv_free(v);
        jv_free(next);
        return false;
    }
    jv_free(next);
    *out = v;
    return true;
}

static bool read_schema(jv doc, char *err)
{
    if (jv_get_kind(doc) != JV_KIND_OBJECT)
        return fail(err, "the document is %s, expected an object (a stats dump)",
                    kind_word(jv_get_kind(doc)));
    jv s = jv_object_get(jv_copy(doc), jv_string("schema"));
    bool ok = jv_get_kind(s) == JV_KIND_STRING && strcmp(jv_string_value(s), HS_SCHEMA) == 0;
    if (!ok && jv_get_kind(s) == JV_KIND_STRING)
        fail(err, "schema is \"%.64s\"; this hakstat reads \"%s\"", jv_string_value(s), HS_SCHEMA);
    else if (!ok)
        fail(err, "not a hakmem stats dump (\"schema\" is %s)", kind_word(jv_get_kind(s)));
    jv_free(s);
    return ok;
}

static bool read_process(jv doc, hs_dump *d, char *err)
{
    uint64_t pid;
    char *program;
    if (!get_u64(doc, "", "pid", &pid, err) ||
        (program = get_string(doc, "", "program", err)) == NULL)
        return false;
    d->pids = xrealloc(NULL, sizeof(*d->pids));
    d->pids[d->npids++] = (int64_t)(pid > INT64_MAX ? INT64_MAX : pid);
    d->programs = xrealloc(NULL, sizeof(*d->programs));
    d->programs[d->nprograms++] = program;
    char *reason = get_string(doc, "", "reason", err);
    if (reason != NULL)
        snprintf(d->reason, sizeof(d->reason), "%s", reason);
    free(reason);
    return reason != NULL && get_u64(doc, "", "start_unix_ms", &d->start_ms, err) &&
           get_u64(doc, "", "end_unix_ms", &d->end_ms, err) &&
           get_u64(doc, "", "elapsed_ms", &d->elapsed_ms, err) &&
           get_u64(doc, "", "env_warnings", &d->env_warnings, err) &&
           get_u64(doc, "", "process.rss_bytes", &d->rss_bytes, err) &&
           get_u64(doc, "", "process.rss_peak_bytes", &d->rss_peak_bytes, err) &&
           get_u64(doc, "", "threads.live", &d->threads_live, err) &&
           get_u64(doc, "", "os.mapped_bytes", &d->mapped_bytes, err) &&
           get_u64(doc, "", "os.mapped_peak_bytes", &d->mapped_peak_bytes, err);
}

/* A configuration value as text: a number's digits, a string, true/false. */
static char *config_value(jv v, const char *where, char *err)
{
    char buf[64];
    switch (jv_get_kind(v)) {
    case JV_KIND_STRING:
        return xstrdup(jv_string_value(v));
    case JV_KIND_NUMBER:
        snprintf(buf, sizeof(buf), "%.17g", jv_number_value(v));
        return xstrdup(buf);
    case JV_KIND_TRUE:
    case JV_KIND_FALSE:
        return xstrdup(jv_get_kind(v) == JV_KIND_TRUE ? "true" : "false");
    default:
        fail(err, "%s.value is %s, expected a number or a string", where,
             kind_word(jv_get_kind(v)));
        return NULL;
    }
}

static bool read_config_entry(jv e, const char *where, hs_config *c, char *err)
{
    char *source;
    if (jv_get_kind(e) != JV_KIND_OBJECT)
        return fail(err, "%s is %s, expected an object", where, kind_word(jv_get_kind(e)));
    if ((c->name = get_string(e, where, "name", err)) == NULL ||
        (source = get_string(e, where, "source", err)) == NULL)
        return false;
    c->from_env = strcmp(source, "environment") == 0;
    bool known = c->from_env || strcmp(source, "default") == 0;
    free(source);
    if (!known)
        return fail(err, "%s.source is not \"default\" or \"environment\"", where);
    jv v = jv_object_get(jv_copy(e), jv_string("value"));
    c->value = config_value(v, where, err);
    jv_free(v);
    return c->value != NULL;
}

static bool read_config(jv doc, hs_dump *d, char *err)
{
    jv arr;
    if (!at_path(doc, "", "config", JV_KIND_ARRAY, &arr, err))
        return false;
    bool ok = true;
    int n = jv_array_length(jv_copy(arr));
    d->config = xrealloc(NULL, ((size_t)n + 1) * sizeof(*d->config));
    for (int i = 0; ok && i < n; i++) {
        char where[PATH_MAX_LEN];
        snprintf(where, sizeof(where), "config[%d]", i);
        jv e = jv_array_get(jv_copy(arr), i);
        memset(&d->config[i], 0, sizeof(d->config[i]));
        d->nconfig++;
        ok = read_config_entry(e, where, &d->config[i], err);
        jv_free(e);
    }
    jv_free(arr);
    return ok;
}

static bool read_counters(jv doc, hs_dump *d, char *err)
{
    char path[PATH_MAX_LEN];
    bool ok = get_u64(doc, "", "totals.alloc", &d->alloc, err) &&
              get_u64(doc, "", "totals.free", &d->free, err) &&
              get_u64(doc, "", "totals.bytes_requested", &d->bytes_requested, err) &&
              get_u64(doc, "", "totals.bytes_allocated", &d->bytes_allocated, err);
    for (int t = 0; ok && t < HS_CLASS_TIERS; t++) {
        hs_tier *tier = &d->tier[t];
        snprintf(path, sizeof(path), "tiers.%s.bytes_allocated", hs_tier_names[t]);
        ok = get_u64(doc, "", path, &tier->bytes_allocated, err);
        snprintf(path, sizeof(path), "tiers.%s.slabs_in_use", hs_tier_names[t]);
        ok = ok && get_u64(doc, "", path, &tier->slabs_in_use, err);
        for (int c = 0; ok && c < HS_CC_COUNT; c++) {
            snprintf(path, sizeof(path), "tiers.%s.%s", hs_tier_names[t], class_keys[c]);
            ok = get_counter(doc, "", path, &tier->c[c], &d->cc_present[c], err);
        }
    }
    for (int gc = 0; ok && gc < HS_GC_COUNT; gc++)
        ok = get_counter(doc, "", hs_counter_path(gc), &d->g[gc], &d->g_present[gc], err);
    return ok;
}

// ------------------------------------------------------------- classes

static hs_class *class_slot(hs_dump *d, uint32_t index)
{
    size_t at = 0;
    while (at < d->nclasses && d->classes[at].index < index)
        at++;
    if (at < d->nclasses && d->classes[at].index == index)
        return &d->classes[at];
    d->classes = xrealloc(d->classes, (d->nclasses + 1) * sizeof(*d->classes));
    memmove(&d->classes[at + 1], &d->classes[at], (d->nclasses - at) * sizeof(*d->classes));
    d->nclasses++;
    memset(&d->classes[at], 0, sizeof(d->classes[at]));
    d->classes[at].index = index;
    return &d->classes[at];
}

static int tier_index(const char *name)
{
    for (int t = 0; t < HS_CLASS_TIERS; t++)
        if (strcmp(name, hs_tier_names[t]) == 0)
            return t;
    return -1;
}

static bool read_class(jv e, const char *where, hs_dump *d, char *err)
{
    uint64_t index, size, c[HS_CC_COUNT];
    char *tier_name;
    if (jv_get_kind(e) != JV_KIND_OBJECT)
        return fail(err, "%s is %s, expected an object", where, kind_word(jv_get_kind(e)));
    if (!get_u64(e, where, "class", &index, err) || !get_u64(e, where, "size", &size, err))
        return false;
    if (index > MAX_CLASS_INDEX)
        return fail(err, "%s.class is %" PRIu64 ", more than %d", where, index, MAX_CLASS_INDEX);
    if ((tier_name = get_string(e, where, "tier", err)) == NULL)
        return false;
    int tier = tier_index(tier_name);
    free(tier_name);
    if (tier < 0)
        return fail(err, "%s.tier is not \"tiny\", \"mid\" or \"pool\"", where);
    for (int k = 0; k < HS_CC_COUNT; k++) {
        bool present = false;
        c[k] = 0;
        if (!get_counter(e, where, class_keys[k], &c[k], &present, err))
            return false;
    }
    hs_class *slot = class_slot(d, (uint32_t)index);
    slot->size = size;
    slot->tier = tier;
    for (int k = 0; k < HS_CC_COUNT; k++)
        slot->c[k] = sat_add(slot->c[k], c[k]);
    return true;
}

static bool read_classes(jv doc, hs_dump *d, char *err)
{
    jv arr;
    if (!at_path(doc, "", "classes", JV_KIND_ARRAY, &arr, err))
        return false;
    bool ok = true;
    int n = jv_array_length(jv_copy(arr));
    for (int i = 0; ok && i < n; i++) {
        char where[PATH_MAX_LEN];
        snprintf(where, sizeof(where), "classes[%d]", i);
        jv e = jv_array_get(jv_copy(arr), i);
        ok = read_class(e, where, d, err);
        jv_free(e);
    }
    jv_free(arr);
    return ok;
}

// ------------------------------------------------------------- histogram

static bool read_bucket(jv e, const char *where, hs_dump *d, char *err)
{
    uint64_t max, count;
    if (jv_get_kind(e) != JV_KIND_OBJECT)
        return fail(err, "%s is %s, expected an object", where, kind_word(jv_get_kind(e)));
    if (!get_u64(e, where, "max", &max, err) || !get_u64(e, where, "count", &count, err))
        return false;
    if (max == 0 || (max & (max - 1)) != 0)
        return fail(err, "%s.max is %" PRIu64 ", expected a power of two", where, max);
    int b = 0;
    while ((UINT64_C(1) << b) != max)
        b++;
    d->hist[b] = sat_add(d->hist[b], count);
    return true;
}

static bool read_histogram(jv doc, hs_dump *d, char *err)
{
    jv flag, arr;
    if (!at_path(doc, "", "histogram.enabled", JV_KIND_TRUE, &flag, err))
        return false;
    d->hist_enabled = jv_get_kind(flag) == JV_KIND_TRUE;
    jv_free(flag);
    if (!at_path(doc, "", "histogram.buckets", JV_KIND_ARRAY, &arr, err))
        return false;
    bool ok = true;
    int n = jv_array_length(jv_copy(arr));
    for (int i = 0; ok && i < n; i++) {
        char where[PATH_MAX_LEN];
        snprintf(where, sizeof(where), "histogram.buckets[%d]", i);
        jv e = jv_array_get(jv_copy(arr), i);
        ok = read_bucket(e, where, d, err);
        jv_free(e);
    }
    jv_free(arr);
    return ok;
}

// ------------------------------------------------------------- sites

static int compare_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

static int compare_frames(const hs_frame *a, const hs_frame *b)
{
    bool known_a = a->obj[0] != '\0', known_b = b->obj[0] != '\0';
    if (known_a != known_b)
        return known_a ? -1 : 1;
    if (!known_a)
        return compare_u64(a->addr, b->addr);
    int by_obj = strcmp(a->obj, b->obj);
    return by_obj != 0 ? by_obj : compare_u64(a->obj_offset, b->obj_offset);
}

int hs_stack_compare(const hs_site *a, const hs_site *b)
{
    for (size_t i = 0; i < a->nframes && i < b->nframes; i++) {
        int c = compare_frames(&a->frames[i], &b->frames[i]);
        if (c != 0)
            return c;
    }
    return compare_u64(a->nframes, b->nframes);
}

/* Stack order, then addresses: the same stack from several processes sorts
 * the same way on every run, so which address a merged frame keeps does too. */
static int compare_stacks(const void *pa, const void *pb)
{
    const hs_site *a = pa, *b = pb;
    int c = hs_stack_compare(a, b);
    for (size_t i = 0; c == 0 && i < a->nframes; i++)
        c = compare_u64(a->frames[i].addr, b->frames[i].addr);
    return c;
}

static void free_frames(hs_site *s)
{
    for (size_t i = 0; i < s->nframes; i++) {
        free(s->frames[i].obj);
        free(s->frames[i].sym);
    }
    free(s->frames);
    s->frames = NULL;
    s->nframes = 0;
}

/* Adds src, the same stack, into sum; a symbol only src resolved moves over. */
static void add_site(hs_site *sum, hs_site *src)
{
    sum->samples = sat_add(sum->samples, src->samples);
    sum->samples_live = sat_add(sum->samples_live, src->samples_live);
    sum->requested_bytes = sat_add(sum->requested_bytes, src->requested_bytes);
    sum->allocated_bytes = sat_add(sum->allocated_bytes, src->allocated_bytes);
    sum->live_bytes = sat_add(sum->live_bytes, src->live_bytes);
    for (size_t i = 0; i < sum->nframes; i++) {
        if (sum->frames[i].sym == NULL && src->frames[i].sym != NULL) {
            sum->frames[i].sym = src->frames[i].sym;
            sum->frames[i].sym_offset = src->frames[i].sym_offset;
            src->frames[i].sym = NULL;
        }
    }
}

/* Sorts the stacks and makes one of a stack listed several times (by
 * several processes, or twice by one). */
static void merge_stacks(hs_sites *s)
{
    size_t kept = 0;
    if (s->nstacks == 0)
        return;
    qsort(s->stacks, s->nstacks, sizeof(*s->stacks), compare_stacks);
    for (size_t i = 1; i < s->nstacks; i++) {
        if (hs_stack_compare(&s->stacks[kept], &s->stacks[i]) == 0) {
            add_site(&s->stacks[kept], &s->stacks[i]);
            free_frames(&s->stacks[i]);
        } else {
            s->stacks[++kept] = s->stacks[i];
        }
    }
    s->nstacks = kept + 1;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "0x11c4", at most 64 bits. */
static bool parse_hex(const char *s, uint64_t *out)
{
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || s[2] == '\0')
        return false;
    s += 2;
    while (s[0] == '0' && s[1] != '\0')
        s++;
    if (strlen(s) > 16)
        return false;
    *out = 0;
    for (; *s != '\0'; s++) {
        int digit = hex_digit(*s);
        if (digit < 0)
            return false;
        *out = *out << 4 | (uint64_t)digit;
    }
    return true;
}

/* An address written as a hex string (JSON numbers lose bits above 2^53). */
static bool get_hex(jv v, const char *where, const char *key, uint64_t *out, char *err)
{
    char *text = get_string(v, where, key, err);
    if (text == NULL)
        return false;
    bool ok =
        parse_hex(text, out) ||
        fail(err, "%s.%s is \"%.40s\", expected a hex number like \"0x11c4\"", where, key, text);
    free(text);
    return ok;
}

static bool read_frame(jv e, const char *where, hs_frame *f, char *err)
{
    if (jv_get_kind(e) != JV_KIND_OBJECT)
        return fail(err, "%s is %s, expected an object", where, kind_word(jv_get_kind(e)));
    if (!get_hex(e, where, "addr", &f->addr, err) ||
        (f->obj = get_string(e, where, "obj", err)) == NULL ||
        !get_hex(e, where, "obj_offset", &f->obj_offset, err))
        return false;
    jv sym = jv_object_get(jv_copy(e), jv_string("sym"));
    jv_kind kind = jv_get_kind(sym);
    if (kind == JV_KIND_STRING)
        f->sym = xstrdup(jv_string_value(sym));
    jv_free(sym);
    if (kind == JV_KIND_NULL)
        return true;
    if (kind == JV_KIND_INVALID)
        return fail(err, "%s.sym is missing", where);
    if (kind != JV_KIND_STRING)
        return fail(err, "%s.sym is %s, expected a string or null", where, kind_word(kind));
    return get_u64(e, where, "sym_offset", &f->sym_offset, err);
}

static bool read_stack(jv e, const char *where, hs_site *s, char *err)
{
    jv frames;
    if (jv_get_kind(e) != JV_KIND_OBJECT)
        return fail(err, "%s is %s, expected an object", where, kind_word(jv_get_kind(e)));
    if (!get_u64(e, where, "samples", &s->samples, err) ||
        !get_u64(e, where, "samples_live", &s->samples_live, err) ||
        !get_u64(e, where, "requested_bytes", &s->requested_bytes, err) ||
        !get_u64(e, where, "allocated_bytes", &s->allocated_bytes, err) ||
        !get_u64(e, where, "live_bytes", &s->live_bytes, err) ||
        !at_path(e, where, "frames", JV_KIND_ARRAY, &frames, err))
        return false;
    int n = jv_array_length(jv_copy(frames));
    bool ok = n <= HS_MAX_FRAMES ||
              fail(err, "%s.frames has %d frames, more than %d", where, n, HS_MAX_FRAMES);
    if (ok)
        s->frames = xrealloc(NULL, ((size_t)n + 1) * sizeof(*s->frames));
    for (int i = 0; ok && i < n; i++) {
        char at[PATH_MAX_LEN];
        snprintf(at, sizeof(at), "%.120s.frames[%d]", where, i);
        jv f = jv_array_get(jv_copy(frames), i);
        memset(&s->frames[i], 0, sizeof(s->frames[i]));
        s->nframes++;
        ok = read_frame(f, at, &s->frames[i], err);
        jv_free(f);
    }
    jv_free(frames);
    return ok;
}

/* The optional "sites" section (HAKMEM_PROF_SAMPLE > 0). */
static bool read_sites(jv doc, hs_dump *d, char *err)
{
    hs_sites *s = &d->sites;
    jv stacks;
    if (!present_at(doc, "sites"))
        return true;
    s->present = true;
    if (!get_u64(doc, "", "sites.sample_bytes", &s->sample_bytes, err) ||
        !get_u64(doc, "", "sites.depth", &s->depth, err) ||
        !get_u64(doc, "", "sites.samples", &s->samples, err) ||
        !get_u64(doc, "", "sites.samples_live", &s->samples_live, err) ||
        !get_u64(doc, "", "sites.unrecorded", &s->unrecorded, err) ||
        !at_path(doc, "", "sites.stacks", JV_KIND_ARRAY, &stacks, err))
        return false;
    int n = jv_array_length(jv_copy(stacks));
    bool ok = (unsigned)n <= HS_MAX_STACKS ||
              fail(err, "sites.stacks has %d stacks, more than %u", n, HS_MAX_STACKS);
    if (ok)
        s->stacks = xrealloc(NULL, ((size_t)n + 1) * sizeof(*s->stacks));
    for (int i = 0; ok && i < n; i++) {
        char where[PATH_MAX_LEN];
        snprintf(where, sizeof(where), "sites.stacks[%d]", i);
        jv e = jv_array_get(jv_copy(stacks), i);
        memset(&s->stacks[i], 0, sizeof(s->stacks[i]));
        s->nstacks++;
        ok = read_stack(e, where, &s->stacks[i], err);
        jv_free(e);
    }
    jv_free(stacks);
    if (ok)
        merge_stacks(s);
    return ok;
}

// ------------------------------------------------------------- extras

static void add_extra(hs_dump *d, const char *path, uint64_t value)
{
    for (size_t i = 0; i < d->nextras; i++) {
        if (strcmp(d->extras[i].path, path) == 0) {
            d->extras[i].value = sat_add(d->extras[i].value, value);
            return;
        }
    }
    if (d->nextras == MAX_EXTRAS)
        return;
    d->extras = xrealloc(d->extras, (d->nextras + 1) * sizeof(*d->extras));
    d->extras[d->nextras].path = xstrdup(path);
    d->extras[d->nextras++].value = value;
}

/* Keeps every non-negative integer found in obj, a few levels down. */
static void read_extra_object(jv obj, const char *base, int depth, hs_dump *d)
{
    jv_object_foreach(obj, key, value)
    {
        char path[PATH_MAX_LEN], ignored[HS_ERR_MAX];
        uint64_t n = 0;
        join_path(path, base, jv_string_value(key), (size_t)jv_string_length_bytes(jv_copy(key)));
        if (jv_get_kind(value) == JV_KIND_NUMBER && number_to_u64(value, path, &n, ignored))
            add_extra(d, path, n);
        else if (jv_get_kind(value) == JV_KIND_OBJECT && depth < MAX_EXTRA_DEPTH)
            read_extra_object(value, path, depth + 1, d);
        jv_free(key);
        jv_free(value);
    }
}

/* Objects inside a tier (tiers.mid.mf2, tiers.pool.lock_stats, ...): the
 * schema grows there, and the summary shows what it knows of them. */
static void read_extras(jv doc, hs_dump *d)
{
    static const char *const tiers[] = {"tiny", "mid", "pool", "large"};
    for (size_t t = 0; t < sizeof(tiers) / sizeof(tiers[0]); t++) {
        char base[PATH_MAX_LEN], ignored[HS_ERR_MAX];
        jv tier;
        snprintf(base, sizeof(base), "tiers.%s", tiers[t]);
        if (!at_path(doc, "", base, JV_KIND_OBJECT, &tier, ignored))
            continue;
        jv_object_foreach(tier, key, value)
        {
            char path[PATH_MAX_LEN];
            join_path(path, base, jv_string_value(key),
                      (size_t)jv_string_length_bytes(jv_copy(key)));
            if (jv_get_kind(value) == JV_KIND_OBJECT)
                read_extra_object(value, path, 1, d);
            jv_free(key);
            jv_free(value);
        }
        jv_free(tier);
    }
}

// ------------------------------------------------------------- the document

static bool read_doc(jv doc, hs_dump *d, char *err)
{
    if (!read_schema(doc, err) || !read_process(doc, d, err) || !read_config(doc, d, err) ||
        !read_counters(doc, d, err) || !read_classes(doc, d, err) || !read_histogram(doc, d, err) ||
        !read_sites(doc, d, err))
        return false;
    read_extras(doc, d);
    return true;
}

int hs_dump_parse(const char *text, size_t len, hs_dump *d, char *err)
{
    jv doc;
    memset(d, 0, sizeof(*d));
    if (!parse_json(text, len, &doc, err))
        return -1;
    bool ok = read_doc(doc, d, err);
    jv_free(doc);
    if (!ok) {
        hs_dump_free(d);
        return -1;
    }
    d->processes = 1;
    return 0;
}

/* The whole file, or NULL with err set. */
static char *read_file(const char *path, size_t *len, char *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    char *text = NULL;
    size_t cap = 0;
    *len = 0;
    if (f == NULL) {
        fail(err, "%s", strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - *len < 65536)
            text = xrealloc(text, cap = cap * 2 + 65536);
        size_t n = fread(text + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0 || *len > MAX_FILE_BYTES)
            break;
    }
    if (ferror(f)) {
        fail(err, "%s", strerror(errno));
        free(text);
        text = NULL;
    }
    if (!is_stdin)
        fclose(f);
    return text;
}

int hs_dump_load(const char *path, hs_dump *d, char *err)
{
    size_t len;
    char *text = read_file(path, &len, err);
    memset(d, 0, sizeof(*d));
    if (text == NULL)
        return -1;
    int status = hs_dump_parse(text, len, d, err);
    free(text);
    return status;
}

// ------------------------------------------------------------- summing

static void add_program(hs_dump *sum, const char *program)
{
    for (size_t i = 0; i < sum->nprograms; i++)
        if (strcmp(sum->programs[i], program) == 0)
            return;
    sum->programs = xrealloc(sum->programs, (sum->nprograms + 1) * sizeof(*sum->programs));
    sum->programs[sum->nprograms++] = xstrdup(program);
}

static void copy_config(hs_dump *sum, const hs_dump *src)
{
    sum->config = src->nconfig > 0 ? xrealloc(NULL, src->nconfig * sizeof(*sum->config)) : NULL;
    sum->nconfig = src->nconfig;
    for (size_t i = 0; i < src->nconfig; i++) {
        sum->config[i].name = xstrdup(src->config[i].name);
        sum->config[i].value = xstrdup(src->config[i].value);
        sum->config[i].from_env = src->config[i].from_env;
    }
}

static void add_times(hs_dump *sum, const hs_dump *src)
{
    if (sum->processes == 0) {
        memcpy(sum->reason, src->reason, sizeof(sum->reason));
        sum->start_ms = src->start_ms;
        sum->end_ms = src->end_ms;
        sum->elapsed_ms = src->elapsed_ms;
        return;
    }
    sum->start_ms = src->start_ms < sum->start_ms ? src->start_ms : sum->start_ms;
    sum->end_ms = src->end_ms > sum->end_ms ? src->end_ms : sum->end_ms;
    sum->elapsed_ms = sum->end_ms > sum->start_ms ? sum->end_ms - sum->start_ms : 0;
}

static void add_counts(hs_dump *sum, const hs_dump *src)
{
    uint64_t *const to[] = {&sum->env_warnings,   &sum->rss_bytes,    &sum->rss_peak_bytes,
                            &sum->threads_live,   &sum->mapped_bytes, &sum->mapped_peak_bytes,
                            &sum->alloc,          &sum->free,         &sum->bytes_requested,
                            &sum->bytes_allocated};
    const uint64_t from[] = {src->env_warnings,   src->rss_bytes,    src->rss_peak_bytes,
                             src->threads_live,   src->mapped_bytes, src->mapped_peak_bytes,
                             src->alloc,          src->free,         src->bytes_requested,
                             src->bytes_allocated};
    for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++)
        *to[i] = sat_add(*to[i], from[i]);
    for (int t = 0; t < HS_CLASS_TIERS; t++) {
        for (int c = 0; c < HS_CC_COUNT; c++)
            sum->tier[t].c[c] = sat_add(sum->tier[t].c[c], src->tier[t].c[c]);
        sum->tier[t].bytes_allocated =
            sat_add(sum->tier[t].bytes_allocated, src->tier[t].bytes_allocated);
        sum->tier[t].slabs_in_use = sat_add(sum->tier[t].slabs_in_use, src->tier[t].slabs_in_use);
    }
    for (int gc = 0; gc < HS_GC_COUNT; gc++) {
        sum->g[gc] = sat_add(sum->g[gc], src->g[gc]);
        sum->g_present[gc] |= src->g_present[gc];
    }
    for (int cc = 0; cc < HS_CC_COUNT; cc++)
        sum->cc_present[cc] |= src->cc_present[cc];
    for (int b = 0; b < HS_HIST_BUCKETS; b++)
        sum->hist[b] = sat_add(sum->hist[b], src->hist[b]);
    sum->hist_enabled |= src->hist_enabled;
}

static hs_site copy_site(const hs_site *src)
{
    hs_site copy = *src;
    copy.frames = xrealloc(NULL, (src->nframes + 1) * sizeof(*copy.frames));
    for (size_t i = 0; i < src->nframes; i++) {
        copy.frames[i] = src->frames[i];
        copy.frames[i].obj = xstrdup(src->frames[i].obj);
        copy.frames[i].sym = src->frames[i].sym != NULL ? xstrdup(src->frames[i].sym) : NULL;
    }
    return copy;
}

/* Stacks of several processes add up where they are the same stack. */
static void add_sites(hs_sites *sum, const hs_sites *src)
{
    if (!src->present)
        return;
    if (!sum->present)
        sum->sample_bytes = src->sample_bytes;
    sum->sample_bytes_differ |= src->sample_bytes_differ || sum->sample_bytes != src->sample_bytes;
    sum->present = true;
    sum->depth = src->depth > sum->depth ? src->depth : sum->depth;
    sum->samples = sat_add(sum->samples, src->samples);
    sum->samples_live = sat_add(sum->samples_live, src->samples_live);
    sum->unrecorded = sat_add(sum->unrecorded, src->unrecorded);
    sum->stacks = xrealloc(sum->stacks, (sum->nstacks + src->nstacks + 1) * sizeof(*sum->stacks));
    for (size_t i = 0; i < src->nstacks; i++)
        sum->stacks[sum->nstacks++] = copy_site(&src->stacks[i]);
    merge_stacks(sum);
}

void hs_dump_add(hs_dump *sum, const hs_dump *src)
{
    add_times(sum, src);
    if (sum->processes == 0 && src->nconfig > 0)
        copy_config(sum, src);
    sum->processes += src->processes;
    for (size_t i = 0; i < src->nprograms; i++)
        add_program(sum, src->programs[i]);
    sum->pids = xrealloc(sum->pids, (sum->npids + src->npids + 1) * sizeof(*sum->pids));
    for (size_t i = 0; i < src->npids; i++)
        sum->pids[sum->npids++] = src->pids[i];
    add_counts(sum, src);
    for (size_t i = 0; i < src->nclasses; i++) {
        hs_class *slot = class_slot(sum, src->classes[i].index);
        slot->size = src->classes[i].size;
        slot->tier = src->classes[i].tier;
        for (int c = 0; c < HS_CC_COUNT; c++)
            slot->c[c] = sat_add(slot->c[c], src->classes[i].c[c]);
    }
    for (size_t i = 0; i < src->nextras; i++)
        add_extra(sum, src->extras[i].path, src->extras[i].value);
    add_sites(&sum->sites, &src->sites);
}

void hs_dump_free(hs_dump *d)
{
    for (size_t i = 0; i < d->nprograms; i++)
        free(d->programs[i]);
    for (size_t i = 0; i < d->nconfig; i++) {
        free(d->config[i].name);
        free(d->config[i].value);
    }
    for (size_t i = 0; i < d->nextras; i++)
        free(d->extras[i].path);
    for (size_t i = 0; i < d->sites.nstacks; i++)
        free_frames(&d->sites.stacks[i]);
    free(d->sites.stacks);
    free(d->programs);
    free(d->pids);
    free(d->config);
    free(d->classes);
    free(d->extras);
    memset(d, 0, sizeof(*d));
}
