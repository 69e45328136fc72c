/*
 * The shared pool: mid (1 KiB .. 32 KiB) and pool (32 KiB .. 1 MiB) blocks.
 *
 * Each class up to 64 KiB has slabs (64 KiB for classes up to 8 KiB, 2 MiB
 * above); the classes above 64 KiB are page runs (runs.h), which can grow
 * and shrink in place.  Both are shared by all threads in shards, each
 * under its own mutex: a thread takes
 * blocks from its shard's slabs, so threads do not queue on one lock per
 * class.  Each thread keeps a short list of free blocks per class in front
 * (spool_cache in its heap), so most mallocs and frees touch neither a lock
 * nor a slab.  Each class's cache is bounded in bytes and in blocks
 * (cache_limit: up to about 1 MiB a class).  Only its owner touches a
 * cache, so an idle thread keeps what its caches hold until it allocates
 * again or exits.
 *
 * A slab goes back whole when its last block does.  Until then, the blocks
 * that sit free in it for a whole purge delay have their pages released
 * (spool_purge): one block kept alive, by a program or in an idle thread's
 * cache, pins its own pages only, not the 2 MiB around it.
 */
#ifndef HAK_SHARED_POOL_H
#define HAK_SHARED_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../stats/count.h"
#include "../thread.h"
#include "runs.h"

/* A slab holds at most this many blocks: 64 KiB of 1152 B, 2 MiB of 9 KiB. */
#define SPOOL_SLAB_MAX_BLOCKS 256u
#define SPOOL_BITMAP_WORDS (SPOOL_SLAB_MAX_BLOCKS / 64)

typedef struct spool_slab {
    /* Free blocks whose pages are resident, the last freed first; the first
     * `young` of them were given back since the last purge pass. */
    void *free;
    char *start;
    uint32_t used; /* blocks out of the slab: live, cached, or being purged */
    uint32_t capacity;
    uint32_t carved;
    uint32_t block_size;
    uint32_t young;
    uint32_t clean_count;
    uint16_t class_idx;
    uint8_t shard; /* the shard of its class whose list and lock it is under */
    bool listed;   /* on its class's list of slabs with room */
    bool zeroed;   /* its never-used blocks read as zero (a fresh or purged span) */
    uint8_t span_kind;
    struct spool_slab *next, *prev;
    /* Free blocks whose pages went back to the OS (bit i: block i), handed
     * out after the resident ones; and, during a purge pass, the blocks the
     * pass took out to release (purge_next chains the slabs it took from). */
    uint64_t clean[SPOOL_BITMAP_WORDS];
    uint64_t purging[SPOOL_BITMAP_WORDS];
    struct spool_slab *purge_next;
} spool_slab;

void *spool_alloc_slow(hak_heap *h, unsigned cls);
/* A zero-filled block: memory known to be zero is not cleared again (a
 * first touch costs 11-14 us a page; clearing it would pay that for
 * nothing). */
void *spool_calloc(hak_heap *h, unsigned cls, size_t size);
/* A block the thread's cache of class cls has no room for; meta is its
 * slab or run chunk. */
void spool_free_slow(hak_heap *h, unsigned cls, void *meta, void *p);
/* A block of class cls for realloc to move a growing block into: for the
 * page-run classes, one with room after it (runs_take_to_grow); NULL for
 * the others, or when there is none. */
void *spool_alloc_to_grow(hak_heap *h, unsigned cls);
/* A block of class cls aligned to align (a power of two above a page). */
void *spool_alloc_aligned(hak_heap *h, unsigned cls, size_t align);
/* Takes a shared-pool lock (a shard of class cls, or of the run chunks),
 * counting the acquisition for cls on its path (take: taking blocks, else
 * returning them); with HAKMEM_SHARED_POOL_LOCK_STATS=1 also whether the
 * lock was held and how long the wait was. */
void spool_lock(pthread_mutex_t *lock, unsigned cls, bool take);
void spool_cache_init(hak_heap *h);
/* Every block the thread caches goes back to its slab; idle: the cache went
 * unused for the purge delay, so emptied slabs may be purged at once. */
void spool_cache_flush(hak_heap *h, bool idle);
/* Releases the pages of the blocks that have sat free in their slabs for a
 * whole purge delay (force: of every free block, now).  A slab stays
 * mapped while one block of it is live or cached; without this, the free
 * rest of a 2 MiB slab would stay resident as long. */
void spool_purge(bool force);

void spool_lock_all(void);
void spool_unlock_all(void);
void spool_reset_after_fork(void);

/* A block from the thread's cache, or NULL when the cache is empty or a
 * purge tick is due: the caller takes the slow path (spool_alloc). */
static inline void *spool_alloc_fast(hak_heap *h, unsigned cls)
{
    spool_cache *c = &h->spool[cls - HAK_MID_FIRST];
    void *b = c->head;
    if (__builtin_expect(b == NULL || --h->ticks == 0, 0))
        return NULL;
    c->head = *(void **)b;
    c->count--;
    return b;
}

static inline void *spool_alloc(hak_heap *h, unsigned cls)
{
    /* The empty heap's count is 0 as well, but a thread that has none of
     * its own goes to the slow path for one: a tick on the empty heap would
     * purge before hakmem is initialised, from many threads at once, all
     * writing the one shared empty heap (found by ThreadSanitizer). */
    if (__builtin_expect(h->ticks == 0, 0) && h != &hak_empty_heap)
        hak_heap_tick(h);
    void *b = spool_alloc_fast(h, cls);
    return b != NULL ? b : spool_alloc_slow(h, cls);
}

static inline void spool_cache_put(unsigned cls, void *meta, void *p)
{
    hak_heap *h = hak_tls_heap;
    spool_cache *c = &h->spool[cls - HAK_MID_FIRST];
    if (__builtin_expect(c->count < c->limit, 1)) {
        *(void **)p = c->head;
        c->head = p;
        c->count++;
        hak_count_owner_free(h, cls);
        return;
    }
    spool_free_slow(h, cls, meta, p);
}

static inline void spool_free(spool_slab *s, void *p) { spool_cache_put(s->class_idx, s, p); }

/* A pointer that starts no run (inside one, or freed) is not a block: the
 * free is dropped rather than corrupt the chunk (HAKMEM_CHECK reports it). */
static inline void spool_free_run(run_chunk *k, void *p)
{
    size_t size = runs_block_size(k, p);
    if (__builtin_expect(size != 0, 1))
        spool_cache_put(hak_size_to_class(size), k, p);
}

#endif /* HAK_SHARED_POOL_H */
