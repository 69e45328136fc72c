/*
 * The metadata arena: small fixed-size records (thread heaps, slab
 * descriptors, span records) that must not come from the allocator they
 * describe.  Records are carved from page mappings and recycled by size.
 */
#ifndef HAK_META_H
#define HAK_META_H

#include <stddef.h>

/* Zeroed memory for a record of `size` bytes (64-byte aligned), or NULL. */
void *hak_meta_alloc(size_t size);
/* Returns a record to the arena for reuse by a record of the same size. */
void hak_meta_free(void *p, size_t size);

void hak_meta_lock(void);
void hak_meta_unlock(void);
void hak_meta_reset_after_fork(void);

#endif /* HAK_META_H */
