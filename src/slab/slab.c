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
 * walked once to count them (they are about to be handed out anyway). */
static bool slab_drain_remote(hak_slab *s)
{
    if (__atomic_load_n(&s->remote, __ATOMIC_RELAXED) == NULL)
        return false;
    slab_block *list = __atomic_exchange_n(&s->remote, NULL, __ATOMIC_ACQUIRE);
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
    __atomic_store_n(&s->remote, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&s->full, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->notify, SLAB_NOTIFY_IDLE, __ATOMIC_RELAXED);
    __atomic_store_n(&s->owner, h, __ATOMIC_RELEASE);
}

// ------------------------------------------------------------ full slabs

/* Parks an exhausted slab.  The seq_cst store of `full` and load of `remote`
 * pair with the freeing thread's push and load of `full` (slab_free_remote):
 * either we see its block now, or it sees `full` and queues the slab. */
static void slab_park_full(hak_heap *h, hak_slab *s)
{
    list_push(h, s, SLAB_FULL);
    __atomic_store_n(&s->full, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&s->remote, __ATOMIC_SEQ_CST) != NULL) {
        __atomic_store_n(&s->full, 0, __ATOMIC_RELAXED);
        list_remove(h, s);
        list_push(h, s, SLAB_AVAIL);
    }
}

static void slab_unpark(hak_heap *h, hak_slab *s)
{
    __atomic_store_n(&s->full, 0, __ATOMIC_RELAXED);
    if (s->where == SLAB_FULL) {
        list_remove(h, s);
        list_push(h, s, SLAB_AVAIL);
    }
}

/* Takes the slabs that remote frees queued, making them available again. */
static void take_pending(hak_heap *h)
{
    if (__atomic_load_n(&h->slab_pending, __ATOMIC_RELAXED) == NULL)
        return;
    hak_slab *s = __atomic_exchange_n(&h->slab_pending, NULL, __ATOMIC_ACQUIRE);
    while (s != NULL) {
        while (__atomic_load_n(&s->notify, __ATOMIC_ACQUIRE) == SLAB_NOTIFY_PUSHING)
            sched_yield(); /* the pusher is between its CAS and its store */
        hak_slab *next = s->pending_next; /* read before the slab can be queued again */
        slab_unpark(h, s);
        engine_count(s->class_idx, HAK_STAT_TINY_PENDING_TAKEN, 1);
        __atomic_store_n(&s->notify, SLAB_NOTIFY_IDLE, __ATOMIC_RELEASE);
        s = next;
    }
}

static void notify_owner(hak_slab *s)
{
    uint8_t idle = SLAB_NOTIFY_IDLE;
    if (!__atomic_compare_exchange_n(&s->notify, &idle, SLAB_NOTIFY_PUSHING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return; /* already queued, being queued, or nobody to tell */
    /* While we hold PUSHING the owner cannot abandon the slab (it waits for
     * us), so the heap we push to stays alive. */
    hak_heap *h = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
    hak_slab *head = __atomic_load_n(&h->slab_pending, __ATOMIC_RELAXED);
    do {
        s->pending_next = head;
    } while (!__atomic_compare_exchange_n(&h->slab_pending, &head, s, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    __atomic_store_n(&s->notify, SLAB_NOTIFY_QUEUED, __ATOMIC_RELEASE);
    engine_count(s->class_idx, HAK_STAT_TINY_PENDING_ENQUEUED, 1);
}

void slab_free_remote(hak_slab *s, slab_block *b)
{
    hak_stat_count_class(s->class_idx, HAK_CSTAT_FREE, 1);
    hak_stat_count_class(s->class_idx, HAK_CSTAT_FREE_REMOTE, 1);
    slab_block *head = __atomic_load_n(&s->remote, __ATOMIC_RELAXED);
    do {
        b->next = head;
    } while (!__atomic_compare_exchange_n(&s->remote, &head, b, true, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    if (__atomic_load_n(&s->full, __ATOMIC_SEQ_CST))
        notify_owner(s);
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
        __atomic_store_n(&s->owner, h, __ATOMIC_SEQ_CST);
        __atomic_store_n(&s->notify, SLAB_NOTIFY_IDLE, __ATOMIC_SEQ_CST);
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

/* Pushes a chain of blocks back onto a slab's remote list, queueing the
 * slab to its owner if it is parked full (as a remote free would). */
static void push_back_remote(hak_slab *s, slab_block *list)
{
    slab_block *tail = list;
    while (tail->next != NULL)
        tail = tail->next;
    slab_block *head = __atomic_load_n(&s->remote, __ATOMIC_RELAXED);
    do {
        tail->next = head;
    } while (!__atomic_compare_exchange_n(&s->remote, &head, list, true, __ATOMIC_SEQ_CST,
                                          __ATOMIC_RELAXED));
    if (__atomic_load_n(&s->full, __ATOMIC_SEQ_CST))
        notify_owner(s);
}

typedef struct steal {
    hak_heap *thief;
    unsigned cls;
} steal;

/* Takes the remote frees of the slabs an idle thread has queued.  The slabs
 * stay the idle thread's (handing them over would race with its lock-free
 * local frees): their blocks of the wanted class are borrowed, still
 * counted as used in their slab until freed back to it as remote frees;
 * blocks of other classes go back where they were. */
static void steal_pending(hak_heap *victim, void *arg)
{
    steal *st = arg;
    hak_slab *s = __atomic_exchange_n(&victim->slab_pending, NULL, __ATOMIC_ACQUIRE);
    while (s != NULL) {
        while (__atomic_load_n(&s->notify, __ATOMIC_ACQUIRE) == SLAB_NOTIFY_PUSHING)
            sched_yield();
        hak_slab *next = s->pending_next;
        slab_block *list = __atomic_exchange_n(&s->remote, NULL, __ATOMIC_ACQUIRE);
        if (list != NULL && s->class_idx == st->cls) {
            slab_block *tail = list;
            while (tail->next != NULL)
                tail = tail->next;
            tail->next = st->thief->slab_borrowed[st->cls];
            st->thief->slab_borrowed[st->cls] = list;
            engine_count(s->class_idx, HAK_STAT_TINY_IDLE_ADOPTIONS, 1);
            list = NULL;
        }
        uint8_t queued = SLAB_NOTIFY_QUEUED; /* NEVER (abandoned) stays NEVER */
        __atomic_compare_exchange_n(&s->notify, &queued, SLAB_NOTIFY_IDLE, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
        if (list != NULL)
            push_back_remote(s, list); /* another class: queued to its owner again */
        s = next;
    }
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
            push_back_remote(hak_reg_meta(hak_reg_lookup(b)), b);
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
    if (s->where == SLAB_FULL)
        slab_unpark(h, s);
    if (s->used != 0 || s->where == SLAB_CURRENT)
        return;
    /* Empty and not being allocated from: give the slab back to its segment.
     * Remote frees cannot be pending: used counts them until drained. */
    list_remove(h, s);
    segment_return_slab(h, s);
    /* A program freeing a burst (and then idling) takes no allocation slow
     * path; its emptied slabs count toward the purge tick instead. */
    hak_heap_count_slow(h);
}

// ------------------------------------------------------------ thread exit

/* Stops remote frees from queueing s on its owner, waiting out a thread that
 * is queueing it right now (in a fork child that thread is gone: don't). */
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
        __atomic_store_n(&s->full, 0, __ATOMIC_RELAXED);
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
