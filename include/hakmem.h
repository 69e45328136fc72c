/*
 * hakmem: a general-purpose malloc replacement for Linux.
 *
 * Linking libhakmem (or LD_PRELOAD=libhakmem.so) replaces the whole malloc
 * family.  The hak_* functions below are the same allocator under names that
 * never clash with the C library, for programs that want to call it
 * explicitly while keeping another malloc.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0
#define HAKMEM_VERSION "0.1.0"

void *hak_malloc(size_t size);
void hak_free(void *ptr);
void *hak_calloc(size_t count, size_t size);
void *hak_realloc(void *ptr, size_t size);
void *hak_reallocarray(void *ptr, size_t count, size_t size);
int hak_posix_memalign(void **out, size_t alignment, size_t size);
void *hak_aligned_alloc(size_t alignment, size_t size);
void *hak_memalign(size_t alignment, size_t size);
void *hak_valloc(size_t size);
void *hak_pvalloc(size_t size);
size_t hak_malloc_usable_size(void *ptr);

/* 1 if ptr lies in memory hakmem manages for its blocks, 0 for any other
 * address.  Safe on any pointer: it consults hakmem's address registry
 * only, never the memory ptr points to.  A large block (> 1 MiB) counts only
 * by its exact start and only while live; a freed smaller block may still
 * count, since its slab stays hakmem's until the slab is given back. */
int hak_owns(const void *ptr);

/* Returns empty memory held in caches to the OS now, without waiting for
 * HAKMEM_PURGE_DELAY_MS: the calling thread's, the shared ones, and the
 * emptied slabs of the other threads (skipping one that is changing its own
 * at that moment; blocks in other threads' caches only their owner touches). */
void hak_purge(void);

/* Statistics (docs/STATS.md).  Counting is on when the process starts with
 * HAKMEM_STATS=1 (or a HAKMEM_STATS_SIGNAL); otherwise the counters read 0.
 *
 * hak_stats_dump writes the whole stats document (schema "hakmem.stats/1",
 * JSON) to fd, allocating nothing: 0, or -1 with errno set (EBUSY if another
 * dump is being written at this moment).
 *
 * hak_stats_get reads one figure of that document by its path: object keys
 * joined by dots, with a class's number or a histogram bucket's "max" for
 * the elements of "classes" and "histogram.buckets": "tiers.tiny.alloc",
 * "os.mmap_calls", "classes.3.free_remote", "histogram.buckets.64.count".
 * 0 and *value set, or -1 if the document has no such number. */
int hak_stats_dump(int fd);
int hak_stats_get(const char *path, unsigned long long *value);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
