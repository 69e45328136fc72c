#include "large.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "env/env.h"
#include "os.h"
#include "registry.h"
#include "stats/stats.h"

#define HEADER_ROOM ((size_t)64) /* header before the block; keeps blocks 64-byte aligned */
#define CACHE_SLOTS 16

typedef struct cached_map {
    char *base;
    size_t size;
    uint64_t freed_ms;
} cached_map;

static pthread_mutex_t large_mutex = PTHREAD_MUTEX_INITIALIZER;
static cached_map cache[CACHE_SLOTS];
static unsigned cache_count;
static size_t cache_bytes;

static void large_lock_take(void)
{
    hak_lock_counted(&large_mutex, HAK_STAT_LARGE_LOCK_ACQUIRE, HAK_STAT_LARGE_LOCK_CONTENDED);
}

static size_t page_round(size_t n) { return (n + HAK_PAGE_SIZE - 1) & ~(HAK_PAGE_SIZE - 1); }

/* The mapping a block of `size` bytes aligned to `align` needs: room to put
 * a unit boundary (or an `align` boundary) where we want it, the header
 * room, and at least one whole unit after the block start so the block's
 * registry unit is ours alone.  0 on overflow. */
static size_t map_size_for(size_t size, size_t align)
{
    size_t slack = align > HAK_UNIT_SIZE ? align : HAK_UNIT_SIZE;
    size_t offset = align > HEADER_ROOM ? align : HEADER_ROOM;
    size_t body = size > HAK_UNIT_SIZE ? size : HAK_UNIT_SIZE;
    if (body > SIZE_MAX / 2 - slack - offset)
        return 0;
    return page_round(slack + offset + body);
}

static void *unit_of(const char *p)
{
    return (void *)((uintptr_t)p & ~(uintptr_t)(HAK_UNIT_SIZE - 1));
}

static bool register_block(large_header *h)
{
    return hak_reg_set(unit_of(h->user), HAK_UNIT_SIZE, h, HAK_KIND_LARGE) == 0;
}

static void unregister(large_header *h) { hak_reg_clear(unit_of(h->user), HAK_UNIT_SIZE); }

/* Lays out a block in [base, base + map_size) and registers it. */
static void *place(char *base, size_t map_size, size_t align)
{
    size_t boundary = align > HAK_UNIT_SIZE ? align : HAK_UNIT_SIZE;
    size_t offset = align > HEADER_ROOM ? align : HEADER_ROOM;
    char *unit = (char *)(((uintptr_t)base + boundary - 1) & ~(uintptr_t)(boundary - 1));
    char *user = unit + offset;
    large_header *h = (large_header *)(user - HEADER_ROOM);
    h->map_base = base;
    h->map_size = map_size;
    h->user = user;
    h->usable = (size_t)(base + map_size - user);
    return register_block(h) ? user : NULL;
}

// ------------------------------------------------------------ cache (lock held)

/* cache_count changes under the lock but is stored atomically: large_purge
 * peeks at it without the lock. */
static void cache_set_count(unsigned n) { __atomic_store_n(&cache_count, n, __ATOMIC_RELAXED); }

static void cache_remove(unsigned i)
{
    cache_bytes -= cache[i].size;
    cache[i] = cache[cache_count - 1];
    cache_set_count(cache_count - 1);
}

static void cache_drop(unsigned i)
{
    hak_os_unmap(cache[i].base, cache[i].size);
    cache_remove(i);
}

/* A cached mapping of at least `need` bytes and at most twice that. */
static char *cache_take(size_t need, size_t *size)
{
    unsigned best = CACHE_SLOTS;
    for (unsigned i = 0; i < cache_count; i++)
        if (cache[i].size >= need && cache[i].size / 2 <= need &&
            (best == CACHE_SLOTS || cache[i].size < cache[best].size))
            best = i;
    if (best == CACHE_SLOTS)
        return NULL;
    char *base = cache[best].base;
    *size = cache[best].size;
    cache_remove(best);
    return base;
}

static bool cache_put(char *base, size_t size)
{
    size_t limit = (size_t)hak_env.large_cache;
    if (size > limit)
        return false;
    while (cache_count == CACHE_SLOTS || cache_bytes + size > limit) {
        unsigned oldest = 0;
        for (unsigned i = 1; i < cache_count; i++)
            if (cache[i].freed_ms < cache[oldest].freed_ms)
                oldest = i;
        cache_drop(oldest);
    }
    cache[cache_count] = (cached_map){base, size, hak_now_ms()};
    cache_set_count(cache_count + 1);
    cache_bytes += size;
    return true;
}

static void purge_locked(bool force)
{
    uint64_t now = hak_now_ms();
    for (unsigned i = cache_count; i-- > 0;)
        if (force || now - cache[i].freed_ms >= hak_purge_delay_ms())
            cache_drop(i);
}

void large_purge(bool force)
{
    if (!force && __atomic_load_n(&cache_count, __ATOMIC_RELAXED) == 0)
        return;
    large_lock_take();
    purge_locked(force);
    pthread_mutex_unlock(&large_mutex);
}

// ------------------------------------------------------------ blocks

void *large_alloc(size_t size, size_t align, bool zero)
{
    size_t map_size = map_size_for(size, align);
    if (map_size == 0) {
        errno = ENOMEM;
        return NULL;
    }
    char *base = NULL;
    /* A zeroed block comes from a fresh mapping: its pages are zero and
     * fault in only when touched, where clearing a cached one would touch
     * every page now. */
    if (align <= HEADER_ROOM && !zero) {
        large_lock_take();
        purge_locked(false);
        base = cache_take(map_size, &map_size);
        pthread_mutex_unlock(&large_mutex);
    }
    if (base != NULL)
        hak_stat_count(HAK_STAT_LARGE_CACHE_HITS, 1);
    else if ((base = hak_os_map(map_size)) == NULL)
        return NULL;
    char *user = place(base, map_size, align);
    if (user == NULL) {
        hak_os_unmap(base, map_size);
        errno = ENOMEM;
        return NULL;
    }
    hak_stat_count(HAK_STAT_LARGE_ALLOC, 1);
    hak_stat_count(HAK_STAT_LARGE_BYTES_REQUESTED, size);
    hak_stat_count(HAK_STAT_LARGE_BYTES_ALLOCATED, ((large_header *)(user - HEADER_ROOM))->usable);
    hak_stat_request(size);
    return user;
}

void large_free(large_header *h)
{
    hak_stat_count(HAK_STAT_LARGE_FREE, 1);
    char *base = h->map_base;
    size_t size = h->map_size;
    unregister(h);
    large_lock_take();
    bool kept = cache_put(base, size);
    purge_locked(false);
    pthread_mutex_unlock(&large_mutex);
    if (!kept)
        hak_os_unmap(base, size);
}

large_header *large_header_of(void *meta, const void *p)
{
    large_header *h = meta;
    return h->user == p ? h : NULL;
}

static void *large_shrink(large_header *h, size_t size)
{
    /* The block's registry unit must stay inside the mapping. */
    char *unit_end = (char *)unit_of(h->user) + HAK_UNIT_SIZE;
    char *keep_end = (char *)page_round((uintptr_t)h->user + size);
    if (keep_end < unit_end)
        keep_end = unit_end;
    char *map_end = h->map_base + h->map_size;
    if (map_end - keep_end >= (ptrdiff_t)HAK_CHUNK_SIZE) { /* worth a system call */
        hak_os_unmap(keep_end, (size_t)(map_end - keep_end));
        h->map_size = (size_t)(keep_end - h->map_base);
        h->usable = (size_t)(keep_end - h->user);
    }
    hak_stat_count(HAK_STAT_LARGE_RESIZED_IN_PLACE, 1);
    return h->user;
}

/* A new block, with the old one's pages moved under it by mremap when both
 * sit at the same offset in their pages (always, for unaligned blocks), so
 * that nothing is copied; otherwise copied. */
static void *large_move(large_header *h, size_t size)
{
    char *np = large_alloc(size, HEADER_ROOM, false);
    if (np == NULL)
        return NULL;
    large_header old = *h;
    if ((((uintptr_t)old.user ^ (uintptr_t)np) & (HAK_PAGE_SIZE - 1)) == 0) {
        char *src = (char *)((uintptr_t)old.user & ~(uintptr_t)(HAK_PAGE_SIZE - 1));
        char *dst = (char *)((uintptr_t)np & ~(uintptr_t)(HAK_PAGE_SIZE - 1));
        size_t len = (size_t)(old.map_base + old.map_size - src);
        large_header fresh = *(large_header *)(np - HEADER_ROOM);
        unregister(h);
        if (hak_os_move_pages(src, len, dst)) {
            *(large_header *)(np - HEADER_ROOM) = fresh; /* the move brought the old header's page */
            if (src > old.map_base)
                hak_os_unmap(old.map_base, (size_t)(src - old.map_base));
            hak_stat_count(HAK_STAT_LARGE_FREE, 1); /* the old block, now part of the new */
            hak_stat_count(HAK_STAT_LARGE_MOVED, 1);
            return np;
        }
        register_block(h); /* the move failed and left everything where it was */
    }
    memcpy(np, old.user, old.usable);
    large_free(h);
    return np;
}

void *large_realloc(large_header *h, size_t size)
{
    if (size <= h->usable)
        return large_shrink(h, size);
    size_t grown = page_round((size_t)(h->user - h->map_base) + size);
    if (grown > h->map_size && hak_os_grow_in_place(h->map_base, h->map_size, grown)) {
        hak_stat_count(HAK_STAT_LARGE_RESIZED_IN_PLACE, 1);
        h->map_size = grown;
        h->usable = (size_t)(h->map_base + grown - h->user);
        return h->user;
    }
    return large_move(h, size);
}

void large_lock(void) { pthread_mutex_lock(&large_mutex); }
void large_unlock(void) { pthread_mutex_unlock(&large_mutex); }
void large_reset_after_fork(void) { pthread_mutex_init(&large_mutex, NULL); }
