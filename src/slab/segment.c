#include "segment.h"

#include <pthread.h>
#include <string.h>

#include "../env/env.h"
#include "../registry.h"
#include "../stats/stats.h"

/* Segments whose owner exited, linked through next/prev. */
static pthread_mutex_t orphans_lock = PTHREAD_MUTEX_INITIALIZER;
static slab_segment *orphans;

static void orphans_lock_take(void)
{
    hak_lock_counted(&orphans_lock, HAK_STAT_SEGMENTS_LOCK_ACQUIRE,
                     HAK_STAT_SEGMENTS_LOCK_CONTENDED);
}

// ------------------------------------------------------------ layout

uint32_t segment_slabs(void)
{
    return hak_env.tiny_use_superslab ? SUPERSLAB_SLABS : STANDALONE_SLABS;
}

char *segment_slab_base(const hak_slab *s)
{
    const slab_segment *g = s->segment;
    return (char *)g + (size_t)(s - g->slabs) * SLAB_SIZE;
}

/* The head is stored atomically: adopt_orphan peeks at the orphans' head
 * without the lock. */
static void list_link(slab_segment **head, slab_segment *g)
{
    g->prev = NULL;
    g->next = *head;
    if (*head != NULL)
        (*head)->prev = g;
    __atomic_store_n(head, g, __ATOMIC_RELAXED);
}

static void list_unlink(slab_segment **head, slab_segment *g)
{
    if (g->prev != NULL)
        g->prev->next = g->next;
    else
        __atomic_store_n(head, g->next, __ATOMIC_RELAXED);
    if (g->next != NULL)
        g->next->prev = g->prev;
}

/* h->segments changes only under h->segments_lock, which a thread purging
 * h while it idles holds while it walks the list (segment_purge_idle); the
 * owner reads its own list without it. */
static void segment_link(hak_heap *h, slab_segment *g)
{
    __atomic_store_n(&g->owner, h, __ATOMIC_RELAXED);
    pthread_mutex_lock(&h->segments_lock);
    list_link(&h->segments, g);
    pthread_mutex_unlock(&h->segments_lock);
}

static slab_mask free_mask_of(const slab_segment *g)
{
    /* Acquire: the descriptors of slabs another thread freed. */
    return __atomic_load_n(&g->free_mask, __ATOMIC_ACQUIRE);
}

// ------------------------------------------------------------ new / release

static slab_segment *segment_new(hak_heap *h)
{
    uint32_t n = segment_slabs();
    enum hak_span_kind kind = n == SUPERSLAB_SLABS ? HAK_SPAN_CHUNK : HAK_SPAN_UNIT;
    bool zeroed;
    slab_segment *g = hak_span_alloc(kind, &zeroed);
    if (g == NULL)
        return NULL;
    size_t header = sizeof(slab_segment) + n * sizeof(hak_slab);
    memset(g, 0, header);
    g->slab_count = n;
    g->free_mask = segment_all_slabs(g);
    /* Blocks start page-aligned, so aligned requests can use any class whose
     * size is a multiple of the alignment (size_class.h). */
    g->header_bytes = (uint32_t)((header + HAK_PAGE_SIZE - 1) & ~(HAK_PAGE_SIZE - 1));
    g->span_kind = kind;
    for (uint32_t i = 0; i < n; i++) {
        g->slabs[i].segment = g;
        g->slabs[i].units = 1;
        g->slabs[i].purged = zeroed;
        if (hak_reg_set((char *)g + i * SLAB_SIZE, SLAB_SIZE, &g->slabs[i],
                        HAK_KIND_SLAB) != 0) {
            hak_reg_clear(g, i * SLAB_SIZE);
            hak_span_free(kind, g, false);
            return NULL;
        }
    }
    segment_link(h, g);
    hak_stat_count(HAK_STAT_SEGMENTS_NEW, 1);
    return g;
}

/* idle: every slab has been free for the purge delay, so the OS layer need
 * not delay the purge of the whole span once more. */
static void segment_unmap(slab_segment *g, bool idle)
{
    hak_stat_count(HAK_STAT_SEGMENTS_RELEASED, 1);
    hak_reg_clear(g, (size_t)g->slab_count * SLAB_SIZE);
    hak_span_free(g->span_kind, g, idle);
}

// ------------------------------------------------------------ slabs

static slab_mask run_mask(unsigned units)
{
    return units >= SUPERSLAB_SLABS ? ~(slab_mask)0 : ((slab_mask)1 << units) - 1;
}

/* The first free run of `units` units in mask m, aligned to `units`, or -1. */
static int free_run(const slab_segment *g, slab_mask m, unsigned units)
{
    for (unsigned i = 0; i + units <= g->slab_count; i += units)
        if (((m >> i) & run_mask(units)) == run_mask(units))
            return (int)i;
    return -1;
}

slab_mask segment_slab_heads(const slab_segment *g)
{
    return segment_all_slabs(g) & ~free_mask_of(g) &
           ~__atomic_load_n(&g->cont_mask, __ATOMIC_RELAXED);
}

/* Takes a free run from g, which h owns; -1 if it has none.  Other threads
 * may set free bits meanwhile (slabs they return), never clear them. */
static int take_run(slab_segment *g, unsigned units)
{
    slab_mask m = free_mask_of(g);
    int i;
    do {
        if ((i = free_run(g, m, units)) < 0)
            return -1;
    } while (!__atomic_compare_exchange_n(&g->free_mask, &m, m & ~(run_mask(units) << i), true,
                                          __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE));
    __atomic_fetch_or(&g->cont_mask, (run_mask(units) << i) & ~((slab_mask)1 << i),
                      __ATOMIC_RELAXED);
    return i;
}

/* An orphaned segment, now h's; NULL if there is none. */
static slab_segment *adopt_orphan(hak_heap *h)
{
    if (__atomic_load_n(&orphans, __ATOMIC_RELAXED) == NULL)
        return NULL;
    orphans_lock_take();
    slab_segment *g = orphans;
    if (g != NULL) {
        list_unlink(&orphans, g);
        segment_link(h, g);
        hak_stat_count(HAK_STAT_SEGMENTS_ADOPTED, 1);
    }
    pthread_mutex_unlock(&orphans_lock);
    return g;
}

/* A free run in one of h's segments, then in an orphaned one (its slabs
 * were touched already), then in a new one. */
static slab_segment *segment_with_run(hak_heap *h, unsigned units, int *at)
{
    for (slab_segment *g = h->segments; g != NULL; g = g->next)
        if ((*at = take_run(g, units)) >= 0)
            return g;
    slab_segment *g;
    while ((g = adopt_orphan(h)) != NULL)
        if ((*at = take_run(g, units)) >= 0)
            return g;
    if ((g = segment_new(h)) != NULL && (*at = take_run(g, units)) >= 0)
        return g;
    return NULL;
}

hak_slab *segment_take_slab(hak_heap *h, unsigned units)
{
    int i;
    slab_segment *g = segment_with_run(h, units, &i);
    if (g == NULL)
        return NULL;
    hak_slab *s = &g->slabs[i];
    s->units = (uint8_t)units;
    for (unsigned j = 1; j < units; j++) { /* leaves exist: segment_new registered these units */
        g->slabs[i + j].where = SLAB_NO_CLASS;
        hak_reg_set((char *)g + (size_t)(i + j) * SLAB_SIZE, SLAB_SIZE, s, HAK_KIND_SLAB);
    }
    return s;
}

slab_mask segment_all_slabs(const slab_segment *g) { return run_mask(g->slab_count); }

static bool all_free(const slab_segment *g, slab_mask m) { return m == segment_all_slabs(g); }

static void slab_release_pages(hak_slab *s)
{
    char *base = segment_slab_base(s);
    char *start = base + (s == &s->segment->slabs[0] ? s->segment->header_bytes : 0);
    hak_os_release_pages(start, (size_t)(base + SLAB_SIZE - start));
    s->purged = true;
}

static bool slab_idle(const hak_slab *s, uint64_t now, bool force)
{
    return force || now - s->freed_ms >= hak_purge_delay_ms();
}

/* A free slab (held by the caller) gives its pages back once it has waited
 * past the delay. */
static void purge_free_slab(hak_slab *s, uint64_t now, bool force)
{
    if (!s->purged && slab_idle(s, now, force))
        slab_release_pages(s);
}

/* All of g's slabs are free: has each been so for the purge delay? */
static bool segment_idle(const slab_segment *g, uint64_t now, bool force)
{
    for (uint32_t i = 0; i < g->slab_count; i++)
        if (!g->slabs[i].purged && !slab_idle(&g->slabs[i], now, force))
            return false;
    return true;
}

/* Marks s's units free in its segment, their pages released if `purge`;
 * returns the segment's free mask after.  Unless the caller owns the
 * segment, it may be released at once: not touched after. */
static slab_mask return_run(hak_slab *s, uint64_t empty_ms, bool purge)
{
    slab_segment *g = s->segment;
    unsigned i = (unsigned)(s - g->slabs), units = s->units;
    hak_stat_count_class(s->class_idx, HAK_CSTAT_SLABS_RELEASED, 1);
    for (unsigned j = 0; j < units; j++) { /* each unit a free slab of its own again */
        hak_slab *u = &g->slabs[i + j];
        if (j > 0)
            hak_reg_set((char *)g + (size_t)(i + j) * SLAB_SIZE, SLAB_SIZE, u, HAK_KIND_SLAB);
        u->where = SLAB_NO_CLASS;
        u->units = 1;
        u->freed_ms = empty_ms;
        u->purged = false;
        if (purge)
            slab_release_pages(u);
    }
    slab_mask run = run_mask(units) << i;
    __atomic_fetch_and(&g->cont_mask, ~run, __ATOMIC_RELAXED);
    /* Release: the descriptors above, to the owner that takes the run;
     * acquire: those of slabs other threads returned, read when g is all
     * free. */
    return __atomic_or_fetch(&g->free_mask, run, __ATOMIC_ACQ_REL);
}

void segment_return_idle_slab(hak_slab *s, uint64_t empty_ms) { return_run(s, empty_ms, true); }

void segment_return_slab(hak_heap *h, hak_slab *s, uint64_t empty_ms)
{
    slab_segment *g = s->segment;
    /* Stable while we hold a slab of g: only h itself gives g away. */
    bool owned = __atomic_load_n(&g->owner, __ATOMIC_RELAXED) == h;
    slab_mask m = return_run(s, empty_ms, hak_purge_delay_ms() == 0);
    if (owned && all_free(g, m)) {
        /* Under the lock no idle purge holds a slab of g: all free still? */
        pthread_mutex_lock(&h->segments_lock);
        if (all_free(g, free_mask_of(g))) {
            list_unlink(&h->segments, g);
            segment_unmap(g, segment_idle(g, hak_now_ms(), false)); /* a spare kept past the delay */
        }
        pthread_mutex_unlock(&h->segments_lock);
    }
}

/* The free slabs of g that have waited past the delay give their pages
 * back; if all are free, g leaves the list and goes back to the OS layer
 * (one that another thread's frees emptied, or an orphan). */
static void purge_segment(slab_segment **list, slab_segment *g, uint64_t now, bool force)
{
    slab_mask m = free_mask_of(g);
    if (all_free(g, m)) {
        list_unlink(list, g);
        segment_unmap(g, segment_idle(g, now, force));
        return;
    }
    for (; m != 0; m &= m - 1)
        purge_free_slab(&g->slabs[__builtin_ctzll(m)], now, force);
}

void segment_purge(hak_heap *h, bool force)
{
    uint64_t now = hak_now_ms();
    slab_segment *next;
    pthread_mutex_lock(&h->segments_lock);
    for (slab_segment *g = h->segments; g != NULL; g = next) {
        next = g->next;
        purge_segment(&h->segments, g, now, force);
    }
    pthread_mutex_unlock(&h->segments_lock);
}

/* Takes free slab i of g from under its owner for a moment, as take_run
 * would; false if the owner (or another thread's return) got there first. */
static bool claim_free_slab(slab_segment *g, unsigned i)
{
    slab_mask bit = (slab_mask)1 << i, m = free_mask_of(g);
    do {
        if ((m & bit) == 0)
            return false;
    } while (!__atomic_compare_exchange_n(&g->free_mask, &m, m & ~bit, true, __ATOMIC_ACQUIRE,
                                          __ATOMIC_ACQUIRE));
    return true;
}

void segment_purge_idle(hak_heap *h, bool force)
{
    if (pthread_mutex_trylock(&h->segments_lock) != 0)
        return; /* its owner is at it */
    uint64_t now = hak_now_ms();
    for (slab_segment *g = h->segments; g != NULL; g = g->next) {
        for (slab_mask m = free_mask_of(g); m != 0; m &= m - 1) {
            unsigned i = (unsigned)__builtin_ctzll(m);
            if (!claim_free_slab(g, i))
                continue;
            purge_free_slab(&g->slabs[i], now, force);
            /* Release: `purged`, to the owner that takes the slab next. */
            __atomic_fetch_or(&g->free_mask, (slab_mask)1 << i, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&h->segments_lock);
}

// ------------------------------------------------------------ orphans

void segment_orphan_all(hak_heap *h)
{
    slab_segment *g = h->segments, *next;
    h->segments = NULL;
    for (; g != NULL; g = next) {
        next = g->next;
        if (all_free(g, free_mask_of(g))) {
            segment_unmap(g, false);
            continue;
        }
        hak_stat_count(HAK_STAT_SEGMENTS_ABANDONED, 1);
        orphans_lock_take();
        __atomic_store_n(&g->owner, NULL, __ATOMIC_RELAXED);
        list_link(&orphans, g);
        pthread_mutex_unlock(&orphans_lock);
    }
}

void segment_sweep_orphans(bool force)
{
    if (__atomic_load_n(&orphans, __ATOMIC_RELAXED) == NULL)
        return;
    uint64_t now = hak_now_ms();
    hak_stat_count(HAK_STAT_SEGMENTS_LOCK_ACQUIRE, 1);
    if (pthread_mutex_trylock(&orphans_lock) != 0) {
        hak_stat_count(HAK_STAT_SEGMENTS_LOCK_CONTENDED, 1);
        return;
    }
    slab_segment *next;
    for (slab_segment *g = orphans; g != NULL; g = next) {
        next = g->next;
        purge_segment(&orphans, g, now, force);
    }
    pthread_mutex_unlock(&orphans_lock);
}

void segment_lock(void) { pthread_mutex_lock(&orphans_lock); }
void segment_unlock(void) { pthread_mutex_unlock(&orphans_lock); }
void segment_reset_after_fork(void) { pthread_mutex_init(&orphans_lock, NULL); }
