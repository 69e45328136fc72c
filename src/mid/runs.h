/*
 * Page runs: the pool classes above 64 KiB (72 KiB .. 1 MiB).
 *
 * A block of these classes is a run of 8 KiB units in a 2 MiB chunk shared
 * by all of them, not a slot in a slab of its own class.  So realloc grows
 * a block where it is while the units after it are free, and shrinks it by
 * freeing its tail, instead of copying up to 1 MiB (a realloc chain spent
 * 80% of its time in memmove, 0.45x jemalloc, which grows its large extents
 * in place); free neighbours merge; and a class used a few times does not
 * keep a 2 MiB slab of its own resident.
 *
 * Each chunk belongs to a shard (threads take shards in turn, as for the
 * slabs: shared_pool.c) whose lock guards its bitmaps.  The thread caches
 * in front are the shared pool's; a cached block is a run still taken.
 */
#ifndef HAK_RUNS_H
#define HAK_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../os.h"
#include "../size_class.h"
#include "../thread.h"

#define RUN_UNIT_SHIFT 13
#define RUN_UNIT ((size_t)1 << RUN_UNIT_SHIFT)
#define RUN_UNITS (HAK_CHUNK_SIZE >> RUN_UNIT_SHIFT)
#define RUN_WORDS (RUN_UNITS / 64)

typedef struct run_chunk {
    char *start;
    /* Bit i: unit i.  free: in no run.  dirty: free with its pages resident
     * (a free unit that is not dirty reads as zero: never touched, or its
     * pages went back to the OS).  young: dirty since the last purge pass.
     * purging: taken out by the purge pass under way. */
    uint64_t free[RUN_WORDS];
    uint64_t dirty[RUN_WORDS];
    uint64_t young[RUN_WORDS];
    uint64_t purging[RUN_WORDS];
    /* At the first unit of a run, its length in units (at most 128); 0 at
     * every other unit. */
    uint8_t length[RUN_UNITS];
    uint32_t free_units;
    /* No stretch of free (dirty) units is longer: searches for longer runs
     * pass the chunk by without a look (RUN_UNITS: not known). */
    uint16_t free_longest, dirty_longest;
    uint8_t shard;
    bool listed; /* on its shard's list: it has free units */
    struct run_chunk *next, *prev;
    struct run_chunk *purge_next;
} run_chunk;

static inline bool runs_class(unsigned cls) { return cls >= HAK_RUNS_FIRST; }

static inline unsigned runs_unit_of(const run_chunk *k, const void *p)
{
    return (unsigned)(((uintptr_t)p - (uintptr_t)k->start) >> RUN_UNIT_SHIFT);
}

/* The size of the run that starts at p; 0 if none does (p is inside a run,
 * or free).  p's run, when live, is its caller's: its length is stable. */
static inline size_t runs_block_size(const run_chunk *k, const void *p)
{
    if (((uintptr_t)p & (RUN_UNIT - 1)) != 0)
        return 0;
    return (size_t)k->length[runs_unit_of(k, p)] << RUN_UNIT_SHIFT;
}

/* Up to n runs of class cls (shard: the calling thread's): the first
 * returned (*zero: known to read as zero), the others pushed onto c; NULL
 * (errno = ENOMEM) when there is no memory for a new chunk. */
void *runs_take(unsigned shard, unsigned cls, spool_cache *c, uint32_t n, bool *zero);
/* A run of class cls starting at a multiple of align (a power of two up to
 * HAK_POOL_MAX), or NULL. */
void *runs_take_aligned(unsigned shard, unsigned cls, size_t align);
/* A run of class cls for a block that realloc grows: placed with free units
 * after it to grow into next time; NULL if no chunk of the shard has that
 * much room (the caller takes a run as malloc would). */
void *runs_take_to_grow(unsigned shard, unsigned cls);
/* Frees the n runs of list b (linked through their first word); idle: they
 * sat unused for the purge delay already, so their pages go at the next
 * pass. */
void runs_give(void *b, uint32_t n, bool idle);
/* Makes the run at p (live, of chunk k) the size of size's class, if that
 * is a run class and, to grow, the units after it are free; false if not. */
bool runs_resize(run_chunk *k, void *p, size_t size);
/* One purge pass (the caller runs one at a time, once per purge delay):
 * the free units that were already free at the last pass (every free unit
 * if force) give their pages back (counted in tiers.pool.run_purged_bytes). */
void runs_purge(bool force);

/* HAKMEM_CHECK: what a free of p (not the start of a live run) found. */
enum runs_misuse { RUNS_MISUSE_NONE, RUNS_MISUSE_FREED, RUNS_MISUSE_INTERIOR };
enum runs_misuse runs_check_free(run_chunk *k, const void *p);

void runs_lock_all(void);
void runs_unlock_all(void);
void runs_reset_after_fork(void);

#endif /* HAK_RUNS_H */
