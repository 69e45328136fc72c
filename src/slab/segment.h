/*
 * Tiny segments: the memory tiny slabs are cut from.
 *
 * A segment belongs to one heap, which alone takes free slabs from it and
 * purges them; a slab in use belongs to whichever heap owns the slab, which
 * may be another (slabs are orphaned and adopted one by one when threads
 * exit, slab.c).  So freeing a slab back is an atomic or into `free_mask`,
 * from any thread, publishing the slab's descriptors; after it the freeing
 * thread does not touch the segment again, and only the segment's owner (or,
 * for an orphaned segment, the sweeper under the orphan lock) may find it
 * all free and release it.
 */
#ifndef HAK_SLAB_SEGMENT_H
#define HAK_SLAB_SEGMENT_H

#include "slab.h"

/* Slabs per segment: SUPERSLAB_SLABS, or STANDALONE_SLABS with SuperSlabs
 * off. */
uint32_t segment_slabs(void);
/* A free slab of `units` consecutive SLAB_SIZE units from one of h's segments
 * (mapping a new segment if none has room), marked in use but not yet given
 * a class; NULL when out of memory.  The registry points every unit at the
 * first unit's descriptor. */
hak_slab *segment_take_slab(hak_heap *h, unsigned units);
/* The in-use slabs of g, one bit each, at their first unit. */
slab_mask segment_slab_heads(const slab_segment *g);
/* The empty slab s, owned by h, leaves its class; it has been empty since
 * empty_ms (the purge delay counts from there).  If h owns the segment too
 * and that left every slab free, the segment goes back to the OS layer;
 * otherwise its owner finds it so at its next purge. */
void segment_return_slab(hak_heap *h, hak_slab *s, uint64_t empty_ms);
/* The same from a thread that does not own s (taken from an idle heap), with
 * its pages released now: their owner is not there to purge them. */
void segment_return_idle_slab(hak_slab *s, uint64_t empty_ms);
slab_mask segment_all_slabs(const slab_segment *g);
char *segment_slab_base(const hak_slab *s);

/* Thread exit: h's segments go back to the OS layer if all free, or wait,
 * ownerless, for a thread that needs a free slab (or for the sweeper). */
void segment_orphan_all(hak_heap *h);
/* Releases the pages of h's free slabs that have waited past the purge
 * delay, and h's segments that other threads' frees left all free. */
void segment_purge(hak_heap *h, bool force);
/* The same pages of h's free slabs, from another thread while h idles (its
 * own purge runs only when it allocates); its segments stay mapped and
 * listed, for h alone to release.  Skipped if h holds its segments lock. */
void segment_purge_idle(hak_heap *h, bool force);
/* The same for the orphaned segments; skipped if another thread is at it. */
void segment_sweep_orphans(bool force);
void segment_lock(void);
void segment_unlock(void);
void segment_reset_after_fork(void);

#endif /* HAK_SLAB_SEGMENT_H */
