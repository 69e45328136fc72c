#include "slab.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "../size_class.h"
#include "../env/env.h"
#include "../meta.h"
#include "../registry.h"
#include "../stats/stats.h"
#include "segment.h"

/* The slab every class of a new heap points at: nothing to allocate, so the
 * first allocation of each class takes the slow path. */
hak_slab slab_empty;

// ------------------------------------------------------------ lists

static heap_slab_list *list_of(hak_heap *h, const hak_slab *s)
{
    return s->where == SLAB_FULL ? &h->slab_full[s->class_idx] : &h->slab_avail[s->class_idx];
}

/* At the head: the slab is used next. */
static void list_push(hak_heap *h, hak_slab *s, enum slab_where where)
{
    s->where = (uint8_t)where;
    heap_slab_list *l = list_of(h, s);
    s->prev = NULL;
    s->next = l->head;
    if (l->head != NULL)
        l->head->prev = s;
    else
        l->tail = s;
    l->head = s;
}

/* At the tail: a slab revived by a free or two is used after the others,
 * so that it gathers more frees first (at its head it would be taken with
 * one block and park full again: a refill per allocation). */
static void list_append(hak_heap *h, hak_slab *s, enum slab_where where)
{
    s->where = (uint8_t)where;
    heap_slab_list *l = list_of(h, s);
    s->next = NULL;
    s->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = s;
    else
        l->head = s;
    l->tail = s;
}

static void list_remove(hak_heap *h, hak_slab *s)
{
    heap_slab_list *l = list_of(h, s);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        l->head = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        l->tail = s->prev;
    s->where = SLAB_CURRENT;
}

// ------------------------------------------------------------ counting

/* The tiny or the MF2 counter of an engine event, by the class's tier. */
static void engine_count(unsigned cls, hak_stat_id tiny_id, uint64_t n)
{
    if (!hak_stats_enabled)
        return;
    hak_stat_id id = tiny_id;
    if (hak_class_tier[cls] != HAK_TIER_TINY)
        id = (hak_stat_id)(tiny_id + HAK_STAT_MF2_DRAIN_ATTEMPTS - HAK_STAT_TINY_DRAIN_ATTEMPTS);
    hak_stat_count(id, n);
}

// ------------------------------------------------------------ refill

/* Puts the chain first..last of n blocks in front of s's free list, off its
 * `used` (a stand-in's counts down as it gathers blocks). */
static void slab_chain(hak_slab *s, slab_block *first, slab_block *last, uint32_t n)
{
    last->next = s->free;
    s->free = first;
    s->used -= n;
}

/* The same for a whole list (from a remote stack), walked once to find its
 * end; returns how many it held. */
static uint32_t slab_chain_list(hak_slab *s, slab_block *list)
{
    uint32_t n = 1;
    slab_block *tail = list;
    for (; tail->next != NULL; tail = tail->next)
        n++;
    slab_chain(s, list, tail, n);
    return n;
}

/* Moves the blocks other threads freed into `free`.  The remote list is
 * walked once to count them (they are about to be handed out anyway).
 * Clears SLAB_PARKED too: only a slab being abandoned (slab_collect) is
 * drained while parked, and an abandoned slab must not keep the bit. */
static bool slab_drain_remote(hak_slab *s)
{
    if (__atomic_load_n(&s->remote, __ATOMIC_RELAXED) == 0)
        return false;
    /* Acquire: the links the freeing threads wrote before publishing. */
    uintptr_t r = __atomic_exchange_n(&s->remote, 0, __ATOMIC_ACQUIRE);
    slab_block *list = (slab_block *)(r & ~SLAB_PARKED);
    if (list == NULL)
        return false;
    uint32_t n = slab_chain_list(s, list);
    engine_count(s->class_idx, HAK_STAT_TINY_DRAINS, 1);
    engine_count(s->class_idx, HAK_STAT_TINY_DRAINED_BLOCKS, n);
    return true;
}

/* Threads the next stretch of never-used memory into `free`: at least a page
 * or 16 blocks at a time, so pages are first touched only when needed. */
static void slab_carve(hak_slab *s)
{
    uint32_t n = (uint32_t)(HAK_PAGE_SIZE / s->block_size);
    if (n < 16)
        n = 16;
    if (n > s->capacity - s->carved)
        n = s->capacity - s->carved;
    char *first = s->start + (size_t)s->carved * s->block_size;
    char *p = first;
    for (uint32_t i = 1; i < n; i++, p += s->block_size)
        ((slab_block *)p)->next = (slab_block *)(p + s->block_size);
    ((slab_block *)p)->next = s->free;
    s->free = (slab_block *)first;
    s->carved += n;
}

/* Called with s->free empty; true if the slab has blocks again. */
static bool slab_refill(hak_slab *s)
{
    engine_count(s->class_idx, HAK_STAT_TINY_DRAIN_ATTEMPTS, 1);
    if (slab_drain_remote(s))
        return true;
    if (s->carved < s->capacity) {
        slab_carve(s);
        return true;
    }
    return false;
}

/* Whether the owner's frees into its slabs other than the current one go to
 * the class's stash (below), so that the block freed last, still warm, goes
 * out next: every class's, but nothing is held back when memory must go
 * back at once (HAKMEM_PURGE_DELAY_MS=0).  Random frees of one small class
 * over 5 slabs' worth (16 B, 10,000 blocks): 35 -> 40 M ops/s (tcmalloc
 * 48.7); tiny_random over 16-1024 B: the popped block's link missed the
 * first-level cache on 73% of allocations, 36% with every class stashing
 * (bench/misses), as on tcmalloc's per-class lists (32%). */
static bool stashes_frees(void) { return hak_purge_delay_ms() != 0; }

static void slab_init(hak_heap *h, hak_slab *s, unsigned cls)
{
    char *base = segment_slab_base(s);
    slab_segment *g = s->segment;
    s->start = base + (s == &g->slabs[0] ? g->header_bytes : 0);
    s->block_size = hak_class_size[cls];
    s->capacity = (uint32_t)((size_t)(base + (size_t)s->units * SLAB_SIZE - s->start) / s->block_size);
    s->carved = 0;
    s->used = 0;
    s->wake_used = 0;
    s->free = NULL;
    s->class_idx = (uint8_t)cls;
    s->where = SLAB_CURRENT;
    s->stashes = stashes_frees();
    hak_stat_count_class(cls, HAK_CSTAT_SLABS_NEW, 1);
    __atomic_store_n(&s->remote, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->notify, SLAB_NOTIFY_IDLE, __ATOMIC_RELAXED);
    __atomic_store_n(&s->owner, h, __ATOMIC_RELEASE);
}

// ------------------------------------------------------------ full slabs

/* Parks an exhausted slab.  The bit and the remote blocks share one word, so
 * one of two compare-and-swaps comes first: ours, and the freeing thread's
 * sees the bit and queues the slab; or the freeing thread's, and ours fails
 * on its block, leaving the slab available.  Release: a thread that reads
 * the bit reads `owner` after it (queue_on_owner). */
static void slab_park_full(hak_heap *h, hak_slab *s)
{
    uintptr_t none = 0;
    if (__atomic_compare_exchange_n(&s->remote, &none, SLAB_PARKED, false, __ATOMIC_RELEASE,
                                    __ATOMIC_RELAXED)) {
        s->wake_used = s->capacity - slab_unpark_worth(s);
        list_push(h, s, SLAB_FULL);
    } else {
        list_append(h, s, SLAB_AVAIL);
    }
}

static void slab_unpark(hak_heap *h, hak_slab *s)
{
    if (s->where != SLAB_FULL)
        return;
    s->wake_used = 0;
    /* Still set if no remote free claimed it: later frees need not tell us. */
    __atomic_fetch_and(&s->remote, ~SLAB_PARKED, __ATOMIC_RELAXED);
    list_remove(h, s);
    list_append(h, s, SLAB_AVAIL);
}

/* Takes the slabs that remote frees queued, making them available again. */
static void take_pending(hak_heap *h)
{
    if (__atomic_load_n(&h->slab_pending, __ATOMIC_RELAXED) == NULL)
        return;
    hak_slab *s = __atomic_exchange_n(&h->slab_pending, NULL, __ATOMIC_ACQUIRE);
    while (s != NULL) {
        /* A claimant between pushing s and storing QUEUED still writes s,
         * and an IDLE stored before its QUEUED would be lost. */
        while (__atomic_load_n(&s->notify, __ATOMIC_ACQUIRE) == SLAB_NOTIFY_PUSHING)
            sched_yield();
        hak_slab *next = s->pending_next; /* read before the slab can be queued again */
        slab_unpark(h, s);
        engine_count(s->class_idx, HAK_STAT_TINY_PENDING_TAKEN, 1);
        __atomic_store_n(&s->notify, SLAB_NOTIFY_IDLE, __ATOMIC_RELEASE);
        s = next;
    }
}

/* Called before the owner gives an empty slab back to its segment.  Its last
 * remote free may have claimed it and still be queueing it (PUSHING), or it
 * may sit on our pending stack (QUEUED; for a moment on an idle thief's):
 * either would then write freed or reused memory. */
static void slab_quiesce(hak_heap *h, hak_slab *s)
{
    while (__atomic_load_n(&s->notify, __ATOMIC_ACQUIRE) != SLAB_NOTIFY_IDLE) {
        take_pending(h);
        if (__atomic_load_n(&s->notify, __ATOMIC_ACQUIRE) != SLAB_NOTIFY_IDLE)
            sched_yield();
    }
}

/* Holding PUSHING, after publishing: s cannot be released (slab_quiesce) nor
 * its owner's heap abandoned (slab_silence) until we store QUEUED, the last
 * thing this thread does to s. */
static void queue_on_owner(hak_slab *s, unsigned cls)
{
    /* Stable: only abandoning changes it, and that waits for PUSHING. */
    hak_heap *h = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
    hak_slab *head = __atomic_load_n(&h->slab_pending, __ATOMIC_RELAXED);
    do {
        s->pending_next = head;
    } while (!__atomic_compare_exchange_n(&h->slab_pending, &head, s, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    engine_count(cls, HAK_STAT_TINY_PENDING_ENQUEUED, 1);
    __atomic_store_n(&s->notify, SLAB_NOTIFY_QUEUED, __ATOMIC_RELEASE);
}

/* Publishes the chain first..last on s->remote, from any thread but the
 * owner.  Once published, the blocks may be drained and the slab released
 * at once (by its owner, or by whoever adopts or abandons its segment), so
 * s is not touched after the publishing compare-and-swap except while
 * holding PUSHING, which every release waits out.  So the notification of a
 * parked slab is claimed before publishing, while our unpublished blocks
 * still keep the slab in use.  The claimant publishes with the bit cleared;
 * a thread that finds the notification taken keeps the bit, for the
 * claimant (PUSHING) or the owner taking the queued slab (QUEUED) clears it. */
static void remote_push(hak_slab *s, slab_block *first, slab_block *last)
{
    unsigned cls = s->class_idx;
    bool claimed = false;
    /* Acquire, here and on failure: the bit read comes with the parking
     * owner's earlier stores (`owner`, the IDLE of take_pending), so a
     * failed claim means the slab is queued after that park. */
    uintptr_t head = __atomic_load_n(&s->remote, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((head & SLAB_PARKED) != 0 && !claimed) {
            uint8_t idle = SLAB_NOTIFY_IDLE;
            claimed = __atomic_compare_exchange_n(&s->notify, &idle, SLAB_NOTIFY_PUSHING, false,
                                                  __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
        } else if ((head & SLAB_PARKED) == 0 && claimed) {
            /* The owner unparked it meanwhile: nothing to tell.  Safe to
             * write, as our blocks are not published yet. */
            __atomic_store_n(&s->notify, SLAB_NOTIFY_IDLE, __ATOMIC_RELEASE);
            claimed = false;
        }
        last->next = (slab_block *)(head & ~SLAB_PARKED);
        uintptr_t mine = (uintptr_t)first | (claimed ? 0 : head & SLAB_PARKED);
        /* Release: our links, to the thread that drains them. */
        if (__atomic_compare_exchange_n(&s->remote, &head, mine, true, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
    }
    if (claimed)
        queue_on_owner(s, cls);
}

// ------------------------------------------------------------ orphans

/* A list of free blocks, linked through them, and its length. */
typedef struct block_chain {
    slab_block *first;
    uint32_t count;
} block_chain;

/* Slabs an exited thread left with live blocks, by class: a thread that
 * needs the class takes one before it cuts a new slab, so their free blocks
 * are used again whoever needs them (whole segments adopted by the first
 * thread to need any class left most of their blocks idle: at 16 threads
 * Larson's slabs were a third full).  Linked through next/prev, so the
 * sweeper can take out the ones remote frees emptied. */
typedef struct orphan_list {
    pthread_mutex_t lock;
    hak_slab *head;
    /* Blocks of idle threads' slabs that threads had borrowed and left
     * (borrowed blocks, below), newest first; `aging` are those a sweep
     * already found here. */
    block_chain borrowed, aging;
} __attribute__((aligned(64))) orphan_list;

static orphan_list orphan_slabs[HAK_SLAB_CLASSES] = {
    [0 ... HAK_SLAB_CLASSES - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER},
};

static void orphan_lock(orphan_list *l)
{
    hak_lock_counted(&l->lock, HAK_STAT_SEGMENTS_LOCK_ACQUIRE, HAK_STAT_SEGMENTS_LOCK_CONTENDED);
}

static void orphan_unlink(orphan_list *l, hak_slab *s)
{
    s->orphaned = false;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        __atomic_store_n(&l->head, s->next, __ATOMIC_RELAXED);
    if (s->next != NULL)
        s->next->prev = s->prev;
}

/* Pushes the chain first..last (linked through next) of class cls. */
static void orphan_push_chain(unsigned cls, hak_slab *first, hak_slab *last)
{
    orphan_list *l = &orphan_slabs[cls];
    orphan_lock(l);
    for (hak_slab *s = first; s != NULL; s = s->next)
        s->orphaned = true;
    last->next = l->head;
    if (l->head != NULL)
        l->head->prev = last;
    first->prev = NULL;
    /* Stored atomically, though under the lock: adopt_slab peeks without it. */
    __atomic_store_n(&l->head, first, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&l->lock);
}

static hak_slab *orphan_pop(unsigned cls)
{
    orphan_list *l = &orphan_slabs[cls];
    if (__atomic_load_n(&l->head, __ATOMIC_RELAXED) == NULL)
        return NULL;
    orphan_lock(l);
    hak_slab *s = l->head;
    if (s != NULL)
        orphan_unlink(l, s);
    pthread_mutex_unlock(&l->lock);
    return s;
}

/* s, just taken off its orphan list, becomes h's, with the blocks other
 * threads freed into it meanwhile. */
static void take_orphan(hak_heap *h, hak_slab *s)
{
    engine_count(s->class_idx, HAK_STAT_TINY_ADOPTED, 1);
    __atomic_store_n(&s->owner, h, __ATOMIC_RELEASE);
    /* No remote free can claim it before we park it (the bit is clear), so
     * it may still be released right away. */
    __atomic_store_n(&s->notify, SLAB_NOTIFY_IDLE, __ATOMIC_RELEASE);
    s->where = SLAB_CURRENT;
    s->wake_used = 0;
    s->stashes = stashes_frees();
    slab_drain_remote(s);
}

/* An orphaned slab of class cls with a block to hand out, now h's current
 * one; NULL if none is left.  The ones found empty go back to their
 * segments, the ones found full are parked. */
static hak_slab *adopt_slab(hak_heap *h, unsigned cls)
{
    hak_slab *s;
    while ((s = orphan_pop(cls)) != NULL) {
        take_orphan(h, s);
        if (s->used == 0)
            segment_return_slab(h, s, hak_now_ms());
        else if (s->free != NULL || slab_refill(s))
            return s;
        else
            slab_park_full(h, s);
    }
    return NULL;
}

/* A free into an orphaned slab: the freeing thread takes the slab over, so
 * this free and the next ones into it are its own (a thread that frees what
 * an exited one allocated, as servers do, would otherwise leave every block
 * to wait on the orphan list for a sweep).  False if it has no heap, or
 * another thread took the slab first. */
static bool adopt_on_free(hak_slab *s)
{
    hak_heap *h = hak_tls_heap;
    if (h == &hak_empty_heap)
        return false;
    orphan_list *l = &orphan_slabs[s->class_idx]; /* our block keeps s in its class */
    orphan_lock(l);
    bool orphaned = s->orphaned;
    if (orphaned)
        orphan_unlink(l, s);
    pthread_mutex_unlock(&l->lock);
    if (!orphaned)
        return false;
    take_orphan(h, s);
    /* Its blocks are an exited thread's, freed by its heirs: it should drain
     * and go back rather than have them handed out again (mid-size Larson:
     * peak 257 -> 219 MiB). */
    s->stashes = false;
    list_append(h, s, SLAB_AVAIL);
    return true;
}

/* The orphans that remote frees emptied go back to their segments: nobody
 * may need their class again. */
static void sweep_orphan_slabs(hak_heap *h)
{
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++) {
        orphan_list *l = &orphan_slabs[c];
        if (__atomic_load_n(&l->head, __ATOMIC_RELAXED) == NULL)
            continue;
        hak_stat_count(HAK_STAT_SEGMENTS_LOCK_ACQUIRE, 1);
        if (pthread_mutex_trylock(&l->lock) != 0) {
            hak_stat_count(HAK_STAT_SEGMENTS_LOCK_CONTENDED, 1);
            continue;
        }
        hak_slab *next;
        for (hak_slab *s = l->head; s != NULL; s = next) {
            next = s->next;
            slab_drain_remote(s);
            if (s->used == 0) {
                orphan_unlink(l, s);
                segment_return_slab(h, s, hak_now_ms());
            }
        }
        pthread_mutex_unlock(&l->lock);
    }
}

// ------------------------------------------------------------ alloc

static void *pop(hak_slab *s)
{
    slab_block *b = s->free;
    s->free = b->next;
    s->used++;
    return b;
}

/* A slab of class cls with blocks the thread already has (the parked slabs
 * that remote frees revived, the available list), or one an exited thread
 * left.  NULL if none. */
static hak_slab *own_slab(hak_heap *h, unsigned cls)
{
    take_pending(h);
    hak_slab *s;
    while ((s = h->slab_avail[cls].head) != NULL) {
        list_remove(h, s);
        if (s->free != NULL || slab_refill(s))
            return s;
        slab_park_full(h, s);
    }
    return adopt_slab(h, cls);
}

/* A tiny slab is one unit.  MF2's pages are 64 KiB, which holds 8 or more
 * blocks up to 8 KiB; larger classes take 4 or 8 units, so a page holds
 * 8-14 blocks and refills stay rare (with 64 KiB, an 18 KiB class refilled
 * on 94% of its allocations).  A segment bounds both. */
#define MF2_PAGE_MIN ((size_t)64 << 10)

static unsigned slab_units(unsigned cls)
{
    if (cls < HAK_TINY_CLASSES)
        return 1;
    size_t want = 8u * (size_t)hak_class_size[cls];
    if (want < MF2_PAGE_MIN)
        want = MF2_PAGE_MIN;
    unsigned units = 1;
    while (units < segment_slabs() && (size_t)units * SLAB_SIZE < want)
        units *= 2;
    return units;
}

// ------------------------------------------------------------ spare

/* An emptied slab waits as its class's spare, with its free list threaded
 * and its pages touched, rather than go back to its segment: a class whose
 * blocks all die now and then would otherwise give its slab back and cut
 * it again at once, re-threading it page by page on as many slow paths
 * (1,900 slabs a second in tiny_random).  One per class; the purge tick
 * gives back a spare unused for the purge delay, and while the owner idles
 * another thread may take it for that (slab_heap_purge_idle): so a spare is
 * taken out of its slot with an exchange and put in with a compare-and-swap
 * from empty, and only the thread holding it reads it. */
static bool keep_spare(hak_heap *h, hak_slab *s)
{
    hak_slab *none = NULL;
    return __atomic_compare_exchange_n(&h->slab_spare[s->class_idx], &none, s, false,
                                       __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* idle: its last blocks sat in a stash until a purge tick, unused for up to
 * the purge delay, so it is due to go back at once (as the shared pool's
 * idle cache flush). */
static void slab_retire(hak_heap *h, hak_slab *s, bool idle)
{
    uint64_t now = hak_now_ms();
    if (idle)
        now -= hak_purge_delay_ms();
    if (hak_purge_delay_ms() != 0 &&
        __atomic_load_n(&h->slab_spare[s->class_idx], __ATOMIC_RELAXED) == NULL) {
        s->where = SLAB_SPARE;
        s->freed_ms = now;
        if (keep_spare(h, s))
            return;
    }
    segment_return_slab(h, s, now);
}

static hak_slab *take_spare(hak_heap *h, unsigned cls)
{
    if (__atomic_load_n(&h->slab_spare[cls], __ATOMIC_RELAXED) == NULL)
        return NULL;
    return __atomic_exchange_n(&h->slab_spare[cls], NULL, __ATOMIC_ACQUIRE);
}

/* The spares unused for the purge delay (all if force) go back to their
 * segments; `owner`: h's own thread, else pages are released at once. */
static void return_spares(hak_heap *h, bool force, bool owner)
{
    uint64_t now = hak_now_ms();
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++) {
        hak_slab *s = take_spare(h, c);
        if (s == NULL)
            continue;
        if (!force && now - s->freed_ms < hak_purge_delay_ms() && keep_spare(h, s))
            continue; /* not yet due (else the owner kept another meanwhile) */
        if (owner)
            segment_return_slab(h, s, s->freed_ms);
        else
            segment_return_idle_slab(s, s->freed_ms);
    }
}

static hak_slab *new_slab(hak_heap *h, unsigned cls)
{
    hak_slab *s = take_spare(h, cls);
    if (s != NULL) {
        engine_count(cls, HAK_STAT_TINY_REUSES, 1);
        return s;
    }
    if ((s = segment_take_slab(h, slab_units(cls))) != NULL) {
        slab_init(h, s, cls);
        slab_refill(s);
    }
    return s;
}

// ------------------------------------------------------------ the stash

/* Each class of a heap has a stash: a stand-in slab of blocks held outside
 * their slabs, which allocation takes as the class's current slab, so that
 * they go out on the fast path, the one stashed last first.  Two kinds:
 *
 * - The owner's frees into its slabs and MF2 pages other than the current
 *   one (stashes_frees; up to stash_own_limit).  Freed
 *   into their pages, they would wait there until the page was current
 *   again, and a page made current would then hold only the few holes that
 *   random frees had left in it: mid_large_mt refilled every 6 allocations,
 *   each refill parking a page and unparking another with an atomic
 *   read-modify-write.  Stashed, the block freed last goes out first,
 *   whatever its page, as from tcmalloc's per-class lists: a refill every
 *   40 allocations (mid_large_mt 1 and 16 threads: +6%; mid-size Larson at 8
 *   threads: +30%, peak 343 -> 219 MiB).
 * - Borrowed blocks.  A slab stays its owner's while the owner idles (handing
 *   it over would race with the owner's lock-free frees), but the blocks
 *   freed into it need not wait for the owner to wake: the freeing thread
 *   borrows them (by the time they are freed again, usually from yet another
 *   thread: a remote free, which may be borrowed again).
 *
 * Stashed blocks stay counted as used in their slabs, which keeps the slabs
 * from going back: a stash holds at most `capacity` blocks (a slab's worth,
 * STASH_MIN at least, STASH_MAX at most), frees beyond go to their slabs,
 * and the purge tick returns the owner's own blocks (slab_heap_leave_stash).
 * The stand-in is no segment's and no block names it; its `used` counts
 * down as blocks are added, so -used is how many it holds. */

/* The least a stash may hold (a full stash stops taking the owner's frees:
 * twice the switch, STASH_SWITCH in slab.h); the most, whatever the class:
 * each stashed block may pin a slab, and an idle thread's stash stays until
 * it wakes (a slab's worth of 16 B blocks, 2048, could pin 64 MiB; 256 ran
 * as fast, Larson's peak the same). */
#define STASH_MIN 32
#define STASH_MAX 256

/* How many of the owner's own frees a stash takes: a tiny class above
 * 256 B (a slab of 32-112 blocks) takes one switch's worth, not a slab's.
 * Held in the stash, the owner's freed blocks pin their slabs, and Larson's
 * peak at 16 threads rose 81 -> 89 MiB with those classes' stashes holding
 * up to a slab's worth (85 with 24 blocks, 81 with 16: the classes below
 * stash as before, and hold few bytes).  Borrowed blocks may fill a stash
 * to its capacity all the same. */
#define STASH_OWN_SMALL_MAX 256

static uint32_t stash_own_limit(unsigned cls, uint32_t capacity)
{
    bool small = hak_class_tier[cls] != HAK_TIER_TINY || hak_class_size[cls] <= STASH_OWN_SMALL_MAX;
    return small ? capacity : STASH_SWITCH;
}

static hak_slab *stash_of(hak_heap *h, unsigned cls) { return &h->slab_stash[cls]; }

bool slab_heap_init(hak_heap *h)
{
    h->slab_stash = hak_meta_alloc(HAK_SLAB_CLASSES * sizeof(hak_slab));
    if (h->slab_stash == NULL)
        return false;
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++) {
        hak_slab *b = stash_of(h, c);
        b->class_idx = (uint8_t)c;
        b->block_size = hak_class_size[c];
        b->capacity = (uint32_t)(SLAB_SIZE / b->block_size);
        if (b->capacity < STASH_MIN)
            b->capacity = STASH_MIN;
        if (b->capacity > STASH_MAX)
            b->capacity = STASH_MAX;
        b->own_limit = stash_own_limit(c, b->capacity);
        b->where = SLAB_STASH;
        b->stashes = true;
    }
    return true;
}

static void count_remote_free(unsigned cls)
{
    hak_stat_count_class(cls, HAK_CSTAT_FREE, 1);
    hak_stat_count_class(cls, HAK_CSTAT_FREE_REMOTE, 1);
}

/* Once the stash holds STASH_SWITCH blocks it becomes the class's current
 * slab (switched for one block, every block would cost a slow path to switch
 * back; with more, the slow path takes the stash first anyway); the slab it
 * replaces goes first in the available list. */
static void stash_after_free(hak_heap *h, hak_slab *st)
{
    hak_slab *cur = h->slab_cur[st->class_idx];
    if (stash_held(st) != STASH_SWITCH || cur == st)
        return;
    if (cur != &slab_empty)
        list_push(h, cur, SLAB_AVAIL);
    h->slab_cur[st->class_idx] = st;
}

/* After a borrowing free: its counts, and the switch. */
static __attribute__((noinline)) void borrowed_after_free(hak_heap *h, hak_slab *b)
{
    unsigned cls = b->class_idx;
    count_remote_free(cls);
    engine_count(cls, HAK_STAT_TINY_BORROWED_BLOCKS, 1);
    stash_after_free(h, b);
}

/* A remote free into the slab of a thread that has not allocated for
 * HAKMEM_MF2_IDLE_THRESHOLD_US: the freeing thread borrows the block, up to
 * its stash's capacity, rather than leave it where only the idle owner
 * would take it again (Larson's main thread allocates every worker's first
 * blocks, then waits in pthread_join: 40% of the peak was its freed slabs).
 * In such a program most frees come here, so the common case makes no call
 * but a tail call: no registers to save. */
static inline bool borrow_from_idle_owner(hak_heap *owner, slab_block *b, unsigned cls)
{
    /* Our own last tick stands in for the time: no clock read per free (the
     * empty heap's is 0: a thread without a heap never borrows).  A heap
     * released meanwhile is still a heap record (meta.h), so the read is
     * safe and at worst misjudges one block. */
    hak_heap *me = hak_tls_heap;
    uint64_t owner_active = __atomic_load_n(&owner->last_active_us, __ATOMIC_RELAXED);
    if ((int64_t)(me->last_active_us - owner_active) < (int64_t)hak_env.mf2_idle_threshold_us)
        return false;
    hak_slab *mine = stash_of(me, cls);
    uint32_t held = stash_held(mine);
    if (held >= mine->capacity)
        return false;
    slab_chain(mine, b, b, 1);
    if (__builtin_expect(hak_stats_enabled, 0) || held + 1 == STASH_SWITCH)
        borrowed_after_free(me, mine);
    return true;
}

/* Takes s's remote frees into the stand-in `into`, leaving SLAB_PARKED. */
static void borrow_remote(hak_slab *into, hak_slab *s)
{
    uintptr_t r = __atomic_load_n(&s->remote, __ATOMIC_ACQUIRE);
    do {
        if ((r & ~SLAB_PARKED) == 0)
            return;
    } while (!__atomic_compare_exchange_n(&s->remote, &r, r & SLAB_PARKED, true, __ATOMIC_ACQUIRE,
                                          __ATOMIC_ACQUIRE));
    uint32_t n = slab_chain_list(into, (slab_block *)(r & ~SLAB_PARKED));
    engine_count(into->class_idx, HAK_STAT_TINY_BORROWED_BLOCKS, n);
    engine_count(s->class_idx, HAK_STAT_TINY_IDLE_ADOPTIONS, 1);
}

/* Takes the remote frees of the slabs an idle thread has queued.  The slabs
 * stay the idle thread's, and go back on its stack, still QUEUED: their
 * owner must still take them, to unpark them and so have later remote
 * frees into them queue them again, and QUEUED keeps them from being
 * released while we read them (slab_quiesce).  `into`: the stand-in of the
 * class wanted. */
static void steal_pending(hak_heap *victim, void *into)
{
    hak_slab *first = __atomic_exchange_n(&victim->slab_pending, NULL, __ATOMIC_ACQUIRE);
    if (first == NULL)
        return;
    hak_slab *b = into, *last = first;
    for (hak_slab *s = first; s != NULL; s = s->pending_next) {
        if (s->class_idx == b->class_idx)
            borrow_remote(b, s);
        last = s;
    }
    hak_slab *head = __atomic_load_n(&victim->slab_pending, __ATOMIC_RELAXED);
    do {
        last->pending_next = head;
    } while (!__atomic_compare_exchange_n(&victim->slab_pending, &head, first, true,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/* A thread that leaves, or at its purge tick holds borrowed blocks of a
 * class it is not allocating from, puts them in the class's depot for the
 * next thread that needs the class: given back to their slabs they would
 * wait for their idle owners again (Larson's workers exit every round: the
 * blocks they had borrowed went back to the waiting main thread and RSS grew
 * 20 MiB a second).  The sweep gives those nobody took back to their slabs. */
static void depot_put(hak_slab *b)
{
    if (b->free == NULL)
        return;
    slab_block *last = b->free;
    while (last->next != NULL)
        last = last->next;
    orphan_list *l = &orphan_slabs[b->class_idx];
    orphan_lock(l);
    last->next = l->borrowed.first;
    __atomic_store_n(&l->borrowed.first, b->free, __ATOMIC_RELAXED); /* peeked by depot_take */
    l->borrowed.count += stash_held(b);
    pthread_mutex_unlock(&l->lock);
    b->free = NULL;
    b->used = 0;
}

/* Empties c, returning what it held.  `first` is written atomically, though
 * under the lock: depot_take and the sweep peek at it without. */
static block_chain chain_take(block_chain *c)
{
    block_chain was = *c;
    __atomic_store_n(&c->first, NULL, __ATOMIC_RELAXED);
    c->count = 0;
    return was;
}

static bool depot_empty(orphan_list *l)
{
    return __atomic_load_n(&l->aging.first, __ATOMIC_RELAXED) == NULL &&
           __atomic_load_n(&l->borrowed.first, __ATOMIC_RELAXED) == NULL;
}

/* Fills the empty stand-in b from its class's depot, oldest blocks first. */
static void depot_take(hak_slab *b)
{
    orphan_list *l = &orphan_slabs[b->class_idx];
    if (depot_empty(l))
        return;
    orphan_lock(l);
    block_chain got = chain_take(l->aging.first != NULL ? &l->aging : &l->borrowed);
    pthread_mutex_unlock(&l->lock);
    b->free = got.first;
    b->used = 0u - got.count;
}

static void give_back_blocks(slab_block *k)
{
    slab_block *next;
    for (; k != NULL; k = next) {
        next = k->next;
        k->next = NULL;
        remote_push(hak_reg_meta(hak_reg_lookup(k)), k, k);
    }
}

/* The blocks a sweep already found in a depot go back to their slabs (all
 * if forced: hak_purge, so that orphaned slabs they kept can go). */
static void sweep_depots(bool force)
{
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++) {
        orphan_list *l = &orphan_slabs[c];
        if (depot_empty(l))
            continue;
        orphan_lock(l);
        block_chain old = chain_take(&l->aging);
        block_chain young = chain_take(&l->borrowed);
        if (!force) { /* they wait one more sweep */
            l->aging.count = young.count;
            __atomic_store_n(&l->aging.first, young.first, __ATOMIC_RELAXED);
            young.first = NULL;
        }
        pthread_mutex_unlock(&l->lock);
        give_back_blocks(old.first);
        give_back_blocks(young.first);
    }
}

/* The class's stand-in, if it holds blocks or the depot has some; with
 * `steal_idle` (MF2 classes only, after the thread's own slabs: a walk of
 * every idle heap's queue) what idle threads' queued pages were sent. */
static hak_slab *stash_slab(hak_heap *h, unsigned cls, bool steal_idle)
{
    hak_slab *b = stash_of(h, cls);
    if (b->free == NULL)
        depot_take(b);
    if (steal_idle && b->free == NULL && hak_class_tier[cls] == HAK_TIER_MID)
        hak_heaps_visit_idle(h, (uint64_t)hak_env.mf2_idle_threshold_us, steal_pending, b);
    return b->free != NULL ? b : NULL;
}

void slab_sweep_orphans(hak_heap *h, bool force)
{
    sweep_depots(force); /* first: the blocks it gives back may empty orphans */
    sweep_orphan_slabs(h);
    segment_sweep_orphans(force);
}

// ------------------------------------------------------------ alloc

/* The class's next slab to allocate from: borrowed blocks first (they would
 * wait for their idle owner), then the thread's own slabs, an orphan, what
 * idle threads' pages hold, a new slab; NULL if out of memory. */
static hak_slab *next_slab(hak_heap *h, unsigned cls)
{
    hak_slab *s = stash_slab(h, cls, false);
    if (s == NULL && (s = own_slab(h, cls)) != NULL)
        engine_count(cls, HAK_STAT_TINY_REUSES, 1);
    if (s == NULL)
        s = stash_slab(h, cls, true);
    if (s == NULL)
        s = new_slab(h, cls);
    return s;
}

void *slab_alloc_slow(hak_heap *h, unsigned cls)
{
    if (h == &hak_empty_heap) {
        h = hak_heap_acquire();
        if (h == NULL)
            return NULL;
        return slab_alloc(h, cls);
    }
    hak_stat_count_class(cls, HAK_CSTAT_REFILL, 1);
    hak_heap_count_slow(h);
    stash_of(h, cls)->stashes = true; /* the class allocates: its frees may wait for it */
    hak_slab *s = h->slab_cur[cls];
    if (s != &slab_empty && s->where != SLAB_STASH) {
        if (slab_refill(s)) { /* the current slab's own frees first: seed 000 */
            engine_count(cls, HAK_STAT_TINY_REUSES, 1);
            return pop(s);
        }
        slab_park_full(h, s);
    }
    h->slab_cur[cls] = &slab_empty;
    if ((s = next_slab(h, cls)) == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (s->where != SLAB_STASH)
        s->where = SLAB_CURRENT;
    h->slab_cur[cls] = s;
    return pop(s);
}

// ------------------------------------------------------------ free

static __attribute__((noinline)) void free_remote_slow(hak_slab *s, slab_block *b)
{
    if (__atomic_load_n(&s->owner, __ATOMIC_RELAXED) == NULL && adopt_on_free(s)) {
        slab_free(s, b); /* ours now */
        return;
    }
    count_remote_free(s->class_idx);
    remote_push(s, b, b);
}

void slab_free_remote(hak_slab *s, slab_block *b)
{
    /* Acquire, as queue_on_owner's: the owner's heap is read next, and its
     * fields were set before the owner published itself (slab_init,
     * take_orphan). */
    hak_heap *owner = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
    if (owner == NULL || !borrow_from_idle_owner(owner, b, s->class_idx))
        free_remote_slow(s, b);
}

/* An owner's free made the slab empty, or a parked one worth unparking
 * (wake_used); true if the slab went back (idle: slab_retire). */
static bool owner_free_slow(hak_heap *h, hak_slab *s, bool idle)
{
    slab_unpark(h, s);
    if (s->used != 0 || s->where == SLAB_CURRENT)
        return false;
    /* Empty and not being allocated from: give the slab back to its segment.
     * Remote frees cannot be pending: used counts them until drained. */
    slab_quiesce(h, s);
    list_remove(h, s);
    slab_retire(h, s, idle);
    return true;
}

void slab_free_owner_slow(hak_heap *h, hak_slab *s)
{
    /* A program freeing a burst (and then idling) takes no allocation slow
     * path; its emptied slabs count toward the purge tick instead. */
    if (owner_free_slow(h, s, false))
        hak_heap_count_slow(h);
}

/* The stash's blocks of h's own slabs go back to them.  (No tick for the
 * slabs that empties: the purge and thread exit call this.) */
static void stash_return_own(hak_heap *h, hak_slab *st, bool idle)
{
    slab_block *k, *next, *kept = NULL;
    uint32_t n = 0;
    for (k = st->free; k != NULL; k = next) {
        next = k->next;
        hak_slab *s = hak_reg_meta(hak_reg_lookup(k));
        if (__atomic_load_n(&s->owner, __ATOMIC_RELAXED) == h) {
            if (slab_push_own(s, k))
                owner_free_slow(h, s, idle);
            continue;
        }
        k->next = kept;
        kept = k;
        n++;
    }
    st->free = kept;
    st->used = 0u - n;
}

/* The stash frees slab_free_to_stash does not take inline.  Past its
 * own_limit, the owner's frees go to their slabs.  A full stash means the
 * thread frees without allocating (a burst of frees, perhaps before it
 * idles, when no other thread may empty the stash for it): its blocks go
 * back, and the stash takes no more until the class allocates again
 * (slab_alloc_slow). */
void slab_free_to_stash_slow(hak_heap *h, hak_slab *s, slab_block *b)
{
    hak_slab *st = stash_of(h, s->class_idx);
    if (st->stashes && stash_held(st) >= st->capacity) {
        stash_return_own(h, st, false);
        st->stashes = false;
    }
    if (!st->stashes || stash_held(st) >= st->own_limit) {
        if (slab_push_own(s, b))
            slab_free_owner_slow(h, s);
        return;
    }
    slab_chain(st, b, b, 1);
    stash_after_free(h, st);
}

void slab_heap_leave_stash(hak_heap *h, bool all)
{
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++) {
        hak_slab *st = stash_of(h, c);
        if (stashes_frees()) /* even from a current stash: they pin pages */
            stash_return_own(h, st, true);
        if (h->slab_cur[c] == st) {
            if (!all)
                continue;
            h->slab_cur[c] = &slab_empty;
        }
        depot_put(st);
    }
}

// ------------------------------------------------------------ thread exit

/* Stops remote frees from queueing s on its owner, waiting out a claimant
 * queueing it right now, which still writes s and the heap. */
static void slab_silence(hak_heap *h, hak_slab *s, void *arg)
{
    (void)h;
    (void)arg;
    for (;;) {
        uint8_t st = __atomic_load_n(&s->notify, __ATOMIC_ACQUIRE);
        if (st == SLAB_NOTIFY_PUSHING) {
            sched_yield();
            continue;
        }
        if (__atomic_compare_exchange_n(&s->notify, &st, SLAB_NOTIFY_NEVER, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return;
    }
}

/* Collects every block the slab can take back; true if it is now empty. */
static bool slab_collect(hak_slab *s)
{
    slab_drain_remote(s);
    return s->used == 0;
}

/* Calls fn on every slab h owns: its current, available and parked ones. */
static void each_owned_slab(hak_heap *h, unsigned cls, void (*fn)(hak_heap *, hak_slab *, void *),
                            void *arg)
{
    hak_slab *cur = h->slab_cur[cls];
    if (cur != &slab_empty && cur->where != SLAB_STASH)
        fn(h, cur, arg);
    hak_slab *next;
    for (hak_slab *s = h->slab_avail[cls].head; s != NULL; s = next) {
        next = s->next; /* fn may relink s */
        fn(h, s, arg);
    }
    for (hak_slab *s = h->slab_full[cls].head; s != NULL; s = next) {
        next = s->next;
        fn(h, s, arg);
    }
}

typedef struct orphan_chain {
    hak_slab *first, *last;
} orphan_chain;

/* Empty: back to its segment; else ownerless, onto the chain for the
 * class's orphan list. */
static void orphan_or_return(hak_heap *h, hak_slab *s, void *arg)
{
    if (slab_collect(s)) {
        segment_return_slab(h, s, hak_now_ms());
        return;
    }
    orphan_chain *ch = arg;
    engine_count(s->class_idx, HAK_STAT_TINY_ORPHANED, 1);
    __atomic_store_n(&s->owner, NULL, __ATOMIC_RELEASE);
    s->where = SLAB_ORPHAN;
    s->next = ch->first;
    if (ch->first != NULL)
        ch->first->prev = s;
    else
        ch->last = s;
    ch->first = s;
}

void slab_heap_abandon(hak_heap *h)
{
    slab_heap_leave_stash(h, true); /* first: its own blocks may empty slabs */
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++)
        each_owned_slab(h, c, slab_silence, NULL);
    /* No thread can queue on h any more; what is queued is ours anyway. */
    __atomic_store_n(&h->slab_pending, NULL, __ATOMIC_RELAXED);
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++) {
        orphan_chain ch = {NULL, NULL};
        each_owned_slab(h, c, orphan_or_return, &ch);
        if (ch.first != NULL)
            orphan_push_chain(c, ch.first, ch.last);
        h->slab_cur[c] = &slab_empty;
        h->slab_avail[c] = h->slab_full[c] = (heap_slab_list){NULL, NULL};
    }
    return_spares(h, true, true);
    hak_meta_free(h->slab_stash, HAK_SLAB_CLASSES * sizeof(hak_slab));
    h->slab_stash = NULL;
    segment_orphan_all(h);
}

void slab_heap_purge(hak_heap *h, bool force)
{
    return_spares(h, force, true);
    segment_purge(h, force);
}

void slab_heap_purge_idle(hak_heap *h, bool force)
{
    return_spares(h, force, false);
    segment_purge_idle(h, force);
}

void slab_lock(void)
{
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++)
        pthread_mutex_lock(&orphan_slabs[c].lock);
    segment_lock();
}

void slab_unlock(void)
{
    segment_unlock();
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++)
        pthread_mutex_unlock(&orphan_slabs[c].lock);
}

void slab_reset_after_fork(void)
{
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++)
        pthread_mutex_init(&orphan_slabs[c].lock, NULL);
    segment_reset_after_fork();
}
