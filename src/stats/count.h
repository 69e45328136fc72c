/*
 * The counting done on the fast paths, inline.  Included by the tiers; the
 * rest of the statistics API is stats.h.
 */
#ifndef HAK_STATS_COUNT_H
#define HAK_STATS_COUNT_H

#include "../thread.h"
#include "stats.h"

/* h is the owning thread's real heap (the caller just took a block from it). */
static inline void hak_count_alloc(hak_heap *h, unsigned cls, size_t size)
{
    if (__builtin_expect(hak_stats_enabled, 0))
        hak_stat_alloc(h, cls, size);
}

/* The malloc fast path's form: counts (if on) and returns p, as a tail call. */
void *hak_stat_alloc_then(void *p, unsigned cls, size_t size);

static inline void hak_count_owner_free(hak_heap *h, unsigned cls)
{
    if (__builtin_expect(hak_stats_enabled, 0))
        hak_stat_bump(&h->stats.cls[cls][HAK_CSTAT_FREE], 1);
}

#endif /* HAK_STATS_COUNT_H */
