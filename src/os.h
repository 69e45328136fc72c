/*
 * The OS layer: every mapping hakmem makes goes through here.
 *
 * Tiers take memory in spans: 2 MiB chunks (SuperSlabs, mid and pool slabs)
 * or 64 KiB units (small shared-pool slabs; tiny slabs two by two when
 * SuperSlabs are off), both aligned to their size and carved from large
 * reservations, so a span never costs an mmap plus two munmaps (half the
 * earlier hakmem's run time went there: seed 004).  A freed span waits in a
 * cache; after HAKMEM_PURGE_DELAY_MS its pages go back to the OS with
 * madvise(MADV_DONTNEED), in batches, from slow paths only: a page faulted
 * in again costs 11-14 us on our machines.
 */
#ifndef HAK_OS_H
#define HAK_OS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats/stats.h"

#define HAK_CHUNK_SHIFT 21
#define HAK_CHUNK_SIZE ((size_t)1 << HAK_CHUNK_SHIFT)
#define HAK_PAGE_SIZE ((size_t)4096)

enum hak_span_kind { HAK_SPAN_UNIT, HAK_SPAN_CHUNK, HAK_SPAN_KINDS };

void hak_os_init(void);

/* A span of the given kind, aligned to its size, or NULL (errno = ENOMEM).
 * *zeroed tells whether its contents are known to be zero. */
void *hak_span_alloc(enum hak_span_kind kind, bool *zeroed);
/* Returns a span to the cache; its pages are released after the purge
 * delay, or at the next purge if `idle` (its memory has been unused for the
 * whole delay already). */
void hak_span_free(enum hak_span_kind kind, void *span, bool idle);
size_t hak_span_size(enum hak_span_kind kind);

/* mmap/munmap of anonymous read-write memory, counted in the dump's "os"
 * figures; for hakmem's own metadata as well as the tiers. */
void *hak_os_mmap(size_t size, int extra_flags);
void hak_os_munmap(void *p, size_t size);

/* Plain page-aligned mappings (large blocks), counted as mapped. NULL on failure. */
void *hak_os_map(size_t size);
void hak_os_unmap(void *p, size_t size);
/* Extends a mapping where it is; false if the pages after it are taken. */
bool hak_os_grow_in_place(void *p, size_t old_size, size_t new_size);
/* Moves the pages of [src, src + len) to dst (replacing what was mapped
 * there) without copying them; false on failure, with nothing moved. */
bool hak_os_move_pages(void *src, size_t len, void *dst);
/* madvise(MADV_DONTNEED) of the whole pages inside [p, p + size). */
void hak_os_release_pages(void *p, size_t size);

/* Releases the pages of cached spans that have waited longer than the purge
 * delay (all of them if force).  Callers rate-limit it (hak_heap_tick). */
void hak_os_purge(bool force);

/* Milliseconds of a monotonic clock, from the vDSO: no system call. */
uint64_t hak_now_ms(void);
uint64_t hak_purge_delay_ms(void);

/* Takes one of hakmem's internal locks, counting the acquisition in
 * `acquired` and, with HAKMEM_SHARED_POOL_LOCK_STATS=1, in `contended` when
 * it found the lock held (a try first: one more atomic operation, so only
 * when asked for). */
void hak_lock_counted(pthread_mutex_t *m, hak_stat_id acquired, hak_stat_id contended);

/* fork: the layer's lock, taken before fork and released in both processes. */
void hak_os_lock(void);
void hak_os_unlock(void);
void hak_os_reset_after_fork(void);

#endif /* HAK_OS_H */
