/*
 * `hakstat top`: the allocation sites that weigh most.  A site is a call
 * stack; the dump gives, for each, the allocations sampled there and the
 * bytes they stand for (allocated, still live).  As with the summary, the
 * output depends only on the dumps, so tests compare it byte for byte.
 */
#include "top.h"
#include "summary.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_SITES 3
/* Callers named after a site's innermost frame where it has one line. */
#define NAMED_CALLERS 2

/* A site's line: rank (or a title), allocated, live, samples, share, then
 * its innermost frame; the rest of its stack lines up under that frame. */
#define SITE_COLUMNS "%-11s%10s %10s %9s %6s  "

static const char *const by_words[HS_BY_ORDERS] = {"allocated", "live", "count"};
static const char *const by_titles[HS_BY_ORDERS] = {"bytes allocated", "live bytes", "samples"};

bool hs_site_by_parse(const char *word, hs_site_by *by)
{
    for (int i = 0; i < HS_BY_ORDERS; i++) {
        if (strcmp(word, by_words[i]) == 0) {
            *by = (hs_site_by)i;
            return true;
        }
    }
    return false;
}

// ------------------------------------------------------------- ranking

static uint64_t site_value(const hs_site *s, hs_site_by by)
{
    switch (by) {
    case HS_BY_LIVE:
        return s->live_bytes;
    case HS_BY_SAMPLES:
        return s->samples;
    default:
        return s->allocated_bytes;
    }
}

/* The figure summed over every site: what a site's share is of. */
static double sites_total(const hs_dump *d, hs_site_by by)
{
    double total = 0;
    for (size_t i = 0; i < d->sites.nstacks; i++)
        total += (double)site_value(&d->sites.stacks[i], by);
    return total;
}

static double share_pct(const hs_site *s, hs_site_by by, double total)
{
    return total > 0 ? 100.0 * (double)site_value(s, by) / total : 0;
}

typedef struct ranked {
    uint64_t value;
    const hs_site *site;
} ranked;

/* Heaviest first; a tie in stack order, the same on every run. */
static int compare_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->value != b->value)
        return a->value < b->value ? 1 : -1;
    return hs_stack_compare(a->site, b->site);
}

const hs_site **hs_top_sites(const hs_dump *d, hs_site_by by, size_t n, size_t *count)
{
    ranked *all = malloc((d->sites.nstacks + 1) * sizeof(*all));
    size_t k = 0;
    for (size_t i = 0; i < d->sites.nstacks; i++) {
        const hs_site *s = &d->sites.stacks[i];
        if (site_value(s, by) > 0)
            all[k++] = (ranked){site_value(s, by), s};
    }
    qsort(all, k, sizeof(*all), compare_ranked);
    if (n > 0 && n < k)
        k = n;
    const hs_site **top = malloc((k + 1) * sizeof(*top));
    for (size_t i = 0; i < k; i++)
        top[i] = all[i].site;
    free(all);
    *count = k;
    return top;
}

// ------------------------------------------------------------- frame names

typedef enum {
    NAME_FULL,   /* "sym+0x14 (obj)": the innermost frame, where the offset matters */
    NAME_SHORT,  /* "sym": a caller */
    NAME_FOLDED, /* "sym", safe in a folded stack */
} name_form;

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Text from the dump as shown: control characters (a newline would break a
 * line-per-site output) as '?'; in a folded stack ';' and ' ', which end a
 * frame and the stack, as ':' and '_'. */
static void put_text(FILE *out, const char *s, name_form form)
{
    for (; *s != '\0'; s++) {
        char c = *s;
        if ((unsigned char)c < 0x20 || c == 0x7f)
            c = '?';
        else if (form == NAME_FOLDED && c == ';')
            c = ':';
        else if (form == NAME_FOLDED && c == ' ')
            c = '_';
        fputc(c, out);
    }
}

/* By symbol, else by object and offset (what addr2line takes), else by the
 * bare address. */
static void put_frame(FILE *out, const hs_frame *f, name_form form)
{
    bool has_obj = f->obj[0] != '\0';
    if (f->sym != NULL && f->sym[0] != '\0') {
        put_text(out, f->sym, form);
        if (form == NAME_FULL)
            fprintf(out, "+0x%" PRIx64, f->sym_offset);
        if (form == NAME_FULL && has_obj) {
            fputs(" (", out);
            put_text(out, base_name(f->obj), form);
            fputc(')', out);
        }
    } else if (has_obj) {
        put_text(out, base_name(f->obj), form);
        fprintf(out, "+0x%" PRIx64, f->obj_offset);
    } else {
        fprintf(out, "0x%" PRIx64, f->addr);
    }
}

static void put_innermost(FILE *out, const hs_site *s)
{
    if (s->nframes == 0)
        fputs("(no frames)", out);
    else
        put_frame(out, &s->frames[0], NAME_FULL);
}

void hs_site_print_name(FILE *out, const hs_site *s)
{
    put_innermost(out, s);
    for (size_t i = 1; i < s->nframes && i <= NAMED_CALLERS; i++) {
        fputs(" <- ", out);
        put_frame(out, &s->frames[i], NAME_SHORT);
    }
}

// ------------------------------------------------------------- text

/* The figures of a site, then its innermost frame (with callers where the
 * line is all there is of it). */
static void print_site_row(FILE *out, size_t rank, const hs_site *s, double share, bool callers)
{
    char number[24], allocated[32], live[32], samples[48], pct[16];
    snprintf(number, sizeof(number), "%3zu", rank);
    hs_format(allocated, sizeof(allocated), HS_BYTES, (double)s->allocated_bytes);
    hs_format(live, sizeof(live), HS_BYTES, (double)s->live_bytes);
    hs_format(samples, sizeof(samples), HS_COUNT, (double)s->samples);
    snprintf(pct, sizeof(pct), "%.1f%%", share);
    fprintf(out, SITE_COLUMNS, number, allocated, live, samples, pct);
    if (callers)
        hs_site_print_name(out, s);
    else
        put_innermost(out, s);
    fputc('\n', out);
}

static void print_columns(FILE *out, const char *title, const char *last)
{
    fprintf(out, SITE_COLUMNS "%s\n", title, "allocated", "live", "samples", "share", last);
}

/* How the sites were sampled: what the figures are estimates from. */
static void print_sampling(FILE *out, const hs_sites *s)
{
    char sites[48], samples[48], live[48], every[32], lost[48];
    hs_format(sites, sizeof(sites), HS_COUNT, (double)s->nstacks);
    hs_format(samples, sizeof(samples), HS_COUNT, (double)s->samples);
    hs_format(live, sizeof(live), HS_COUNT, (double)s->samples_live);
    hs_format(every, sizeof(every), HS_BYTES, (double)s->sample_bytes);
    fprintf(out, "  %s site%s, %s samples (%s live)\n", sites, s->nstacks == 1 ? "" : "s", samples,
            live);
    if (s->sample_bytes_differ)
        fputs("  sampled at different rates (HAKMEM_PROF_SAMPLE differs)", out);
    else
        fprintf(out, "  one sample per %s allocated on average", every);
    fprintf(out, ", stacks of up to %" PRIu64 " frames\n", s->depth);
    if (s->unrecorded > 0) {
        hs_format(lost, sizeof(lost), HS_COUNT, (double)s->unrecorded);
        fprintf(out, "  %s samples not recorded: the site table was full\n", lost);
    }
}

static void print_stack(FILE *out, const hs_site *s)
{
    int indent = snprintf(NULL, 0, SITE_COLUMNS, "", "", "", "", "");
    for (size_t i = 1; i < s->nframes; i++) {
        fprintf(out, "%*s", indent, "");
        put_frame(out, &s->frames[i], NAME_FULL);
        fputc('\n', out);
    }
}

void hs_top_print(FILE *out, const hs_dump *d, hs_site_by by, size_t n)
{
    size_t count;
    const hs_site **top = hs_top_sites(d, by, n, &count);
    double total = sites_total(d, by);
    fputs("hakmem sites: ", out);
    hs_print_who(out, d);
    fputc('\n', out);
    print_sampling(out, &d->sites);
    if (d->sites.nstacks == 0)
        fputs("\nNo allocation was sampled\n", out);
    else if (count == 0)
        fprintf(out, "\nNo site has %s\n", by_titles[by]);
    else
        fprintf(out, "\nTop %zu of %zu sites by %s\n", count, d->sites.nstacks, by_titles[by]);
    if (count > 0)
        print_columns(out, "", "stack, innermost frame first");
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            fputc('\n', out);
        print_site_row(out, i + 1, top[i], share_pct(top[i], by, total), false);
        print_stack(out, top[i]);
    }
    free(top);
}

void hs_top_folded(FILE *out, const hs_dump *d, hs_site_by by, size_t n)
{
    size_t count;
    const hs_site **top = hs_top_sites(d, by, n, &count);
    for (size_t i = 0; i < count; i++) {
        const hs_site *s = top[i];
        for (size_t f = s->nframes; f-- > 0;) {
            put_frame(out, &s->frames[f], NAME_FOLDED);
            if (f > 0)
                fputc(';', out);
        }
        if (s->nframes == 0)
            fputs("[unknown]", out);
        fprintf(out, " %" PRIu64 "\n", site_value(s, by));
    }
    free(top);
}

void hs_sites_summary_print(FILE *out, const hs_dump *d)
{
    size_t count;
    if (!d->sites.present)
        return;
    const hs_site **top = hs_top_sites(d, HS_BY_ALLOCATED, SUMMARY_SITES, &count);
    double total = sites_total(d, HS_BY_ALLOCATED);
    fputc('\n', out);
    if (count == 0)
        fputs("Top sites: no allocation sampled\n", out);
    else
        print_columns(out, "Top sites", "(hakstat top: all, with stacks)");
    for (size_t i = 0; i < count; i++)
        print_site_row(out, i + 1, top[i], share_pct(top[i], HS_BY_ALLOCATED, total), true);
    free(top);
}

// ------------------------------------------------------------- JSON

static jv hex_json(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    return jv_string(buf);
}

static jv name_json(const hs_frame *f)
{
    char *name = NULL;
    size_t len;
    FILE *text = open_memstream(&name, &len);
    if (text == NULL) {
        fputs("hakstat: out of memory\n", stderr);
        exit(2);
    }
    put_frame(text, f, NAME_FULL);
    fclose(text);
    jv j = jv_string(name);
    free(name);
    return j;
}

static jv frame_json(const hs_frame *f)
{
    jv j = jv_object_set(jv_object(), jv_string("name"), name_json(f));
    j = jv_object_set(j, jv_string("addr"), hex_json(f->addr));
    j = jv_object_set(j, jv_string("obj"), jv_string(f->obj));
    j = jv_object_set(j, jv_string("obj_offset"), hex_json(f->obj_offset));
    j = jv_object_set(j, jv_string("sym"), f->sym != NULL ? jv_string(f->sym) : jv_null());
    if (f->sym != NULL)
        j = jv_object_set(j, jv_string("sym_offset"), jv_number((double)f->sym_offset));
    return j;
}

jv hs_site_frames_json(const hs_site *s)
{
    jv frames = jv_array();
    for (size_t i = 0; i < s->nframes; i++)
        frames = jv_array_append(frames, frame_json(&s->frames[i]));
    return frames;
}

static jv site_json(const hs_site *s, double share)
{
    jv j = jv_object();
    j = jv_object_set(j, jv_string("allocated_bytes"), jv_number((double)s->allocated_bytes));
    j = jv_object_set(j, jv_string("live_bytes"), jv_number((double)s->live_bytes));
    j = jv_object_set(j, jv_string("requested_bytes"), jv_number((double)s->requested_bytes));
    j = jv_object_set(j, jv_string("samples"), jv_number((double)s->samples));
    j = jv_object_set(j, jv_string("samples_live"), jv_number((double)s->samples_live));
    j = jv_object_set(j, jv_string("share_pct"), jv_number(round(share * 100) / 100));
    return jv_object_set(j, jv_string("frames"), hs_site_frames_json(s));
}

jv hs_top_json(const hs_dump *d, hs_site_by by, size_t n)
{
    size_t count;
    const hs_site **top = hs_top_sites(d, by, n, &count);
    double total = sites_total(d, by);
    jv arr = jv_array();
    for (size_t i = 0; i < count; i++)
        arr = jv_array_append(arr, site_json(top[i], share_pct(top[i], by, total)));
    free(top);
    return arr;
}

jv hs_sites_summary_json(const hs_dump *d)
{
    return d->sites.present ? hs_top_json(d, HS_BY_ALLOCATED, SUMMARY_SITES) : jv_null();
}
