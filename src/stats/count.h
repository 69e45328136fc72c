/*
 * The counting done on the fast paths, inline.  Included by the tiers; the
 * rest of the statistics API is stats.h.
 */
#ifndef HAK_STATS_COUNT_H
#define HAK_STATS_COUNT_H

#include "../thread.h"
#include "stats.h"

/* Whether every allocation needs the bookkeeping of hak_track_alloc_then:
 * counting (HAKMEM_STATS) or clearing HAKMEM_CHECK's free mark.  (The
 * profiler needs only the sampled ones: hak_heap.track_left.) */
extern bool hak_alloc_tracking;

/* A block of class cls just handed out for `size` bytes: counted, its free
 * mark cleared, and offered to the profiler, as switched on; returns p (a
 * tail call keeps the malloc fast path free of saved registers). */
void *hak_track_alloc_then(void *p, unsigned cls, size_t size);

/* An allocation of `size` bytes from class cls, on the owning thread's
 * shard; inline, as it runs on every allocation with counting on. */
static inline void hak_stat_alloc(hak_heap *h, unsigned cls, size_t size)
{
    uint64_t *row = h->stats.cls[cls];
    hak_stat_bump(&row[HAK_CSTAT_ALLOC], 1);
    hak_stat_bump(&row[HAK_CSTAT_BYTES_REQUESTED], size);
    if (hak_hist_enabled)
        hak_stat_bump(&h->stats.hist[hak_hist_bucket(size)], 1);
}

static inline void hak_count_owner_free(hak_heap *h, unsigned cls)
{
    if (__builtin_expect(hak_stats_enabled, 0))
        hak_stat_bump(&h->stats.cls[cls][HAK_CSTAT_FREE], 1);
}

#endif /* HAK_STATS_COUNT_H */
