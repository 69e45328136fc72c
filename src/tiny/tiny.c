#include "tiny.h"

#include <errno.h>
#include <sched.h>

#include "../size_class.h"
#include "../stats/stats.h"
#include "segment.h"

/* The slab every class of a new heap points at: nothing to allocate, so the
 * first allocation of each class takes the slow path. */
tiny_slab tiny_empty_slab;

void tiny_init(void) {}

// ------------------------------------------------------------ lists

static tiny_slab **list_of(hak_heap *h, const tiny_slab *s)
{
    return s->where == TINY_FULL ? &h->tiny_full[s->class_idx] : &h->tiny_avail[s->class_idx];
}

static void list_push(hak_heap *h, tiny_slab *s, enum tiny_where where)
{
    s->where = (uint8_t)where;
    tiny_slab **head = list_of(h, s);
    s->prev = NULL;
    s->next = *head;
    if (*head != NULL)
        (*head)->prev = s;
    *head = s;
}

static void list_remove(hak_heap *h, tiny_slab *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        *list_of(h, s) = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    s->where = TINY_CURRENT;
}

// ------------------------------------------------------------ refill

/* Moves the blocks other threads freed into `free`.  The remote list is
 * walked once to count them (they are about to be handed out anyway). */
static bool slab_drain_remote(tiny_slab *s)
{
    if (__atomic_load_n(&s->remote, __ATOMIC_RELAXED) == NULL)
        return false;
    tiny_block *list = __atomic_exchange_n(&s->remote, NULL, __ATOMIC_ACQUIRE);
    if (list == NULL)
        return false;
    uint32_t n = 1;
    tiny_block *tail = list;
    for (; tail->next != NULL; tail = tail->next)
        n++;
    tail->next = s->free;
    s->free = list;
    s->used -= n;
    hak_stat_count(HAK_STAT_TINY_DRAINS, 1);
    hak_stat_count(HAK_STAT_TINY_DRAINED_BLOCKS, n);
    return true;
}

/* Threads the next stretch of never-used memory into `free`: at least a page
 * or 16 blocks at a time, so pages are first touched only when needed. */
static void slab_carve(tiny_slab *s)
{
    uint32_t n = (uint32_t)(HAK_PAGE_SIZE / s->block_size);
    if (n < 16)
        n = 16;
    if (n > s->capacity - s->carved)
        n = s->capacity - s->carved;
    char *first = s->start + (size_t)s->carved * s->block_size;
    char *p = first;
    for (uint32_t i = 1; i < n; i++, p += s->block_size)
        ((tiny_block *)p)->next = (tiny_block *)(p + s->block_size);
    ((tiny_block *)p)->next = s->free;
    s->free = (tiny_block *)first;
    s->carved += n;
}

/* Called with s->free empty; true if the slab has blocks again. */
static bool slab_refill(tiny_slab *s)
{
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

static void slab_init(hak_heap *h, tiny_slab *s, unsigned cls)
{
    char *base = segment_slab_base(s);
    tiny_segment *g = s->segment;
    s->start = base + (s == &g->slabs[0] ? g->header_bytes : 0);
    s->block_size = hak_class_size[cls];
    s->capacity = (uint32_t)((size_t)(base + TINY_SLAB_SIZE - s->start) / s->block_size);
    s->carved = 0;
    s->used = 0;
    s->free = s->local_free = NULL;
    s->class_idx = (uint8_t)cls;
    s->where = TINY_CURRENT;
    hak_stat_count_class(cls, HAK_CSTAT_SLABS_NEW, 1);
    __atomic_store_n(&s->remote, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&s->full, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->notify, TINY_NOTIFY_IDLE, __ATOMIC_RELAXED);
    __atomic_store_n(&s->owner, h, __ATOMIC_RELEASE);
}

// ------------------------------------------------------------ full slabs

/* Parks an exhausted slab.  The seq_cst store of `full` and load of `remote`
 * pair with the freeing thread's push and load of `full` (tiny_free_remote):
 * either we see its block now, or it sees `full` and queues the slab. */
static void slab_park_full(hak_heap *h, tiny_slab *s)
{
    list_push(h, s, TINY_FULL);
    __atomic_store_n(&s->full, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&s->remote, __ATOMIC_SEQ_CST) != NULL) {
        __atomic_store_n(&s->full, 0, __ATOMIC_RELAXED);
        list_remove(h, s);
        list_push(h, s, TINY_AVAIL);
    }
}

static void slab_unpark(hak_heap *h, tiny_slab *s)
{
    __atomic_store_n(&s->full, 0, __ATOMIC_RELAXED);
    if (s->where == TINY_FULL) {
        list_remove(h, s);
        list_push(h, s, TINY_AVAIL);
    }
}

/* Takes the slabs that remote frees queued, making them available again. */
static void take_pending(hak_heap *h)
{
    if (__atomic_load_n(&h->tiny_pending, __ATOMIC_RELAXED) == NULL)
        return;
    tiny_slab *s = __atomic_exchange_n(&h->tiny_pending, NULL, __ATOMIC_ACQUIRE);
    while (s != NULL) {
        while (__atomic_load_n(&s->notify, __ATOMIC_ACQUIRE) == TINY_NOTIFY_PUSHING)
            sched_yield(); /* the pusher is between its CAS and its store */
        tiny_slab *next = s->pending_next; /* read before the slab can be queued again */
        slab_unpark(h, s);
        hak_stat_count(HAK_STAT_TINY_PENDING_TAKEN, 1);
        __atomic_store_n(&s->notify, TINY_NOTIFY_IDLE, __ATOMIC_RELEASE);
        s = next;
    }
}

static void notify_owner(tiny_slab *s)
{
    uint8_t idle = TINY_NOTIFY_IDLE;
    if (!__atomic_compare_exchange_n(&s->notify, &idle, TINY_NOTIFY_PUSHING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return; /* already queued, being queued, or nobody to tell */
    /* While we hold PUSHING the owner cannot abandon the slab (it waits for
     * us), so the heap we push to stays alive. */
    hak_heap *h = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
    tiny_slab *head = __atomic_load_n(&h->tiny_pending, __ATOMIC_RELAXED);
    do {
        s->pending_next = head;
    } while (!__atomic_compare_exchange_n(&h->tiny_pending, &head, s, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    __atomic_store_n(&s->notify, TINY_NOTIFY_QUEUED, __ATOMIC_RELEASE);
    hak_stat_count(HAK_STAT_TINY_PENDING_ENQUEUED, 1);
}

void tiny_free_remote(tiny_slab *s, tiny_block *b)
{
    hak_stat_count_class(s->class_idx, HAK_CSTAT_FREE, 1);
    hak_stat_count_class(s->class_idx, HAK_CSTAT_FREE_REMOTE, 1);
    tiny_block *head = __atomic_load_n(&s->remote, __ATOMIC_RELAXED);
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
    tiny_segment *g = segment_pop_abandoned();
    if (g == NULL)
        return false;
    hak_stat_count(HAK_STAT_TINY_SEGMENTS_ADOPTED, 1);
    segment_link(h, g);
    for (uint32_t m = segment_all_slabs(g) & ~g->free_mask; m != 0; m &= m - 1) {
        tiny_slab *s = &g->slabs[__builtin_ctz(m)];
        __atomic_store_n(&s->owner, h, __ATOMIC_SEQ_CST);
        __atomic_store_n(&s->notify, TINY_NOTIFY_IDLE, __ATOMIC_SEQ_CST);
        slab_drain_remote(s);
        if (s->used == 0)
            segment_return_slab(h, s); /* may release g itself, if it was the last */
        else if (s->free != NULL || s->carved < s->capacity)
            list_push(h, s, TINY_AVAIL);
        else
            slab_park_full(h, s);
    }
    return true;
}

// ------------------------------------------------------------ alloc

static void *pop(tiny_slab *s)
{
    tiny_block *b = s->free;
    s->free = b->next;
    s->used++;
    return b;
}

/* The next slab of class cls with blocks: the parked slabs that remote frees
 * revived, then the available list, then a fresh slab. */
static tiny_slab *next_slab(hak_heap *h, unsigned cls)
{
    for (;;) {
        take_pending(h);
        tiny_slab *s;
        while ((s = h->tiny_avail[cls]) != NULL) {
            list_remove(h, s);
            if (s->free != NULL || slab_refill(s))
                return s;
            slab_park_full(h, s);
        }
        if (adopt_segment(h))
            continue;
        s = segment_take_slab(h);
        if (s == NULL)
            return NULL;
        slab_init(h, s, cls);
        slab_refill(s);
        return s;
    }
}

void *tiny_alloc_slow(hak_heap *h, unsigned cls)
{
    if (h == &hak_empty_heap) {
        h = hak_heap_acquire();
        if (h == NULL)
            return NULL;
        return tiny_alloc(h, cls);
    }
    hak_stat_count_class(cls, HAK_CSTAT_REFILL, 1);
    tiny_slab *s = h->tiny_cur[cls];
    if (s != &tiny_empty_slab) {
        if (slab_refill(s)) /* the current slab's own frees first: seed 000 */
            return pop(s);
        slab_park_full(h, s);
    }
    h->tiny_cur[cls] = &tiny_empty_slab;
    hak_heap_tick(h);
    s = next_slab(h, cls);
    if (s == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    s->where = TINY_CURRENT;
    h->tiny_cur[cls] = s;
    return pop(s);
}

// ------------------------------------------------------------ free

/* An owner's free made the slab empty, or landed in a parked slab. */
void tiny_free_owner_slow(hak_heap *h, tiny_slab *s)
{
    if (s->where == TINY_FULL)
        slab_unpark(h, s);
    if (s->used != 0 || s->where == TINY_CURRENT)
        return;
    /* Empty and not being allocated from: give the slab back to its segment.
     * Remote frees cannot be pending: used counts them until drained. */
    list_remove(h, s);
    segment_return_slab(h, s);
}

// ------------------------------------------------------------ thread exit

/* Stops remote frees from queueing s on its owner, waiting out a thread that
 * is queueing it right now (in a fork child that thread is gone: don't). */
static void slab_silence(tiny_slab *s, bool after_fork)
{
    for (;;) {
        uint8_t st = __atomic_load_n(&s->notify, __ATOMIC_ACQUIRE);
        if (st == TINY_NOTIFY_PUSHING && !after_fork) {
            sched_yield();
            continue;
        }
        if (__atomic_compare_exchange_n(&s->notify, &st, TINY_NOTIFY_NEVER, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return;
    }
}

/* Collects every block the slab can take back; true if it is now empty. */
static bool slab_collect(tiny_slab *s)
{
    if (s->local_free != NULL) {
        tiny_block *tail = s->local_free;
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
static void abandon_segment(tiny_segment *g)
{
    for (uint32_t m = segment_all_slabs(g) & ~g->free_mask; m != 0; m &= m - 1) {
        tiny_slab *s = &g->slabs[__builtin_ctz(m)];
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

void tiny_heap_abandon(hak_heap *h, bool after_fork)
{
    for (tiny_segment *g = h->segments; g != NULL; g = g->next)
        for (uint32_t m = segment_all_slabs(g) & ~g->free_mask; m != 0; m &= m - 1)
            slab_silence(&g->slabs[__builtin_ctz(m)], after_fork);
    /* No thread can queue on h any more; what is queued is ours anyway. */
    __atomic_store_n(&h->tiny_pending, NULL, __ATOMIC_RELAXED);
    tiny_segment *g = h->segments;
    h->segments = NULL;
    while (g != NULL) {
        tiny_segment *next = g->next;
        abandon_segment(g);
        g = next;
    }
    for (unsigned c = 0; c < HAK_TINY_CLASSES; c++) {
        h->tiny_cur[c] = &tiny_empty_slab;
        h->tiny_avail[c] = h->tiny_full[c] = NULL;
    }
}

void tiny_heap_purge(hak_heap *h, bool force) { segment_purge(h, force); }

void tiny_reclaim_abandoned(hak_heap *h)
{
    while (adopt_segment(h))
        ;
}
