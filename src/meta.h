/*
 * The metadata arena: small fixed-size records (thread heaps, slab
 * descriptors, span records) that must not come from the allocator they
 * describe.  Records are carved from page mappings and recycled by size.
 */
#ifndef HAK_META_H
#define HAK_META_H

#include <stddef.h>

/* The largest record: a thread heap, with its counters, fits. */
#define HAK_META_MAX ((size_t)32 << 10)

/* Zeroed memory for a record of `size` bytes (64-byte aligned), or NULL
 * (out of memory, or over HAK_META_MAX). */
void *hak_meta_alloc(size_t size);
/* The same, with only the first `zeroed` bytes cleared: the rest is left as
 * a recycled record had it, for a part the caller never reads unset. */
void *hak_meta_alloc_part(size_t size, size_t zeroed);
/* Returns a record to the arena for reuse by a record of the same size. */
void hak_meta_free(void *p, size_t size);

void hak_meta_lock(void);
void hak_meta_unlock(void);
void hak_meta_reset_after_fork(void);

#endif /* HAK_META_H */
