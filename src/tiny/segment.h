/*
 * Tiny segments: the memory tiny slabs are cut from.  A segment belongs to
 * one heap; only its owner takes or returns slabs, so none of this locks
 * except the list of segments abandoned by exited threads.
 */
#ifndef HAK_TINY_SEGMENT_H
#define HAK_TINY_SEGMENT_H

#include "tiny.h"

/* A free slab from one of h's segments (mapping a new segment if none has
 * one), marked in use but not yet given a class; NULL when out of memory. */
tiny_slab *segment_take_slab(hak_heap *h);
/* The slab is empty and leaves its class; true if that left every slab of
 * its segment free. */
bool segment_free_slab(tiny_slab *s);
/* segment_free_slab, and the segment goes back to the OS layer (leaving h's
 * list) once all its slabs are free. */
void segment_return_slab(hak_heap *h, tiny_slab *s);
/* Gives an unlinked segment's memory back to the OS layer. */
void segment_unmap(tiny_segment *g);
uint32_t segment_all_slabs(const tiny_segment *g);
char *segment_slab_base(const tiny_slab *s);

void segment_push_abandoned(tiny_segment *g);
tiny_segment *segment_pop_abandoned(void);
void segment_link(hak_heap *h, tiny_segment *g);
/* Releases the pages of free slabs that have waited past the purge delay. */
void segment_purge(hak_heap *h, bool force);

#endif /* HAK_TINY_SEGMENT_H */
