/*
 * `hakstat diff A B`: every figure of the summary for A and B side by side,
 * with the change, for A/B runs of one switch; and the allocation sites
 * that changed most, where both dumps have sites.
 */
#include "summary.h"
#include "top.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Sites shown, the most changed first. */
#define DIFF_SITES 5

/* A line of the table, without the spaces an empty last column leaves. */
static void print_line(FILE *out, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        n--;
    fprintf(out, "%.*s\n", (int)n, line);
}

/* The change from a to b as text: "+1,234", "-1.5 MiB", "+0.4 pp". */
static void format_change(char *buf, size_t size, hs_unit unit, double a, double b)
{
    double delta = b - a;
    if (unit == HS_PCT) {
        snprintf(buf, size, "%+.1f pp", delta);
        return;
    }
    buf[0] = delta > 0 ? '+' : delta < 0 ? '-' : '\0';
    hs_format(buf + (buf[0] != '\0'), size - 1, unit, fabs(delta));
}

/* The change relative to a, or false when it means nothing (a is 0, a rate). */
static bool relative_change(hs_unit unit, double a, double b, double *pct)
{
    if (unit == HS_PCT || a == 0)
        return false;
    *pct = 100.0 * (b - a) / fabs(a);
    return true;
}

/* A value of A and of B (each absent or not) and the change between them. */
typedef struct ab_value {
    hs_unit unit;
    bool in_a, in_b;
    double a, b;
} ab_value;

static void print_values(FILE *out, const char *label, ab_value v)
{
    char va[48] = "-", vb[48] = "-", change[48] = "", rel[32] = "";
    double pct;
    if (v.in_a)
        hs_format(va, sizeof(va), v.unit, v.a);
    if (v.in_b)
        hs_format(vb, sizeof(vb), v.unit, v.b);
    if (v.in_a && v.in_b) {
        format_change(change, sizeof(change), v.unit, v.a, v.b);
        if (relative_change(v.unit, v.a, v.b, &pct))
            snprintf(rel, sizeof(rel), "%+.1f%%", pct);
    }
    print_line(out, "  %-24s %14s %14s %14s %8s", label, va, vb, change, rel);
}

static ab_value figure_values(int f, const hs_summary *a, const hs_summary *b)
{
    return (ab_value){hs_figures[f].unit, a->present[f], b->present[f], a->value[f], b->value[f]};
}

static const char *config_value(const hs_dump *d, const char *name)
{
    for (size_t i = 0; i < d->nconfig; i++)
        if (strcmp(d->config[i].name, name) == 0)
            return d->config[i].value;
    return NULL;
}

/* Calls fn for every variable whose value differs between a and b. */
static void each_config_change(const hs_dump *a, const hs_dump *b,
                               void (*fn)(void *ctx, const char *name, const char *va,
                                          const char *vb),
                               void *ctx)
{
    for (size_t i = 0; i < a->nconfig; i++) {
        const char *vb = config_value(b, a->config[i].name);
        if (vb == NULL || strcmp(vb, a->config[i].value) != 0)
            fn(ctx, a->config[i].name, a->config[i].value, vb);
    }
    for (size_t i = 0; i < b->nconfig; i++)
        if (config_value(a, b->config[i].name) == NULL)
            fn(ctx, b->config[i].name, NULL, b->config[i].value);
}

static void print_config_change(void *ctx, const char *name, const char *va, const char *vb)
{
    FILE *out = ctx;
    print_line(out, "  %-24s %14s %14s", name, va != NULL ? va : "-", vb != NULL ? vb : "-");
}

// ------------------------------------------------------------- sites

/* A stack in A, in B or in both, and how much it changed. */
typedef struct site_change {
    const hs_site *a, *b; /* NULL where the dump has no such stack */
    double weight;
} site_change;

static ab_value site_values(const site_change *c, bool live)
{
    ab_value v = {HS_BYTES, true, true, 0, 0};
    if (c->a != NULL)
        v.a = (double)(live ? c->a->live_bytes : c->a->allocated_bytes);
    if (c->b != NULL)
        v.b = (double)(live ? c->b->live_bytes : c->b->allocated_bytes);
    return v;
}

/* The larger change, in bytes allocated or in live bytes: a site that grew
 * in what it holds (a leak) counts as much as one that allocates more. */
static double change_weight(const site_change *c)
{
    ab_value allocated = site_values(c, false), live = site_values(c, true);
    return fmax(fabs(allocated.b - allocated.a), fabs(live.b - live.a));
}

static int compare_changes(const void *pa, const void *pb)
{
    const site_change *a = pa, *b = pb;
    if (a->weight != b->weight)
        return a->weight < b->weight ? 1 : -1;
    return hs_stack_compare(a->a != NULL ? a->a : a->b, b->a != NULL ? b->a : b->b);
}

/* The stacks of A and B (each in stack order) matched, the most changed
 * first, at most DIFF_SITES; those that did not change are left out. */
static site_change *site_changes(const hs_dump *a, const hs_dump *b, size_t *count)
{
    const hs_sites *sa = &a->sites, *sb = &b->sites;
    site_change *all = malloc((sa->nstacks + sb->nstacks + 1) * sizeof(*all));
    size_t i = 0, j = 0, n = 0;
    while (i < sa->nstacks || j < sb->nstacks) {
        int order = i == sa->nstacks   ? 1
                    : j == sb->nstacks ? -1
                                       : hs_stack_compare(&sa->stacks[i], &sb->stacks[j]);
        site_change c = {order <= 0 ? &sa->stacks[i++] : NULL, order >= 0 ? &sb->stacks[j++] : NULL,
                         0};
        c.weight = change_weight(&c);
        if (c.weight > 0)
            all[n++] = c;
    }
    qsort(all, n, sizeof(*all), compare_changes);
    *count = n < DIFF_SITES ? n : DIFF_SITES;
    return all;
}

static void print_site_changes(FILE *out, const hs_dump *a, const hs_dump *b)
{
    size_t count;
    if (!a->sites.present && !b->sites.present)
        return;
    if (!a->sites.present || !b->sites.present) {
        print_line(out, "\nSites: none in %s (written with HAKMEM_PROF_SAMPLE off)",
                   a->sites.present ? "B" : "A");
        return;
    }
    site_change *changes = site_changes(a, b, &count);
    print_line(out, "\n%-26s %14s %14s %14s", "Sites, most changed", "A", "B", "change");
    if (count == 0)
        fputs("  (none changed)\n", out);
    for (size_t i = 0; i < count; i++) {
        fputs("  ", out);
        hs_site_print_name(out, changes[i].a != NULL ? changes[i].a : changes[i].b);
        fputc('\n', out);
        print_values(out, "  allocated", site_values(&changes[i], false));
        print_values(out, "  live", site_values(&changes[i], true));
    }
    free(changes);
}

// ------------------------------------------------------------- the page

void hs_diff_print(FILE *out, const hs_dump *a, const hs_dump *b)
{
    hs_summary sa, sb;
    const char *shown = NULL;
    hs_summary_compute(a, &sa);
    hs_summary_compute(b, &sb);
    fputs("hakstat diff\n  A: ", out);
    hs_print_who(out, a);
    fputs("\n  B: ", out);
    hs_print_who(out, b);
    fputc('\n', out);
    for (int f = 0; f < HS_FIG_COUNT; f++) {
        const char *title = hs_section_title(hs_figures[f].path);
        if (!sa.present[f] && !sb.present[f])
            continue;
        if (title != shown)
            print_line(out, "\n%-26s %14s %14s %14s", title, "A", "B", "change");
        shown = title;
        print_values(out, hs_figures[f].label, figure_values(f, &sa, &sb));
    }
    print_site_changes(out, a, b);
    print_line(out, "\n%-26s %14s %14s", "Configuration changes", "A", "B");
    each_config_change(a, b, print_config_change, out);
}

// ------------------------------------------------------------- JSON

static jv json_values(ab_value v, jv a, jv b)
{
    jv row = jv_object();
    double pct;
    bool both = v.in_a && v.in_b;
    double delta = both ? round((v.b - v.a) * 100) / 100 : 0;
    row = jv_object_set(row, jv_string("a"), a);
    row = jv_object_set(row, jv_string("b"), b);
    row = jv_object_set(row, jv_string("change"), both ? jv_number(delta) : jv_null());
    bool rel = both && relative_change(v.unit, v.a, v.b, &pct);
    return jv_object_set(row, jv_string("change_pct"),
                         rel ? jv_number(round(pct * 100) / 100) : jv_null());
}

static jv json_row(int f, const hs_summary *a, const hs_summary *b)
{
    return json_values(figure_values(f, a, b), hs_json_figure(a, f), hs_json_figure(b, f));
}

static jv json_site_values(const site_change *c, bool live)
{
    ab_value v = site_values(c, live);
    return json_values(v, jv_number(v.a), jv_number(v.b));
}

/* The sites of print_site_changes; null unless both dumps have sites. */
static jv json_site_changes(const hs_dump *a, const hs_dump *b)
{
    size_t count;
    if (!a->sites.present || !b->sites.present)
        return jv_null();
    site_change *changes = site_changes(a, b, &count);
    jv arr = jv_array();
    for (size_t i = 0; i < count; i++) {
        const hs_site *s = changes[i].a != NULL ? changes[i].a : changes[i].b;
        jv row = jv_object_set(jv_object(), jv_string("frames"), hs_site_frames_json(s));
        row =
            jv_object_set(row, jv_string("allocated_bytes"), json_site_values(&changes[i], false));
        row = jv_object_set(row, jv_string("live_bytes"), json_site_values(&changes[i], true));
        arr = jv_array_append(arr, row);
    }
    free(changes);
    return arr;
}

static void add_config_change(void *ctx, const char *name, const char *va, const char *vb)
{
    jv *arr = ctx;
    jv row = jv_object_set(jv_object(), jv_string("name"), jv_string(name));
    row = jv_object_set(row, jv_string("a"), va != NULL ? jv_string(va) : jv_null());
    row = jv_object_set(row, jv_string("b"), vb != NULL ? jv_string(vb) : jv_null());
    *arr = jv_array_append(*arr, row);
}

jv hs_diff_json(const hs_dump *a, const hs_dump *b)
{
    hs_summary sa, sb;
    jv figures = jv_object(), changes = jv_array();
    hs_summary_compute(a, &sa);
    hs_summary_compute(b, &sb);
    for (int f = 0; f < HS_FIG_COUNT; f++)
        figures = hs_json_set(figures, hs_figures[f].path, json_row(f, &sa, &sb));
    each_config_change(a, b, add_config_change, &changes);
    jv j = jv_object_set(jv_object(), jv_string("schema"), jv_string("hakstat.diff/1"));
    j = jv_object_set(j, jv_string("a"), hs_json_who(a));
    j = jv_object_set(j, jv_string("b"), hs_json_who(b));
    j = jv_object_set(j, jv_string("figures"), figures);
    j = jv_object_set(j, jv_string("sites"), json_site_changes(a, b));
    return jv_object_set(j, jv_string("config_changes"), changes);
}
