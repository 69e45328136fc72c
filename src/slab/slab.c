#include "slab.h"

#include <errno.h>
#include <sched.h>

#include "../size_class.h"
#include "../env/env.h"
#include "../registry.h"
#include "../stats/stats.h"
#include "segment.h"

/* The slab every class of a new heap points at: nothing to allocate, so the
 * first allocation of each class takes the slow path. */
hak_slab slab_empty;

// ------------------------------------------------------------ lists

static hak_slab **list_of(hak_heap *h, const hak_slab *s)
{
    return s->where == SLAB_FULL ? &h->slab_full[s->class_idx] : &h->slab_avail[s->class_idx];
}

static void list_push(hak_heap *h, hak_slab *s, enum slab_where where)
{
    s->where = (uint8_t)where;
    hak_slab **head = list_of(h, s);
    s->prev = NULL;
    s->next = *head;
    if (*head != NULL)
        (*head)->prev = s;
    *head = s;
}

static void list_remove(hak_heap *h, hak_slab *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        *list_of(h, s) = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->where = SLAB_CURRENT;
}

// ------------------------------------------------------------ counting

/* The tiny or the MF2 counter of an engine event, by the class's tier. */
static void engine_count(unsigned cls, hak_stat_id tiny_id, uint64_t n)
{
    hak_stat_id id = tiny_id;
    if (hak_class_tier[cls] != HAK_TIER_TINY)
        id = (hak_stat_id)(tiny_id + HAK_STAT_MF2_DRAIN_ATTEMPTS - HAK_STAT_TINY_DRAIN_ATTEMPTS);
    hak_stat_count(id, n);
}

// ------------------------------------------------------------ refill

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
    uint32_t n = 1;
    slab_block *tail = list;
    for (; tail->next != NULL; tail = tail->next)
        n++;
    tail->next = s->free;
    s->free = list;
    s->used -= n;
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
    if (s->local_free != NULL) {
        s->free = s->local_free;
        s->local_free = NULL;
        slab_drain_remote(s);
        return true;
    }
    if (slab_drain_remote(s))
        return true;
    if (s->carved < s->capacity) {
        slab_carve(s);
        return true;
    }
    return false;
}

static void slab_init(hak_heap *h, hak_slab *s, unsigned cls)
{
    char *base = segment_slab_base(s);
    slab_segment *g = s->segment;
    s->start = base + (s == &g->slabs[0] ? g->header_bytes : 0);
    s->block_size = hak_class_size[cls];
    s->capacity = (uint32_t)((size_t)(base + (size_t)s->units * SLAB_SIZE - s->start) / s->block_size);
    s->carved = 0;
    s->used = 0;
    s->free = s->local_free = NULL;
    s->class_idx = (uint8_t)cls;
    s->where = SLAB_CURRENT;
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
                                    __ATOMIC_RELAXED))
        list_push(h, s, SLAB_FULL);
    else
        list_push(h, s, SLAB_AVAIL);
}

static void slab_unpark(hak_heap *h, hak_slab *s)
{
    if (s->where != SLAB_FULL)
        return;
    /* Still set if no remote free claimed it: later frees need not tell us. */
    __atomic_fetch_and(&s->remote, ~SLAB_PARKED, __ATOMIC_RELAXED);
    list_remove(h, s);
    list_push(h, s, SLAB_AVAIL);
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

void slab_free_remote(hak_slab *s, slab_block *b)
{
    hak_stat_count_class(s->class_idx, HAK_CSTAT_FREE, 1);
    hak_stat_count_class(s->class_idx, HAK_CSTAT_FREE_REMOTE, 1);
    remote_push(s, b, b);
}

// ------------------------------------------------------------ adoption

/* Takes over a segment an exited thread left with live blocks. */
static bool adopt_segment(hak_heap *h)
{
    slab_segment *g = segment_pop_abandoned();
    if (g == NULL)
        return false;
    hak_stat_count(HAK_STAT_SEGMENTS_ADOPTED, 1);
    segment_link(h, g);
    for (uint32_t m = segment_slab_heads(g); m != 0; m &= m - 1) {
        hak_slab *s = &g->slabs[__builtin_ctz(m)];
        __atomic_store_n(&s->owner, h, __ATOMIC_RELEASE);
        /* No remote free can claim it before we park it (the bit is clear),
         * so it may still be released right here. */
        __atomic_store_n(&s->notify, SLAB_NOTIFY_IDLE, __ATOMIC_RELEASE);
        slab_drain_remote(s);
        if (s->used == 0)
            segment_return_slab(h, s); /* may release g itself, if it was the last */
        else if (s->free != NULL || s->carved < s->capacity)
            list_push(h, s, SLAB_AVAIL);
        else
            slab_park_full(h, s);
    }
    return true;
}

// ------------------------------------------------------------ alloc

static void *pop(hak_slab *s)
{
    slab_block *b = s->free;
    s->free = b->next;
    s->used++;
    return b;
}

/* A slab of class cls the thread already has with blocks: the parked
 * slabs that remote frees revived, the available list, then a segment an
 * exited thread left.  NULL if none. */
static hak_slab *own_slab(hak_heap *h, unsigned cls)
{
    for (;;) {
        take_pending(h);
        hak_slab *s;
        while ((s = h->slab_avail[cls]) != NULL) {
            list_remove(h, s);
            if (s->free != NULL || slab_refill(s))
                return s;
            slab_park_full(h, s);
        }
        if (!adopt_segment(h))
            return NULL;
    }
}

/* 64 KiB holds 8 or more blocks up to 8 KiB; larger (MF2) classes take 2
 * or 4 units, so a page holds 8-14 blocks and refills stay rare (with one
 * unit, an 18 KiB class refilled on 94% of its allocations). */
static unsigned slab_units(unsigned cls)
{
    unsigned units = 1;
    if (hak_env.tiny_use_superslab)
        while ((size_t)units * SLAB_SIZE < 8u * hak_class_size[cls])
            units *= 2;
    return units;
}

static hak_slab *new_slab(hak_heap *h, unsigned cls)
{
    hak_slab *s = segment_take_slab(h, slab_units(cls));
    if (s != NULL) {
        slab_init(h, s, cls);
        slab_refill(s);
    }
    return s;
}

// ------------------------------------------------------------ idle adoption

typedef struct steal {
    hak_heap *thief;
    unsigned cls;
} steal;

/* Takes s's remote frees, leaving SLAB_PARKED as it is. */
static void borrow_remote(steal *st, hak_slab *s)
{
    uintptr_t r = __atomic_load_n(&s->remote, __ATOMIC_ACQUIRE);
    do {
        if ((r & ~SLAB_PARKED) == 0)
            return;
    } while (!__atomic_compare_exchange_n(&s->remote, &r, r & SLAB_PARKED, true, __ATOMIC_ACQUIRE,
                                          __ATOMIC_ACQUIRE));
    slab_block *list = (slab_block *)(r & ~SLAB_PARKED);
    slab_block *tail = list;
    while (tail->next != NULL)
        tail = tail->next;
    tail->next = st->thief->slab_borrowed[st->cls];
    st->thief->slab_borrowed[st->cls] = list;
    engine_count(s->class_idx, HAK_STAT_TINY_IDLE_ADOPTIONS, 1);
}

/* Takes the remote frees of the slabs an idle thread has queued.  The slabs
 * stay the idle thread's (handing them over would race with its lock-free
 * local frees): their blocks of the wanted class are borrowed, still
 * counted as used in their slab until freed back to it as remote frees.
 * The slabs go back on the idle thread's stack, still QUEUED: their owner
 * must still take them, to unpark them and so have later remote frees into
 * them queue them again, and QUEUED keeps them from being released while
 * we read them (slab_quiesce). */
static void steal_pending(hak_heap *victim, void *arg)
{
    hak_slab *first = __atomic_exchange_n(&victim->slab_pending, NULL, __ATOMIC_ACQUIRE);
    if (first == NULL)
        return;
    steal *st = arg;
    hak_slab *last = first;
    for (hak_slab *s = first; s != NULL; s = s->pending_next) {
        if (s->class_idx == st->cls)
            borrow_remote(st, s);
        last = s;
    }
    hak_slab *head = __atomic_load_n(&victim->slab_pending, __ATOMIC_RELAXED);
    do {
        last->pending_next = head;
    } while (!__atomic_compare_exchange_n(&victim->slab_pending, &head, first, true,
                                          __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

/* A block from the borrowed list, stealing from idle threads when it is
 * empty (MF2 classes only: HAKMEM_MF2_IDLE_THRESHOLD_US). */
static void *borrow(hak_heap *h, unsigned cls)
{
    if (h->slab_borrowed[cls] == NULL && hak_class_tier[cls] == HAK_TIER_MID) {
        steal st = {h, cls};
        hak_heaps_visit_idle(h, (uint64_t)hak_env.mf2_idle_threshold_us, steal_pending, &st);
    }
    slab_block *b = h->slab_borrowed[cls];
    if (b != NULL) {
        h->slab_borrowed[cls] = b->next;
        engine_count(cls, HAK_STAT_TINY_BORROWED_BLOCKS, 1);
    }
    return b;
}

/* Borrowed blocks not handed out go back to their own slabs. */
static void return_borrowed(hak_heap *h)
{
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++) {
        slab_block *b = h->slab_borrowed[c];
        h->slab_borrowed[c] = NULL;
        while (b != NULL) {
            slab_block *next = b->next;
            b->next = NULL;
            remote_push(hak_reg_meta(hak_reg_lookup(b)), b, b);
            b = next;
        }
    }
}

// ------------------------------------------------------------ alloc

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
    hak_slab *s = h->slab_cur[cls];
    if (s != &slab_empty) {
        if (slab_refill(s)) { /* the current slab's own frees first: seed 000 */
            engine_count(cls, HAK_STAT_TINY_REUSES, 1);
            return pop(s);
        }
        slab_park_full(h, s);
    }
    h->slab_cur[cls] = &slab_empty;
    s = own_slab(h, cls);
    if (s != NULL) {
        engine_count(cls, HAK_STAT_TINY_REUSES, 1);
    } else {
        void *b = borrow(h, cls);
        if (b != NULL)
            return b;
        if ((s = new_slab(h, cls)) == NULL) {
            errno = ENOMEM;
            return NULL;
        }
    }
    s->where = SLAB_CURRENT;
    h->slab_cur[cls] = s;
    return pop(s);
}

// ------------------------------------------------------------ free

/* An owner's free made the slab empty, or landed in a parked slab. */
void slab_free_owner_slow(hak_heap *h, hak_slab *s)
{
    slab_unpark(h, s);
    if (s->used != 0 || s->where == SLAB_CURRENT)
        return;
    /* Empty and not being allocated from: give the slab back to its segment.
     * Remote frees cannot be pending: used counts them until drained. */
    slab_quiesce(h, s);
    list_remove(h, s);
    segment_return_slab(h, s);
    /* A program freeing a burst (and then idling) takes no allocation slow
     * path; its emptied slabs count toward the purge tick instead. */
    hak_heap_count_slow(h);
}

// ------------------------------------------------------------ thread exit

/* Stops remote frees from queueing s on its owner, waiting out a claimant
 * queueing it right now, which still writes s and the heap (in a fork child
 * that thread is gone: don't wait). */
static void slab_silence(hak_slab *s, bool after_fork)
{
    for (;;) {
        uint8_t st = __atomic_load_n(&s->notify, __ATOMIC_ACQUIRE);
        if (st == SLAB_NOTIFY_PUSHING && !after_fork) {
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
    if (s->local_free != NULL) {
        slab_block *tail = s->local_free;
        while (tail->next != NULL)
            tail = tail->next;
        tail->next = s->free;
        s->free = s->local_free;
        s->local_free = NULL;
    }
    slab_drain_remote(s);
    return s->used == 0;
}

/* g has left h's list: empty slabs are freed, the others wait, ownerless,
 * for a thread to adopt the segment. */
static void abandon_segment(slab_segment *g)
{
    for (uint32_t m = segment_slab_heads(g); m != 0; m &= m - 1) {
        hak_slab *s = &g->slabs[__builtin_ctz(m)];
        if (slab_collect(s)) {
            if (segment_free_slab(s)) {
                segment_unmap(g);
                return;
            }
            continue;
        }
        __atomic_store_n(&s->owner, NULL, __ATOMIC_RELEASE);
    }
    segment_push_abandoned(g);
}

void slab_heap_abandon(hak_heap *h, bool after_fork)
{
    for (slab_segment *g = h->segments; g != NULL; g = g->next)
        for (uint32_t m = segment_slab_heads(g); m != 0; m &= m - 1)
            slab_silence(&g->slabs[__builtin_ctz(m)], after_fork);
    /* No thread can queue on h any more; what is queued is ours anyway. */
    __atomic_store_n(&h->slab_pending, NULL, __ATOMIC_RELAXED);
    slab_segment *g = h->segments;
    h->segments = NULL;
    while (g != NULL) {
        slab_segment *next = g->next;
        abandon_segment(g);
        g = next;
    }
    return_borrowed(h);
    for (unsigned c = 0; c < HAK_SLAB_CLASSES; c++) {
        h->slab_cur[c] = &slab_empty;
        h->slab_avail[c] = h->slab_full[c] = NULL;
    }
}

void slab_heap_purge(hak_heap *h, bool force) { segment_purge(h, force); }

void slab_reclaim_abandoned(hak_heap *h)
{
    while (adopt_segment(h))
        ;
}
