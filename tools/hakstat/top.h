/*
 * Allocation sites: the "sites" section of a dump (HAKMEM_PROF_SAMPLE), as
 * `hakstat top` lists it, and the short forms the summary and diff show.
 */
#ifndef HAKSTAT_TOP_H
#define HAKSTAT_TOP_H

#include <stdbool.h>
#include <stdio.h>

#include <jv.h>

#include "dump.h"

/* What sites are ranked by: --by allocated, live, count. */
typedef enum { HS_BY_ALLOCATED, HS_BY_LIVE, HS_BY_SAMPLES, HS_BY_ORDERS } hs_site_by;

/* The word of --by ("live") to its value; false for another word. */
bool hs_site_by_parse(const char *word, hs_site_by *by);

/* The n sites of d weighing most by `by` (all for n 0), leaving out those at
 * 0: an array for free(), *count long. */
const hs_site **hs_top_sites(const hs_dump *d, hs_site_by by, size_t n, size_t *count);

/* `hakstat top`: the sites and their stacks for a person, as a JSON array,
 * or as folded stacks for flame graphs. */
void hs_top_print(FILE *out, const hs_dump *d, hs_site_by by, size_t n);
jv hs_top_json(const hs_dump *d, hs_site_by by, size_t n);
void hs_top_folded(FILE *out, const hs_dump *d, hs_site_by by, size_t n);

/* The summary's few lines of top sites; nothing when d has no sites. */
void hs_sites_summary_print(FILE *out, const hs_dump *d);
/* The same as JSON: an array, or null when d has no sites. */
jv hs_sites_summary_json(const hs_dump *d);

/* A site named by its innermost frames, "alloc_a+0x14 (prog) <- main", for a
 * line of the diff. */
void hs_site_print_name(FILE *out, const hs_site *s);

/* The frames of a site as JSON, each as the dump gives it, with its name. */
jv hs_site_frames_json(const hs_site *s);

#endif /* HAKSTAT_TOP_H */
