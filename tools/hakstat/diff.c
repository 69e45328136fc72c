/*
 * `hakstat diff A B`: every figure of the summary for A and B side by side,
 * with the change, for A/B runs of one switch.
 */
#include "summary.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

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

static void print_row(FILE *out, int f, const hs_summary *a, const hs_summary *b)
{
    const hs_figure *fig = &hs_figures[f];
    char va[48] = "-", vb[48] = "-", change[48] = "", rel[32] = "";
    double pct;
    if (a->present[f])
        hs_format(va, sizeof(va), fig->unit, a->value[f]);
    if (b->present[f])
        hs_format(vb, sizeof(vb), fig->unit, b->value[f]);
    if (a->present[f] && b->present[f]) {
        format_change(change, sizeof(change), fig->unit, a->value[f], b->value[f]);
        if (relative_change(fig->unit, a->value[f], b->value[f], &pct))
            snprintf(rel, sizeof(rel), "%+.1f%%", pct);
    }
    print_line(out, "  %-24s %14s %14s %14s %8s", fig->label, va, vb, change, rel);
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
        print_row(out, f, &sa, &sb);
    }
    print_line(out, "\n%-26s %14s %14s", "Configuration changes", "A", "B");
    each_config_change(a, b, print_config_change, out);
}

// ------------------------------------------------------------- JSON

static jv json_row(int f, const hs_summary *a, const hs_summary *b)
{
    jv row = jv_object();
    double pct;
    bool both = a->present[f] && b->present[f];
    double delta = both ? round((b->value[f] - a->value[f]) * 100) / 100 : 0;
    row = jv_object_set(row, jv_string("a"), hs_json_figure(a, f));
    row = jv_object_set(row, jv_string("b"), hs_json_figure(b, f));
    row = jv_object_set(row, jv_string("change"), both ? jv_number(delta) : jv_null());
    bool rel = both && relative_change(hs_figures[f].unit, a->value[f], b->value[f], &pct);
    return jv_object_set(row, jv_string("change_pct"),
                         rel ? jv_number(round(pct * 100) / 100) : jv_null());
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
    return jv_object_set(j, jv_string("config_changes"), changes);
}
