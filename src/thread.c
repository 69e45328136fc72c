#include "thread.h"

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "init.h"
#include "large.h"
#include "meta.h"
#include "mid/shared_pool.h"
#include "prof/prof.h"
#include "slab/slab.h"

__thread hak_heap *hak_tls_heap __attribute__((tls_model("initial-exec"))) = &hak_empty_heap;

hak_heap hak_empty_heap = {
    .slab_cur = {[0 ... HAK_SLAB_CLASSES - 1] = &slab_empty},
};

_Static_assert(sizeof(hak_heap) <= HAK_META_MAX, "meta.h: HAK_META_MAX must hold a thread heap");

static pthread_mutex_t heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static hak_heap *heaps;
/* Its destructor hands a thread's heap back at exit.  Created during
 * initialisation, so it is one of the first keys and pthread_setspecific
 * never needs to allocate a second-level key block for it. */
static pthread_key_t heap_key;

static void heaps_lock_take(void)
{
    hak_lock_counted(&heaps_lock, HAK_STAT_THREADS_LOCK_ACQUIRE, HAK_STAT_THREADS_LOCK_CONTENDED);
}

static void heap_list_add(hak_heap *h)
{
    heaps_lock_take();
    h->prev = NULL;
    h->next = heaps;
    if (heaps != NULL)
        heaps->prev = h;
    heaps = h;
    pthread_mutex_unlock(&heaps_lock);
}

static void heap_list_remove(hak_heap *h)
{
    heaps_lock_take();
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        heaps = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&heaps_lock);
}

static void heap_thread_exit(void *arg)
{
    hak_heap *h = arg;
    /* Frees that run after this (later destructors, libc's own clean-up)
     * see the empty heap and go down the remote or shared paths. */
    hak_tls_heap = &hak_empty_heap;
    hak_heap_release(h);
}

void hak_thread_init(void) { pthread_key_create(&heap_key, heap_thread_exit); }

hak_heap *hak_heap_acquire(void)
{
    if (hak_tls_heap != &hak_empty_heap)
        return hak_tls_heap;
    if (!hak_init())
        return NULL;
    /* With counting off the counters (most of the record) are never read:
     * not cleared, a thread start clears 5 KiB rather than 17. */
    size_t used = hak_stats_enabled ? sizeof(hak_heap) : offsetof(hak_heap, stats);
    hak_heap *h = hak_meta_alloc_part(sizeof(hak_heap), used);
    if (h == NULL)
        return NULL;
    if (!slab_heap_init(h)) {
        hak_meta_free(h, sizeof(hak_heap));
        return NULL;
    }
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++)
        h->slab_cur[c] = &slab_empty;
    /* Read by other threads' frees (borrowing) without a lock. */
    __atomic_store_n(&h->last_active_us, hak_now_us(), __ATOMIC_RELAXED);
    pthread_mutex_init(&h->segments_lock, NULL);
    spool_cache_init(h);
    h->ticks = HAK_HEAP_TICK_ALLOCS;
    h->tick_bytes_left = HAK_HEAP_TICK_BYTES;
    h->last_purge_ms = h->last_cache_flush_ms = hak_now_ms();
    hak_prof_heap_init(h);
    heap_list_add(h);
    hak_stats_register(h);
    hak_tls_heap = h;
    pthread_setspecific(heap_key, h);
    hak_stat_count(HAK_STAT_THREADS_STARTED, 1);
    return h;
}

static void purge_idle_heap(hak_heap *h, void *force) { slab_heap_purge_idle(h, *(bool *)force); }

/* A thread that stopped allocating runs no tick of its own, so the slabs it
 * emptied (and kept as spares) would stay resident until it woke: the pages
 * of the heaps idle for the whole delay go back (all heaps' if forced). */
static void purge_idle_heaps(hak_heap *self, bool force)
{
    hak_heaps_visit_idle(self, force ? 0 : hak_purge_delay_ms() * 1000, purge_idle_heap, &force);
}

/* Whether the calling thread takes the turn at the purges no owner does
 * (orphans, idle heaps): one thread at a time, once a quarter of the purge
 * delay at most unless forced. */
static bool ownerless_purge_turn(uint64_t now, bool force)
{
    static uint64_t last_ms;
    uint64_t last = __atomic_load_n(&last_ms, __ATOMIC_RELAXED);
    return (force || now - last > hak_purge_delay_ms() / 4) &&
           __atomic_compare_exchange_n(&last_ms, &last, now, false, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}

void hak_heap_purge(hak_heap *h, bool force)
{
    uint64_t now = hak_now_ms();
    if (force || now - h->last_cache_flush_ms >= hak_purge_delay_ms()) {
        /* Blocks idle in the thread caches would keep their slabs alive. */
        spool_cache_flush(h, true);
        spool_cache_init(h);
        slab_heap_leave_stash(h, force);
        h->last_cache_flush_ms = now;
    }
    bool turn = ownerless_purge_turn(now, force);
    if (turn)
        slab_sweep_orphans(h, force);
    if (turn || force)
        spool_purge(force);
    slab_heap_purge(h, force);
    if (turn || force) /* idle heaps: several purgers at once are safe */
        purge_idle_heaps(h, force);
    large_purge(force);
    hak_os_purge(force);
}

void hak_heap_tick(hak_heap *h)
{
    h->ticks = HAK_HEAP_TICK_ALLOCS;
    h->tick_bytes_left = HAK_HEAP_TICK_BYTES;
    /* The owner is active (idle adoption reads this): stamped here, every
     * few thousand allocations, rather than with a clock read per refill.
     * One read serves both: hak_now_ms reads the same coarse clock. */
    uint64_t now_us = hak_now_us();
    __atomic_store_n(&h->last_active_us, now_us, __ATOMIC_RELAXED);
    uint64_t now = now_us / 1000;
    if (now - h->last_purge_ms <= hak_purge_delay_ms() / 4)
        return;
    h->last_purge_ms = now;
    hak_heap_purge(h, false);
}

static void heap_give_back(hak_heap *h)
{
    spool_cache_flush(h, false);
    slab_heap_abandon(h);
    hak_stats_retire(h);
}

void hak_heap_release(hak_heap *h)
{
    hak_stat_count(HAK_STAT_THREADS_EXITED, 1); /* the thread's heap is gone: into the totals */
    heap_list_remove(h); /* first: no thread may adopt from it while it goes */
    heap_give_back(h);
    hak_meta_free(h, sizeof(hak_heap));
}

/* The coarse clock: a few ns from the vDSO, millisecond-grained, which
 * suits idle thresholds of milliseconds. */
uint64_t hak_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void hak_heaps_visit_idle(hak_heap *self, uint64_t threshold_us, void (*fn)(hak_heap *, void *),
                          void *ctx)
{
    uint64_t now = hak_now_us();
    /* Adoption is opportunistic: with the list busy (a thread starting or
     * exiting, another adopter), skip it rather than queue on a global lock. */
    hak_stat_count(HAK_STAT_THREADS_LOCK_ACQUIRE, 1);
    if (pthread_mutex_trylock(&heaps_lock) != 0) {
        hak_stat_count(HAK_STAT_THREADS_LOCK_CONTENDED, 1);
        return;
    }
    for (hak_heap *h = heaps; h != NULL; h = h->next) {
        uint64_t active = __atomic_load_n(&h->last_active_us, __ATOMIC_RELAXED);
        if (h != self && now - active >= threshold_us)
            fn(h, ctx);
    }
    pthread_mutex_unlock(&heaps_lock);
}

void hak_heaps_lock(void) { pthread_mutex_lock(&heaps_lock); }
void hak_heaps_unlock(void) { pthread_mutex_unlock(&heaps_lock); }

/* In a fork child only the forking thread exists.  The heaps of the other
 * threads are left as they are, never walked nor handed back: fork copied
 * them while their threads ran lock-free on them, so a list may be caught
 * mid-update (a count one off, a link half made).  Their memory stays with
 * the child, bounded by what those threads cached at the fork, as glibc
 * leaves the tcaches of threads a child does not have. */
void hak_heaps_reset_after_fork(void)
{
    pthread_mutex_init(&heaps_lock, NULL);
    heaps = NULL;
    if (hak_tls_heap != &hak_empty_heap) {
        pthread_mutex_init(&hak_tls_heap->segments_lock, NULL);
        heap_list_add(hak_tls_heap);
    }
}
