/*
 * Tiny segments: the memory tiny slabs are cut from.  A segment belongs to
 * one heap; only its owner takes or returns slabs, so none of this locks
 * except the list of segments abandoned by exited threads.
 */
#ifndef HAK_SLAB_SEGMENT_H
#define HAK_SLAB_SEGMENT_H

#include "slab.h"

/* A free slab of `units` consecutive 64 KiB units from one of h's segments
 * (mapping a new segment if none has room), marked in use but not yet given
 * a class; NULL when out of memory.  The registry points every unit at the
 * first unit's descriptor. */
hak_slab *segment_take_slab(hak_heap *h, unsigned units);
/* The in-use slabs of g, one bit each, at their first unit. */
uint32_t segment_slab_heads(const slab_segment *g);
/* The slab is empty and leaves its class; true if that left every slab of
 * its segment free. */
bool segment_free_slab(hak_slab *s);
/* segment_free_slab, and the segment goes back to the OS layer (leaving h's
 * list) once all its slabs are free. */
void segment_return_slab(hak_heap *h, hak_slab *s);
/* Gives an unlinked segment's memory back to the OS layer. */
void segment_unmap(slab_segment *g);
uint32_t segment_all_slabs(const slab_segment *g);
char *segment_slab_base(const hak_slab *s);

void segment_push_abandoned(slab_segment *g);
slab_segment *segment_pop_abandoned(void);
void segment_link(hak_heap *h, slab_segment *g);
/* Releases the pages of free slabs that have waited past the purge delay. */
void segment_purge(hak_heap *h, bool force);

#endif /* HAK_SLAB_SEGMENT_H */
