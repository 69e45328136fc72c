/*
 * The large tier: blocks above 1 MiB (and blocks whose alignment no class
 * can give), each its own mapping.
 *
 * The header sits just before the block, in a registry unit that lies wholly
 * inside the mapping, and the registry points that unit at the header: a
 * pointer into some other mapping that happens to share the unit's address
 * range is told apart by comparing it with header->user.  Freed mappings
 * wait in a small cache (HAKMEM_LARGE_CACHE bytes) so that a program that
 * allocates and frees big buffers in a loop does not fault their pages in
 * each time; the cache is unmapped after the purge delay.
 */
#ifndef HAK_LARGE_H
#define HAK_LARGE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct large_header {
    char *map_base;
    size_t map_size;
    char *user;
    size_t usable;
} large_header;

/* zero: the block must read as zeros (it gets a fresh mapping). */
void *large_alloc(size_t size, size_t align, bool zero);
void large_free(large_header *h);
/* Grows or shrinks in place or by moving the pages (no copy); NULL if the
 * kernel refused (the block is unchanged). */
void *large_realloc(large_header *h, size_t size);
/* The header of p if p is a live large block, else NULL. */
large_header *large_header_of(void *meta, const void *p);
void large_purge(bool force);

void large_lock(void);
void large_unlock(void);
void large_reset_after_fork(void);

#endif /* HAK_LARGE_H */
