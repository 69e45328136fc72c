/*
 * The hak_* entry points: route each request by size to a tier, and each
 * pointer by the registry to its owner.
 */
#include "alloc.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "hakmem.h"
#include "check.h"
#include "env/env.h"
#include "init.h"
#include "large.h"
#include "mid/shared_pool.h"
#include "prof/prof.h"
#include "registry.h"
#include "size_class.h"
#include "stats/count.h"
#include "slab/slab.h"

// ------------------------------------------------------------ routing

/* Set once at initialisation from the env table. */
static unsigned slab_limit = HAK_TINY_CLASSES; /* classes below it: the slab engine */
static bool l2_to_next;                        /* HAKMEM_WRAP_L2=0 */

bool hak_alloc_tracking;
static bool free_tracking; /* HAKMEM_CHECK or profiling: free looks first */

void hak_alloc_configure(void)
{
    slab_limit = hak_env.mf2_enable ? HAK_SLAB_CLASSES : HAK_TINY_CLASSES;
    l2_to_next = !hak_env.wrap_l2;
    hak_alloc_tracking = hak_stats_enabled || hak_check_enabled;
    free_tracking = hak_check_enabled || hak_prof_enabled;
}

HAK_ENTRY void *hak_track_alloc_then(void *p, unsigned cls, size_t size)
{
    hak_heap *h = hak_tls_heap;
    if (hak_stats_enabled)
        hak_stat_alloc(h, cls, size);
    if (hak_check_enabled)
        hak_check_clear(p);
    if (hak_prof_enabled)
        hak_prof_after_alloc(h, p, size);
    else
        h->track_left = hak_alloc_tracking ? -1 : HAK_HEAP_TICK_BYTES;
    /* The heartbeat (thread.h): per allocation when every one comes here,
     * else once per HAK_HEAP_TICK_BYTES or profiler sample. */
    if (h == &hak_empty_heap)
        return p;
    if (hak_alloc_tracking) {
        h->tick_bytes_left -= (int64_t)size;
        if (h->ticks > 1 && h->tick_bytes_left >= 0) {
            h->ticks--;
            return p;
        }
    }
    hak_heap_tick(h);
    return p;
}

/* Every allocation ends here: one subtraction and one compare on the
 * thread's own counter decide whether it needs tracking (thread.h).  When
 * every allocation is tracked the counter sits at -1, not 0: a malloc(0)
 * subtracts nothing, and HAKMEM_CHECK must still clear the freed mark of
 * the block it gets, or its free reads as a double free. */
static inline void *alloc_done(hak_heap *h, void *p, unsigned cls, size_t size)
{
    h->track_left -= (int64_t)size;
    if (__builtin_expect(h->track_left < 0, 0))
        return hak_track_alloc_then(p, cls, size);
    return p;
}

/* Mid and pool sizes: what HAKMEM_WRAP_L2=0 hands to the next allocator. */
static bool is_l2(size_t size) { return size > HAK_TINY_MAX && size <= HAK_POOL_MAX; }

static inline void *alloc_class(unsigned cls)
{
    hak_heap *h = hak_tls_heap;
    if (cls < slab_limit)
        return slab_alloc(h, cls);
    return spool_alloc(h, cls);
}

/* Tiers fail with NULL both when memory is exhausted and when hakmem is
 * still initialising on this thread; only the first is an error. */
static __attribute__((noinline)) void *alloc_failed(size_t size, size_t align)
{
    if (hak_bootstrapping()) {
        void *p = hak_bootstrap_alloc(size, align);
        if (p != NULL)
            return p;
    }
    errno = ENOMEM;
    return NULL;
}

HAK_ENTRY static __attribute__((noinline)) void *alloc_large(size_t size, size_t align, bool zero)
{
    if (!hak_init())
        return alloc_failed(size, align);
    void *p = large_alloc(size, align, zero);
    hak_heap *h = hak_tls_heap;
    if (p == NULL)
        return alloc_failed(size, align);
    if (h != &hak_empty_heap) {
        hak_heap_tick(h);
        /* Counted by large.c itself; only the profiler looks here. */
        h->track_left -= (int64_t)size;
        if (h->track_left < 0 && hak_prof_enabled)
            hak_prof_after_alloc(h, p, size);
    }
    return p;
}

HAK_ENTRY static inline void *alloc_aligned(size_t align, size_t size)
{
    if (align <= 16)
        return hak_malloc(size);
    /* hak_init first: l2_to_next is only set by it (a thread racing
     * another's initialisation would read the default). */
    if (is_l2(size) && hak_init() && l2_to_next) {
        void *p = hak_next_memalign(align, size);
        if (p != NULL || errno != EAGAIN)
            return p;
    }
    if (size <= HAK_POOL_MAX && align <= HAK_POOL_MAX) {
        unsigned cls = hak_aligned_class(size, align);
        /* An MF2 page's blocks are only page-aligned in the SuperSlab's
         * first slab (its header comes first): the shared pool's are not. */
        bool pool = cls >= HAK_TINY_CLASSES && align > HAK_PAGE_SIZE;
        void *p = pool ? spool_alloc_aligned(hak_tls_heap, cls, align) : alloc_class(cls);
        if (p == NULL)
            return alloc_failed(size, align);
        return alloc_done(hak_tls_heap, p, cls, size);
    }
    return alloc_large(size, align, false);
}

static bool valid_alignment(size_t align) { return align != 0 && (align & (align - 1)) == 0; }

// ------------------------------------------------------------ malloc / free

/* A miss of the fast paths, or a size WRAP_L2=0 hands on.  The heap (and
 * with it the configuration) is set up first, so even the very first
 * request goes where the environment says. */
HAK_ENTRY static __attribute__((noinline)) void *malloc_slow(unsigned cls, size_t size)
{
    if (hak_tls_heap == &hak_empty_heap && hak_heap_acquire() == NULL)
        return alloc_failed(size, 16);
    if (l2_to_next && is_l2(size)) {
        void *p = hak_next_malloc(size);
        if (p != NULL || errno != EAGAIN)
            return p;
    }
    if (size > HAK_TINY_MAX)
        cls = hak_size_to_class(size); /* the fast path's guess may predate the configuration */
    void *p = alloc_class(cls);
    if (p == NULL)
        return alloc_failed(size, 16);
    return alloc_done(hak_tls_heap, p, cls, size);
}

/* Every exit is a return or a tail call, so the fast path saves no
 * registers and sets up no frame. */
HAK_API HAK_ENTRY void *hak_malloc(size_t size)
{
    if (__builtin_expect(size <= HAK_POOL_MAX, 1)) {
        /* The fast paths alone; NULL sends the request to malloc_slow. */
        hak_heap *h = hak_tls_heap;
        unsigned cls;
        void *p;
        if (size <= HAK_TINY_MAX) {
            cls = hak_tiny_class_of[(size + 15) >> 4];
            p = slab_alloc_fast(h, cls);
        } else if (__builtin_expect(l2_to_next, 0)) {
            return malloc_slow(0, size);
        } else {
            cls = hak_size_to_class(size);
            p = cls < slab_limit ? slab_alloc_fast(h, cls) : spool_alloc_fast(h, cls);
        }
        if (__builtin_expect(p == NULL, 0))
            return malloc_slow(cls, size);
        return alloc_done(h, p, cls, size); /* h is real: the empty heap's lists are empty */
    }
    return alloc_large(size, 16, false);
}

static __attribute__((noinline)) void free_other(hak_reg_entry e, void *p)
{
    if (hak_reg_kind(e) == HAK_KIND_LARGE) {
        large_header *h = large_header_of(hak_reg_meta(e), p);
        if (h != NULL) {
            large_free(h);
            if (hak_tls_heap != &hak_empty_heap)
                hak_heap_tick(hak_tls_heap);
            return;
        }
    }
    if (p == NULL || hak_bootstrap_owns(p))
        return;
    hak_foreign_free(p);
}

static inline void free_to_owner(hak_reg_entry e, void *p)
{
    if (__builtin_expect(hak_reg_kind(e) == HAK_KIND_SLAB, 1)) {
        slab_free(hak_reg_meta(e), p);
        return;
    }
    if (hak_reg_kind(e) == HAK_KIND_SPOOL) {
        spool_free(hak_reg_meta(e), p);
        return;
    }
    if (hak_reg_kind(e) == HAK_KIND_RUNS) {
        spool_free_run(hak_reg_meta(e), p);
        return;
    }
    free_other(e, p);
}

/* HAKMEM_CHECK's look at the pointer, and the profiler's. */
static __attribute__((noinline)) void free_tracked(hak_reg_entry e, void *p)
{
    if (hak_check_enabled)
        hak_check_free(e, p);
    if (hak_prof_enabled && hak_reg_kind(e) != HAK_KIND_NONE)
        hak_prof_free(p);
    free_to_owner(e, p);
}

/* The tracking is a tail call, so the fast path keeps no frame; with only
 * the profiler on, a block that was not sampled is known from one load. */
HAK_API HAK_ENTRY void hak_free(void *p)
{
    hak_reg_entry e = hak_reg_lookup(p);
    if (__builtin_expect(free_tracking, 0) && (hak_check_enabled || hak_prof_may_be_sampled(p)))
        return free_tracked(e, p);
    free_to_owner(e, p);
}

HAK_API HAK_ENTRY size_t hak_malloc_usable_size(void *p)
{
    hak_reg_entry e = hak_reg_lookup(p);
    switch (hak_reg_kind(e)) {
    case HAK_KIND_SLAB:
        return ((hak_slab *)hak_reg_meta(e))->block_size;
    case HAK_KIND_SPOOL:
        return ((spool_slab *)hak_reg_meta(e))->block_size;
    case HAK_KIND_RUNS:
        return runs_block_size(hak_reg_meta(e), p);
    case HAK_KIND_LARGE: {
        large_header *h = large_header_of(hak_reg_meta(e), p);
        if (h != NULL)
            return h->usable;
        break;
    }
    }
    if (p == NULL)
        return 0;
    if (hak_bootstrap_owns(p))
        return hak_bootstrap_usable(p);
    return hak_foreign_usable_size(p);
}

HAK_API HAK_ENTRY int hak_owns(const void *p)
{
    hak_reg_entry e = hak_reg_lookup(p);
    if (hak_reg_kind(e) == HAK_KIND_LARGE)
        return large_header_of(hak_reg_meta(e), p) != NULL;
    return hak_reg_kind(e) != HAK_KIND_NONE;
}

// ------------------------------------------------------------ calloc / realloc

HAK_API HAK_ENTRY void *hak_calloc(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > HAK_POOL_MAX)
        return alloc_large(total, 16, true); /* fresh mappings are already zero */
    if (is_l2(total) && hak_init() && l2_to_next) {
        void *p = hak_next_calloc(total);
        if (p != NULL || errno != EAGAIN)
            return p;
    }
    unsigned cls = hak_size_to_class_fast(total);
    hak_heap *h = hak_tls_heap;
    if (cls >= slab_limit && h != &hak_empty_heap) {
        void *p = spool_calloc(h, cls, total);
        if (p == NULL)
            return alloc_failed(total, 16);
        return alloc_done(hak_tls_heap, p, cls, total);
    }
    void *p = hak_malloc(total);
    if (p != NULL)
        memset(p, 0, total);
    return p;
}

/* Where a growing block moves: a page run with room to grow after it when
 * there is one (it is likely to grow again), else wherever malloc puts it. */
static void *realloc_target(size_t old_size, size_t size)
{
    if (size > old_size && size > hak_class_size[HAK_RUNS_FIRST - 1] && size <= HAK_POOL_MAX &&
        !l2_to_next) {
        unsigned cls = hak_size_to_class(size);
        hak_heap *h = hak_tls_heap;
        void *q = spool_alloc_to_grow(h, cls);
        if (q != NULL)
            return alloc_done(h, q, cls, size);
    }
    return hak_malloc(size);
}

/* A block in a different place: copy what fits, free the old one. */
HAK_ENTRY static void *realloc_move(void *p, size_t old_size, size_t size)
{
    void *q = realloc_target(old_size, size);
    if (q == NULL)
        return NULL;
    hak_stat_count(HAK_STAT_REALLOC_MOVED, 1);
    memcpy(q, p, old_size < size ? old_size : size);
    hak_free(p);
    return q;
}

/* Staying in place is right when the block is big enough and a smaller
 * class would not save at least half of it. */
static bool fits_in_place(size_t usable, size_t size)
{
    return size <= usable && (size > usable / 2 || usable <= 64);
}

/* A large block stays a mapping unless it shrinks to a mid size: moving it
 * into the pool would copy (and fault in) up to 1 MiB, where trimming the
 * mapping costs at most one munmap.  With HAKMEM_WRAP_L2=0 a pool size
 * moves to the next allocator like any other. */
HAK_ENTRY static void *realloc_large(large_header *h, void *p, size_t size)
{
    if (size > HAK_POOL_MAX || (size > HAK_MID_MAX && !l2_to_next)) {
        void *q = large_realloc(h, size);
        if (q == NULL)
            errno = ENOMEM;
        else
            hak_stat_count(q == p ? HAK_STAT_REALLOC_IN_PLACE : HAK_STAT_REALLOC_MOVED, 1);
        if (q != NULL && q != p && hak_prof_enabled)
            hak_prof_free(p); /* its pages moved under q: p is gone */
        return q;
    }
    return realloc_move(p, h->usable, size);
}

HAK_API HAK_ENTRY void *hak_realloc(void *p, size_t size)
{
    if (p == NULL)
        return hak_malloc(size);
    if (size == 0) { /* as glibc: free, and return NULL */
        hak_free(p);
        return NULL;
    }
    hak_reg_entry e = hak_reg_lookup(p);
    if (hak_reg_kind(e) == HAK_KIND_LARGE) {
        large_header *h = large_header_of(hak_reg_meta(e), p);
        if (h != NULL)
            return realloc_large(h, p, size);
    }
    if (hak_reg_kind(e) == HAK_KIND_RUNS && !(l2_to_next && is_l2(size)) &&
        runs_resize(hak_reg_meta(e), p, size)) {
        hak_stat_count(HAK_STAT_REALLOC_IN_PLACE, 1);
        return p;
    }
    size_t usable = hak_malloc_usable_size(p);
    bool stays = fits_in_place(usable, size) && !(l2_to_next && is_l2(size));
    if (hak_reg_kind(e) != HAK_KIND_NONE && stays) {
        hak_stat_count(HAK_STAT_REALLOC_IN_PLACE, 1);
        return p;
    }
    if (hak_reg_kind(e) != HAK_KIND_NONE || hak_bootstrap_owns(p))
        return realloc_move(p, usable, size);
    if (l2_to_next && is_l2(size)) { /* the next allocator's block stays its own */
        void *q = hak_next_realloc(p, size);
        if (q != NULL || errno != EAGAIN)
            return q;
    }
    /* Foreign: move it into hakmem and let the next allocator free it. */
    void *q = hak_malloc(size);
    if (q != NULL) {
        memcpy(q, p, usable < size ? usable : size);
        hak_foreign_free(p);
    }
    return q;
}

HAK_API HAK_ENTRY void *hak_reallocarray(void *p, size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_realloc(p, total);
}

// ------------------------------------------------------------ aligned

HAK_API HAK_ENTRY int hak_posix_memalign(void **out, size_t align, size_t size)
{
    if (!valid_alignment(align) || align % sizeof(void *) != 0)
        return EINVAL;
    int saved = errno; /* posix_memalign reports through its result only */
    void *p = alloc_aligned(align, size);
    errno = saved;
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

HAK_API HAK_ENTRY void *hak_aligned_alloc(size_t align, size_t size)
{
    if (!valid_alignment(align)) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned(align, size);
}

HAK_API HAK_ENTRY void *hak_memalign(size_t align, size_t size)
{
    return hak_aligned_alloc(align, size);
}

HAK_API HAK_ENTRY void *hak_valloc(size_t size) { return alloc_aligned(HAK_PAGE_SIZE, size); }

HAK_API HAK_ENTRY void *hak_pvalloc(size_t size)
{
    size_t rounded;
    if (__builtin_add_overflow(size, HAK_PAGE_SIZE - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    rounded &= ~(HAK_PAGE_SIZE - 1);
    return alloc_aligned(HAK_PAGE_SIZE, rounded == 0 ? HAK_PAGE_SIZE : rounded);
}

// ------------------------------------------------------------ maintenance

HAK_API HAK_ENTRY void hak_purge(void)
{
    if (!hak_init())
        return;
    hak_heap *h = hak_heap_acquire();
    if (h != NULL) {
        hak_heap_purge(h, true);
        return;
    }
    spool_purge(true);
    large_purge(true);
    hak_os_purge(true);
}
