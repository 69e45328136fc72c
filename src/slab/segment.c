#include "segment.h"

#include <pthread.h>
#include <string.h>

#include "../env/env.h"
#include "../registry.h"
#include "../stats/stats.h"

static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static slab_segment *abandoned;

static void abandoned_lock_take(void)
{
    hak_lock_counted(&abandoned_lock, HAK_STAT_SEGMENTS_LOCK_ACQUIRE,
                     HAK_STAT_SEGMENTS_LOCK_CONTENDED);
}

// ------------------------------------------------------------ layout

static uint32_t segment_slabs(void)
{
    return hak_env.tiny_use_superslab ? SUPERSLAB_SLABS : 1;
}

char *segment_slab_base(const hak_slab *s)
{
    const slab_segment *g = s->segment;
    return (char *)g + (size_t)(s - g->slabs) * SLAB_SIZE;
}

void segment_link(hak_heap *h, slab_segment *g)
{
    g->owner = h;
    g->prev = NULL;
    g->next = h->segments;
    if (h->segments != NULL)
        h->segments->prev = g;
    h->segments = g;
}

static void segment_unlink(hak_heap *h, slab_segment *g)
{
    if (g->prev != NULL)
        g->prev->next = g->next;
    else
        h->segments = g->next;
    if (g->next != NULL)
        g->next->prev = g->prev;
}

// ------------------------------------------------------------ new / release

static slab_segment *segment_new(hak_heap *h)
{
    uint32_t n = segment_slabs();
    enum hak_span_kind kind = n == 1 ? HAK_SPAN_UNIT : HAK_SPAN_CHUNK;
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

void segment_unmap(slab_segment *g)
{
    hak_stat_count(HAK_STAT_SEGMENTS_RELEASED, 1);
    hak_reg_clear(g, (size_t)g->slab_count * SLAB_SIZE);
    hak_span_free(g->span_kind, g, false); /* the OS layer delays the purge of whole spans */
}

// ------------------------------------------------------------ slabs

static uint32_t run_mask(unsigned units) { return units >= 32 ? UINT32_MAX : (1u << units) - 1; }

/* The first free run of `units` units in g, aligned to `units`, or -1. */
static int free_run(const slab_segment *g, unsigned units)
{
    for (unsigned i = 0; i + units <= g->slab_count; i += units)
        if (((g->free_mask >> i) & run_mask(units)) == run_mask(units))
            return (int)i;
    return -1;
}

uint32_t segment_slab_heads(const slab_segment *g)
{
    return segment_all_slabs(g) & ~g->free_mask & ~g->cont_mask;
}

hak_slab *segment_take_slab(hak_heap *h, unsigned units)
{
    slab_segment *g = h->segments;
    int i = -1;
    while (g != NULL && (i = free_run(g, units)) < 0)
        g = g->next;
    if (g == NULL) {
        if ((g = segment_new(h)) == NULL || (i = free_run(g, units)) < 0)
            return NULL;
    }
    uint32_t run = run_mask(units) << i;
    g->free_mask &= ~run;
    g->cont_mask |= run & ~(1u << i);
    hak_slab *s = &g->slabs[i];
    s->units = (uint8_t)units;
    for (unsigned j = 1; j < units; j++) { /* leaves exist: segment_new registered these units */
        g->slabs[i + j].where = SLAB_NO_CLASS;
        hak_reg_set((char *)g + (size_t)(i + j) * SLAB_SIZE, SLAB_SIZE, s, HAK_KIND_SLAB);
    }
    return s;
}

uint32_t segment_all_slabs(const slab_segment *g)
{
    return g->slab_count == 32 ? UINT32_MAX : (1u << g->slab_count) - 1;
}

static bool segment_all_free(const slab_segment *g) { return g->free_mask == segment_all_slabs(g); }

static void slab_release_pages(hak_slab *s)
{
    char *base = segment_slab_base(s);
    char *start = base + (s == &s->segment->slabs[0] ? s->segment->header_bytes : 0);
    hak_os_release_pages(start, (size_t)(base + SLAB_SIZE - start));
    s->purged = true;
}

bool segment_free_slab(hak_slab *s)
{
    slab_segment *g = s->segment;
    unsigned i = (unsigned)(s - g->slabs), units = s->units;
    hak_stat_count_class(s->class_idx, HAK_CSTAT_SLABS_RELEASED, 1);
    uint64_t now = hak_now_ms();
    for (unsigned j = 0; j < units; j++) { /* each unit a free slab of its own again */
        hak_slab *u = &g->slabs[i + j];
        if (j > 0)
            hak_reg_set((char *)g + (size_t)(i + j) * SLAB_SIZE, SLAB_SIZE, u, HAK_KIND_SLAB);
        u->where = SLAB_NO_CLASS;
        u->units = 1;
        u->freed_ms = now;
        u->purged = false;
    }
    uint32_t run = run_mask(units) << i;
    g->free_mask |= run;
    g->cont_mask &= ~run;
    if (segment_all_free(g))
        return true;
    if (hak_purge_delay_ms() == 0)
        for (unsigned j = 0; j < units; j++)
            slab_release_pages(&g->slabs[i + j]);
    return false;
}

void segment_return_slab(hak_heap *h, hak_slab *s)
{
    slab_segment *g = s->segment;
    if (segment_free_slab(s)) {
        segment_unlink(h, g);
        segment_unmap(g);
    }
}

void segment_purge(hak_heap *h, bool force)
{
    uint64_t now = hak_now_ms();
    for (slab_segment *g = h->segments; g != NULL; g = g->next) {
        for (uint32_t m = g->free_mask; m != 0; m &= m - 1) {
            hak_slab *s = &g->slabs[__builtin_ctz(m)];
            if (!s->purged && (force || now - s->freed_ms >= hak_purge_delay_ms()))
                slab_release_pages(s);
        }
    }
}

// ------------------------------------------------------------ abandoned

void segment_push_abandoned(slab_segment *g)
{
    hak_stat_count(HAK_STAT_SEGMENTS_ABANDONED, 1);
    abandoned_lock_take();
    g->owner = NULL;
    g->prev = NULL;
    g->next = abandoned;
    /* Stored atomically, though under the lock: segment_pop_abandoned peeks
     * at the list head without it. */
    __atomic_store_n(&abandoned, g, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&abandoned_lock);
}

slab_segment *segment_pop_abandoned(void)
{
    if (__atomic_load_n(&abandoned, __ATOMIC_RELAXED) == NULL)
        return NULL;
    abandoned_lock_take();
    slab_segment *g = abandoned;
    if (g != NULL)
        __atomic_store_n(&abandoned, g->next, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&abandoned_lock);
    return g;
}

void slab_lock(void) { pthread_mutex_lock(&abandoned_lock); }
void slab_unlock(void) { pthread_mutex_unlock(&abandoned_lock); }
void slab_reset_after_fork(void) { pthread_mutex_init(&abandoned_lock, NULL); }
