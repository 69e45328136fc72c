/*
 * Internal: what alloc.c needs from interpose.c, the one place that knows
 * about the next allocator in the link chain.
 */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include <stddef.h>

#define HAK_API __attribute__((visibility("default")))
/* The entry points and every function between them and the profiler's
 * sampler: the sampler drops the frames in this section from a stack
 * (prof/prof.c), wherever the library was linked. */
#define HAK_ENTRY __attribute__((section("hakmem_entry")))

/* A pointer hakmem did not hand out: given to the next allocator. */
void hak_foreign_free(void *p);
size_t hak_foreign_usable_size(void *p);

/* The next allocator's malloc family, for HAKMEM_WRAP_L2=0.  NULL with
 * errno EAGAIN when it cannot be reached (while dlsym itself runs, or no
 * next allocator exists): the caller serves the request itself. */
void *hak_next_malloc(size_t size);
void *hak_next_calloc(size_t size);
void *hak_next_realloc(void *p, size_t size);
void *hak_next_memalign(size_t align, size_t size);

/* Reads the routing switches (HAKMEM_MF2_ENABLE, HAKMEM_WRAP_L2) and whether
 * allocations need tracking (stats, HAKMEM_CHECK) at init, after both. */
void hak_alloc_configure(void);

#endif /* HAK_ALLOC_H */
