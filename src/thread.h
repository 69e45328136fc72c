/*
 * Per-thread heaps.
 *
 * Every thread that allocates gets a hak_heap: its slabs by class (tiny
 * blocks, and MF2's mid pages), its small caches in front of the shared
 * pool, and the SuperSlabs it owns.
 * The fast paths reach it through one initial-exec TLS pointer (a shared
 * library's default TLS model would call __tls_get_addr on every access).
 * Until a thread's first slow path the pointer names hak_empty_heap, whose
 * lists are all empty, so the fast paths need no "initialised?" test.
 */
#ifndef HAK_THREAD_H
#define HAK_THREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "size_class.h"
#include "stats/stats.h"

struct hak_slab;
struct slab_segment;

/* A thread's cache of free blocks of one mid or pool class: a list threaded
 * through the blocks, at most `limit` long. */
typedef struct spool_cache {
    void *head;
    uint32_t count;
    uint32_t limit;
} spool_cache;

typedef struct heap_slab_list {
    struct hak_slab *head, *tail;
} heap_slab_list;

typedef struct hak_heap {
    /* Hot: the slab each class allocates from (never NULL). */
    struct hak_slab *slab_cur[HAK_SLAB_CLASSES];
    spool_cache spool[HAK_CLASS_COUNT - HAK_MID_FIRST];

    /* Owner-only lists: slabs with free blocks, and slabs found full. */
    heap_slab_list slab_avail[HAK_SLAB_CLASSES];
    heap_slab_list slab_full[HAK_SLAB_CLASSES];
    /* An emptied slab kept for the class's next new slab (slab.c). */
    struct hak_slab *slab_spare[HAK_SLAB_CLASSES];
    /* Per class, blocks held outside their slabs and handed out first,
     * threaded on a stand-in slab: the thread's own frees into MF2 pages
     * (and tiny slabs up to 256 B) it is not allocating from, and blocks of
     * idle threads' slabs (slab.c, the stash). */
    struct hak_slab *slab_stash;
    /* Full slabs that received remote frees, pushed by the freeing threads. */
    struct hak_slab *slab_pending;
    uint64_t last_active_us; /* the owner's last tick (idle adoption) */
    struct slab_segment *segments; /* SuperSlabs (or single-slab segments) owned */
    /* Taken by the owner to link or unlink a segment and to purge, and by
     * another thread purging this heap while it idles (segment.c); never on
     * a path taken per refill. */
    pthread_mutex_t segments_lock;
    uint32_t ticks;                /* allocations until the next hak_heap_tick */
    /* Bytes to allocate before an allocation needs hak_track_alloc_then:
     * -1 when every allocation is tracked (counting, HAKMEM_CHECK), else the
     * distance to the next profiler sample, or to the next heartbeat
     * (HAK_HEAP_TICK_BYTES).  The one test the malloc fast path makes. */
    int64_t track_left;
    int64_t prof_left; /* to the next sample, when every allocation is tracked */
    int64_t tick_bytes_left; /* to the next heartbeat, when every allocation is tracked */
    uint64_t prof_rng;
    bool prof_busy; /* inside the sampler (prof/prof.h) */
    uint64_t last_purge_ms;
    uint64_t last_cache_flush_ms;

    struct hak_heap *next, *prev; /* all live heaps, for fork */
    hak_stats_shard stats;        /* this thread's counters (written by it alone) */
} hak_heap;

extern __thread hak_heap *hak_tls_heap __attribute__((tls_model("initial-exec")));
extern hak_heap hak_empty_heap;

/* The calling thread's real heap, created on first use (initialising hakmem
 * if needed); NULL if no memory is left for one. */
hak_heap *hak_heap_acquire(void);

/* The heartbeat: once a quarter of the purge delay has passed, memory that
 * has been free for the whole delay goes back to the OS.  It beats on slow
 * paths (a slab exhausted or emptied), large blocks, every
 * HAK_HEAP_TICK_ALLOCS allocations from the mid and pool thread caches, and
 * every HAK_HEAP_TICK_BYTES allocated: the malloc fast path counts bytes
 * down in track_left anyway (alloc.c), so the beat costs it nothing, and a
 * thread that keeps allocating from slabs that never run out still beats. */
#define HAK_HEAP_TICK_ALLOCS 4096u
#define HAK_HEAP_TICK_BYTES ((int64_t)1 << 20)
#define HAK_HEAP_TICK_SLOW 64u /* a slow path counts as this many allocations */
void hak_heap_tick(hak_heap *h);

/* A slow path's share of the count: the clock is read once per tick, not
 * on every refill (in Python's pattern a fifth of tiny allocations refill). */
static inline void hak_heap_count_slow(hak_heap *h)
{
    if (h->ticks <= HAK_HEAP_TICK_SLOW)
        hak_heap_tick(h);
    else
        h->ticks -= HAK_HEAP_TICK_SLOW;
}
/* The purge itself; force: now, whatever the delay. */
void hak_heap_purge(hak_heap *h, bool force);

/* Thread exit: the heap's caches and slabs go back to shared structures. */
void hak_heap_release(hak_heap *h);

void hak_thread_init(void);
void hak_heaps_lock(void);
void hak_heaps_unlock(void);
/* Calls fn for every other live heap whose owner has not taken a slow path
 * for threshold_us, with the list locked (the heap cannot be released);
 * does nothing if the list is locked already. */
void hak_heaps_visit_idle(hak_heap *self, uint64_t threshold_us, void (*fn)(hak_heap *, void *),
                          void *ctx);
uint64_t hak_now_us(void);

/* In a fork child: the list holds the caller's heap alone; the heaps of the
 * threads the child does not have are left untouched. */
void hak_heaps_reset_after_fork(void);

#endif /* HAK_THREAD_H */
