#include "shared_pool.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "../check.h"
#include "../meta.h"
#include "../os.h"
#include "../registry.h"
#include "../stats/stats.h"

#define SPOOL_CLASSES (HAK_CLASS_COUNT - HAK_MID_FIRST)
#define MID_CACHE_BYTES ((size_t)64 << 10)
#define POOL_CACHE_BYTES ((size_t)256 << 10)
#define NEAR_MID_CACHE_BYTES ((size_t)1 << 20) /* 8-64 KiB: programs keep many in flight */
#define CACHE_MAX_BLOCKS 32u
#define SPOOL_SHARDS 16

typedef struct spool_class {
    pthread_mutex_t lock;
    spool_slab *partial; /* slabs with free or never-used blocks */
    bool had_slabs;      /* the purge skips the shards a class never used */
} __attribute__((aligned(64))) spool_class;

/* Each class is split into shards, each with its own lock and slabs; a
 * thread refills from one shard (threads take them in turn), and a block
 * goes back to its slab's shard.  Up to SPOOL_SHARDS threads then never
 * share a class lock on their own blocks: with one lock per class, 16
 * threads on 2 cores found it held on 11% of acquisitions, as a holder
 * preempted mid-refill stalls every thread of the class. */
static spool_class classes[SPOOL_SHARDS][SPOOL_CLASSES] = {
    [0 ... SPOOL_SHARDS - 1] = {[0 ... SPOOL_CLASSES - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER}},
};
static unsigned shard_next;
static __thread unsigned thread_shard_plus1 __attribute__((tls_model("initial-exec")));

static unsigned thread_shard(void)
{
    if (thread_shard_plus1 == 0)
        thread_shard_plus1 =
            __atomic_fetch_add(&shard_next, 1, __ATOMIC_RELAXED) % SPOOL_SHARDS + 1;
    return thread_shard_plus1 - 1;
}

static spool_class *class_of(unsigned shard, unsigned cls)
{
    return &classes[shard][cls - HAK_MID_FIRST];
}

// ------------------------------------------------------------ slabs
/* A class lock guards the class's list and its slabs' free lists only: a
 * slab is made and released outside it, because the OS layer, the metadata
 * arena and the registry take locks of their own, and a thread preempted
 * inside one of those while holding a class lock stalls every thread of the
 * class (at 8 threads on 2 cores, 12% of acquisitions found the lock held). */

/* Classes up to 8 KiB take 64 KiB slabs (eight blocks or more), larger
 * ones 2 MiB: a class used a few times costs little address space, a busy
 * one few slab changes. */
static enum hak_span_kind slab_span(unsigned cls)
{
    return hak_class_size[cls] <= (8u << 10) ? HAK_SPAN_UNIT : HAK_SPAN_CHUNK;
}

/* A new slab for class cls in shard `shard`, not yet on its list. */
static spool_slab *slab_new(unsigned cls, unsigned shard)
{
    bool zeroed;
    enum hak_span_kind kind = slab_span(cls);
    size_t span = hak_span_size(kind);
    char *chunk = hak_span_alloc(kind, &zeroed);
    if (chunk == NULL)
        return NULL;
    spool_slab *s = hak_meta_alloc(sizeof(spool_slab));
    if (s == NULL || hak_reg_set(chunk, span, s, HAK_KIND_SPOOL) != 0) {
        if (s != NULL)
            hak_meta_free(s, sizeof(spool_slab));
        hak_span_free(kind, chunk, false);
        errno = ENOMEM;
        return NULL;
    }
    s->start = chunk;
    s->zeroed = zeroed;
    s->span_kind = (uint8_t)kind;
    s->block_size = hak_class_size[cls];
    s->capacity = (uint32_t)(span / s->block_size);
    s->class_idx = (uint16_t)cls;
    s->shard = (uint8_t)shard;
    hak_stat_count_class(cls, HAK_CSTAT_SLABS_NEW, 1);
    return s;
}

/* Releases the empty slabs, chained by next, that slab_give took off their
 * lists.  The OS layer keeps each span warm for the purge delay (idle: the
 * blocks sat unused for it already). */
static void slabs_release(spool_slab *s, bool idle)
{
    while (s != NULL) {
        spool_slab *next = s->next;
        hak_stat_count_class(s->class_idx, HAK_CSTAT_SLABS_RELEASED, 1);
        enum hak_span_kind kind = (enum hak_span_kind)s->span_kind;
        hak_reg_clear(s->start, hak_span_size(kind));
        hak_span_free(kind, s->start, idle);
        hak_meta_free(s, sizeof(spool_slab));
        s = next;
    }
}

// ------------------------------------------------------------ blocks (class lock held)

static void slab_list(spool_class *k, spool_slab *s)
{
    s->listed = true;
    s->prev = NULL;
    s->next = k->partial;
    if (k->partial != NULL)
        k->partial->prev = s;
    k->partial = s;
}

static void slab_unlist(spool_class *k, spool_slab *s)
{
    s->listed = false;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        k->partial = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
}

static bool slab_has_room(const spool_slab *s)
{
    return s->free != NULL || s->clean_count > 0 || s->carved < s->capacity;
}

/* A block whose pages went back to the OS: the lowest, to keep the slab's
 * live blocks together. */
static void *slab_take_clean(spool_slab *s)
{
    unsigned w = 0;
    while (s->clean[w] == 0)
        w++;
    unsigned i = (unsigned)__builtin_ctzll(s->clean[w]);
    s->clean[w] &= s->clean[w] - 1;
    s->clean_count--;
    return s->start + (size_t)(w * 64 + i) * s->block_size;
}

/* One block from the class's slabs: resident free blocks first, then those
 * whose pages were released, never-used memory last, so that pages are
 * faulted in only when the resident blocks run out; NULL when no slab has
 * room.  *zero tells whether the block is known to read as zero. */
static void *slab_take(spool_class *k, bool *zero)
{
    spool_slab *s = k->partial;
    if (s == NULL)
        return NULL;
    void *b = s->free;
    *zero = false;
    if (b != NULL) {
        s->free = *(void **)b;
        if (s->young > 0)
            s->young--; /* the list is a stack: the young blocks are on top */
    } else if (s->clean_count > 0) {
        b = slab_take_clean(s);
    } else {
        *zero = s->zeroed;
        b = s->start + (size_t)s->carved++ * s->block_size;
    }
    s->used++;
    if (!slab_has_room(s))
        slab_unlist(k, s);
    return b;
}

/* n blocks came back to s.  A slab this empties leaves the list for *dead,
 * to be released once the lock is dropped: no block of it is live or cached
 * anywhere, so nothing else reaches it. */
static void slab_returned(spool_class *k, spool_slab *s, uint32_t n, spool_slab **dead)
{
    s->used -= n;
    if (s->used == 0) {
        if (s->listed)
            slab_unlist(k, s);
        s->next = *dead;
        *dead = s;
    } else if (!s->listed) {
        slab_list(k, s);
    }
}

/* The per-slab block bitmaps (clean, purging): bit i is block i. */
static void bit_set(uint64_t *map, unsigned i) { map[i / 64] |= (uint64_t)1 << (i % 64); }
static bool bit_test(const uint64_t *map, unsigned i) { return map[i / 64] >> (i % 64) & 1; }

static unsigned block_index(const spool_slab *s, const void *b)
{
    return (unsigned)(((const char *)b - s->start) / s->block_size);
}

/* The pages of count adjacent blocks of s from the first go back to the OS.
 * With HAKMEM_CHECK each block keeps the page that holds its freed mark (its
 * second word), or a second free of it would go unseen. */
static void release_blocks(const spool_slab *s, unsigned first, unsigned count)
{
    char *b = s->start + (size_t)first * s->block_size;
    if (!hak_check_enabled) {
        hak_os_release_pages(b, (size_t)count * s->block_size);
        return;
    }
    size_t mark = 2 * sizeof(void *);
    for (unsigned i = 0; i < count; i++, b += s->block_size)
        hak_os_release_pages(b + mark, s->block_size - mark);
}

/* Puts b back into its slab s, resident. */
static void slab_give(spool_class *k, spool_slab *s, void *b, spool_slab **dead)
{
    *(void **)b = s->free;
    s->free = b;
    s->young++;
    slab_returned(k, s, 1, dead);
}

/* Puts b, whose pages went back to the OS, back into s. */
static void slab_give_clean(spool_class *k, spool_slab *s, void *b, spool_slab **dead)
{
    bit_set(s->clean, block_index(s, b));
    s->clean_count++;
    slab_returned(k, s, 1, dead);
}

/* Off, the counting costs nothing: a try first would be one more atomic
 * operation on every acquisition. */
void spool_lock(pthread_mutex_t *lock, unsigned cls, bool take)
{
    hak_stat_count_class(cls, take ? HAK_CSTAT_LOCK_ACQUIRE : HAK_CSTAT_LOCK_RELEASE, 1);
    if (!hak_lock_stats_enabled || pthread_mutex_trylock(lock) == 0) {
        if (!hak_lock_stats_enabled)
            pthread_mutex_lock(lock);
        return;
    }
    uint64_t t0 = hak_now_ns();
    pthread_mutex_lock(lock);
    hak_stat_count_class(
        cls, take ? HAK_CSTAT_LOCK_ACQUIRE_CONTENDED : HAK_CSTAT_LOCK_RELEASE_CONTENDED, 1);
    hak_stat_count_class(cls,
                         take ? HAK_CSTAT_LOCK_ACQUIRE_WAIT_NS : HAK_CSTAT_LOCK_RELEASE_WAIT_NS,
                         hak_now_ns() - t0);
}

static void class_lock(spool_class *k, unsigned cls, bool take) { spool_lock(&k->lock, cls, take); }

// ------------------------------------------------------------ thread caches

static uint32_t cache_limit(unsigned cls)
{
    if (hak_purge_delay_ms() == 0)
        return 0; /* memory must go back at once: hold nothing back */
    size_t budget = hak_class_size[cls] <= (8u << 10)    ? MID_CACHE_BYTES
                    : hak_class_size[cls] <= (64u << 10) ? NEAR_MID_CACHE_BYTES
                                                         : POOL_CACHE_BYTES;
    size_t n = budget / hak_class_size[cls];
    return n == 0 ? 1 : n > CACHE_MAX_BLOCKS ? CACHE_MAX_BLOCKS : (uint32_t)n;
}

void spool_cache_init(hak_heap *h)
{
    for (unsigned c = HAK_MID_FIRST; c < HAK_CLASS_COUNT; c++)
        h->spool[c - HAK_MID_FIRST].limit = cache_limit(c);
}

/* Up to n blocks from the slabs of k (lock held): the first returned
 * (*zero: known to read as zero), the others pushed onto cache c; NULL if
 * none of them has room. */
static void *shard_take(spool_class *k, spool_cache *c, uint32_t n, bool *zero)
{
    void *first = slab_take(k, zero);
    bool z;
    void *b;
    for (uint32_t i = 1; first != NULL && i < n && (b = slab_take(k, &z)) != NULL; i++) {
        *(void **)b = c->head;
        c->head = b;
        c->count++;
    }
    return first;
}

/* Blocks from another shard's slabs, when the thread's own have none left:
 * a class used by many threads then fills the slabs it has before it gets
 * another, rather than keep a partly used 2 MiB slab per thread.  Shards
 * whose lock is held are passed over, so no thread waits here. */
static void *other_shards_take(unsigned cls, unsigned own, spool_cache *c, uint32_t n, bool *zero)
{
    for (unsigned i = 1; i < SPOOL_SHARDS; i++) {
        spool_class *k = class_of((own + i) % SPOOL_SHARDS, cls);
        if (!__atomic_load_n(&k->had_slabs, __ATOMIC_RELAXED) ||
            pthread_mutex_trylock(&k->lock) != 0)
            continue;
        hak_stat_count_class(cls, HAK_CSTAT_LOCK_ACQUIRE, 1);
        void *first = shard_take(k, c, n, zero);
        pthread_mutex_unlock(&k->lock);
        if (first != NULL)
            return first;
    }
    return NULL;
}

/* Up to n blocks of class cls: the first returned (*zero: known to read as
 * zero), the others pushed onto cache c.  When no slab has room, a new one
 * is made with the lock dropped.  NULL (errno = ENOMEM) when there is no
 * memory for one. */
static void *class_take(unsigned cls, spool_cache *c, uint32_t n, bool *zero)
{
    unsigned shard = thread_shard();
    hak_stat_count_class(cls, HAK_CSTAT_REFILL, 1);
    if (runs_class(cls))
        return runs_take(shard, cls, c, n, zero);
    spool_class *k = class_of(shard, cls);
    class_lock(k, cls, true);
    void *first = shard_take(k, c, n, zero);
    pthread_mutex_unlock(&k->lock);
    if (first != NULL || (first = other_shards_take(cls, shard, c, n, zero)) != NULL)
        return first;
    spool_slab *s = slab_new(cls, shard);
    if (s == NULL)
        return NULL;
    __atomic_store_n(&k->had_slabs, true, __ATOMIC_RELAXED);
    class_lock(k, cls, true);
    slab_list(k, s);
    first = shard_take(k, c, n, zero); /* not NULL: s has room, listed in this hold */
    pthread_mutex_unlock(&k->lock);
    return first;
}

void *spool_alloc_slow(hak_heap *h, unsigned cls)
{
    if (h == &hak_empty_heap) {
        h = hak_heap_acquire();
        if (h == NULL)
            return NULL;
    }
    hak_heap_count_slow(h);
    spool_cache *c = &h->spool[cls - HAK_MID_FIRST];
    bool zero;
    return class_take(cls, c, c->limit / 2 + 1, &zero); /* one for the caller, the rest cached */
}

/* A cached block is aligned as its class's offsets are: a slab block at a
 * multiple of its size (hak_aligned_class picks the class), a run at a
 * multiple of its unit only, so a run with more alignment is made for it. */
void *spool_alloc_aligned(hak_heap *h, unsigned cls, size_t align)
{
    if (!runs_class(cls) || align <= RUN_UNIT)
        return spool_alloc(h, cls);
    if (h == &hak_empty_heap && hak_heap_acquire() == NULL)
        return NULL;
    hak_stat_count_class(cls, HAK_CSTAT_REFILL, 1);
    return runs_take_aligned(thread_shard(), cls, align);
}

void *spool_alloc_to_grow(hak_heap *h, unsigned cls)
{
    if (!runs_class(cls) || h == &hak_empty_heap)
        return NULL;
    hak_stat_count_class(cls, HAK_CSTAT_REFILL, 1);
    return runs_take_to_grow(thread_shard(), cls);
}

void *spool_calloc(hak_heap *h, unsigned cls, size_t size)
{
    spool_cache *c = &h->spool[cls - HAK_MID_FIRST];
    void *b = c->head;
    bool zero = false;
    if (b != NULL) {
        c->head = *(void **)b;
        c->count--;
    } else if ((b = class_take(cls, c, 1, &zero)) == NULL) {
        return NULL;
    }
    if (!zero)
        memset(b, 0, size);
    return b;
}

/* Returns up to CACHE_MAX_BLOCKS blocks, the first n of list b, to their
 * slabs, and the rest of the list.  The slabs are looked up before any lock
 * is taken, so that a hold is list surgery only; blocks of one shard (the
 * usual case: the thread's own) go back in one hold. */
static void *give_some(unsigned cls, void *b, uint32_t n, bool idle)
{
    spool_slab *slab_of[CACHE_MAX_BLOCKS];
    void *p = b;
    for (uint32_t i = 0; i < n; i++, p = *(void **)p)
        slab_of[i] = hak_reg_meta(hak_reg_lookup(p));
    spool_slab *dead = NULL;
    spool_class *k = NULL;
    for (uint32_t i = 0; i < n; i++) {
        spool_class *own = class_of(slab_of[i]->shard, cls);
        if (own != k) {
            if (k != NULL)
                pthread_mutex_unlock(&k->lock);
            k = own;
            class_lock(k, cls, false);
        }
        void *next = *(void **)b;
        slab_give(k, slab_of[i], b, &dead);
        b = next;
    }
    if (k != NULL)
        pthread_mutex_unlock(&k->lock);
    slabs_release(dead, idle);
    return b;
}

/* Returns the n blocks of list b to their slabs; idle: they have sat unused
 * for the purge delay.  (A cache may hold more than its limit for a while:
 * a refill on a purge tick lands on a cache that is not empty.) */
static void give_list(unsigned cls, void *b, uint32_t n, bool idle)
{
    if (runs_class(cls)) {
        runs_give(b, n, idle);
        return;
    }
    while (n > 0) {
        uint32_t m = n < CACHE_MAX_BLOCKS ? n : CACHE_MAX_BLOCKS;
        b = give_some(cls, b, m, idle);
        n -= m;
    }
}

/* No cache (the thread exits, or never allocated), or no purge delay: the
 * block goes straight back, with its pages at once if there is no delay. */
static void give_one(unsigned cls, void *meta, void *p)
{
    if (runs_class(cls)) {
        runs_give(p, 1, false);
        return;
    }
    spool_slab *s = meta;
    spool_class *k = class_of(s->shard, cls);
    spool_slab *dead = NULL;
    bool at_once = hak_purge_delay_ms() == 0;
    if (at_once)
        release_blocks(s, block_index(s, p), 1);
    class_lock(k, cls, false);
    if (at_once)
        slab_give_clean(k, s, p, &dead);
    else
        slab_give(k, s, p, &dead);
    pthread_mutex_unlock(&k->lock);
    slabs_release(dead, false);
}

void spool_free_slow(hak_heap *h, unsigned cls, void *meta, void *p)
{
    hak_stat_count_class(cls, HAK_CSTAT_FREE, 1);
    spool_cache *c = &h->spool[cls - HAK_MID_FIRST];
    if (c->limit == 0) {
        give_one(cls, meta, p);
        return;
    }
    /* Full: keep half, the most recently freed, and return the rest. */
    uint32_t keep = c->limit / 2;
    void *tail = c->head;
    for (uint32_t i = 1; i < keep; i++)
        tail = *(void **)tail;
    void *rest = keep == 0 ? c->head : *(void **)tail;
    uint32_t n = c->count - keep;
    if (keep == 0)
        c->head = NULL;
    else
        *(void **)tail = NULL;
    c->count = keep;
    give_list(cls, rest, n, false);
    *(void **)p = c->head;
    c->head = p;
    c->count++;
}

void spool_cache_flush(hak_heap *h, bool idle)
{
    for (unsigned c = HAK_MID_FIRST; c < HAK_CLASS_COUNT; c++) {
        spool_cache *sc = &h->spool[c - HAK_MID_FIRST];
        if (sc->count > 0)
            give_list(c, sc->head, sc->count, idle);
        sc->head = NULL;
        sc->count = 0;
        sc->limit = 0;
    }
}

// ------------------------------------------------------------ purging free blocks

_Static_assert(HAK_CHUNK_SIZE / (8192 + 1) < SPOOL_SLAB_MAX_BLOCKS &&
                   (64u << 10) / 1025 < SPOOL_SLAB_MAX_BLOCKS,
               "a slab's blocks must fit its bitmaps");

/* One pass at a time: a slab's purging bitmap belongs to the pass. */
static pthread_mutex_t purge_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_purge_ms;

/* Takes out of s the free blocks that were already free at the last pass
 * (all of them if force) into s->purging; they count as used meanwhile, so
 * the slab cannot be released under the pass.  Class lock held. */
static uint32_t slab_detach_old(spool_class *k, spool_slab *s, bool force)
{
    void **link = &s->free;
    for (uint32_t i = 0; !force && i < s->young && *link != NULL; i++)
        link = (void **)*link;
    uint32_t n = 0;
    for (void *b = *link; b != NULL; b = *(void **)b, n++)
        bit_set(s->purging, block_index(s, b));
    *link = NULL;
    s->young = 0; /* what is left is old at the next pass */
    s->used += n;
    if (!slab_has_room(s))
        slab_unlist(k, s);
    return n;
}

/* madvise over each run of adjacent blocks in s->purging: the pages two
 * neighbours share go too, and one call serves the run. */
static void slab_release_purging(spool_slab *s)
{
    unsigned i = 0;
    while (i < s->capacity) {
        if (!bit_test(s->purging, i)) {
            i++;
            continue;
        }
        unsigned end = i + 1;
        while (end < s->capacity && bit_test(s->purging, end))
            end++;
        release_blocks(s, i, end - i);
        i = end;
    }
}

/* The purged blocks rejoin s as clean.  Class lock held; a slab that is
 * now entirely free goes on *dead. */
static void slab_attach_clean(spool_class *k, spool_slab *s, spool_slab **dead)
{
    uint32_t n = 0;
    for (unsigned w = 0; w < SPOOL_BITMAP_WORDS; w++) {
        n += (uint32_t)__builtin_popcountll(s->purging[w]);
        s->clean[w] |= s->purging[w];
        s->purging[w] = 0;
    }
    s->clean_count += n;
    slab_returned(k, s, n, dead);
}

/* One shard of one class: the old blocks of all its slabs are taken out in
 * one hold of the lock, released with it dropped, and put back in a second
 * hold, so that threads refilling from the shard wait for list surgery
 * only, never for a system call. */
static uint64_t class_purge(spool_class *k, unsigned cls, bool force)
{
    spool_slab *taken = NULL;
    uint64_t blocks = 0;
    class_lock(k, cls, false);
    for (spool_slab *s = k->partial, *next; s != NULL; s = next) {
        next = s->next; /* s may leave the list */
        uint32_t n = slab_detach_old(k, s, force);
        if (n > 0) {
            s->purge_next = taken;
            taken = s;
            blocks += n;
        }
    }
    pthread_mutex_unlock(&k->lock);
    if (taken == NULL)
        return 0;
    for (spool_slab *s = taken; s != NULL; s = s->purge_next)
        slab_release_purging(s);
    spool_slab *dead = NULL;
    class_lock(k, cls, false);
    for (spool_slab *s = taken; s != NULL; s = s->purge_next)
        slab_attach_clean(k, s, &dead);
    pthread_mutex_unlock(&k->lock);
    slabs_release(dead, true);
    return blocks;
}

void spool_purge(bool force)
{
    if (force)
        pthread_mutex_lock(&purge_lock);
    else if (pthread_mutex_trylock(&purge_lock) != 0)
        return; /* another thread is at it */
    uint64_t now = hak_now_ms();
    if (force || now - last_purge_ms >= hak_purge_delay_ms()) {
        last_purge_ms = now;
        bool all = force || hak_purge_delay_ms() == 0;
        uint64_t blocks = 0;
        for (unsigned shard = 0; shard < SPOOL_SHARDS; shard++)
            for (unsigned cls = HAK_MID_FIRST; cls < HAK_RUNS_FIRST; cls++)
                if (__atomic_load_n(&class_of(shard, cls)->had_slabs, __ATOMIC_RELAXED))
                    blocks += class_purge(class_of(shard, cls), cls, all);
        hak_stat_count(HAK_STAT_POOL_PURGED_BLOCKS, blocks);
        runs_purge(all);
    }
    pthread_mutex_unlock(&purge_lock);
}

// ------------------------------------------------------------ fork

void spool_lock_all(void)
{
    pthread_mutex_lock(&purge_lock);
    for (unsigned i = 0; i < SPOOL_SHARDS * SPOOL_CLASSES; i++)
        pthread_mutex_lock(&classes[i / SPOOL_CLASSES][i % SPOOL_CLASSES].lock);
    runs_lock_all();
}

void spool_unlock_all(void)
{
    runs_unlock_all();
    for (unsigned i = SPOOL_SHARDS * SPOOL_CLASSES; i-- > 0;)
        pthread_mutex_unlock(&classes[i / SPOOL_CLASSES][i % SPOOL_CLASSES].lock);
    pthread_mutex_unlock(&purge_lock);
}

void spool_reset_after_fork(void)
{
    for (unsigned i = 0; i < SPOOL_SHARDS * SPOOL_CLASSES; i++)
        pthread_mutex_init(&classes[i / SPOOL_CLASSES][i % SPOOL_CLASSES].lock, NULL);
    pthread_mutex_init(&purge_lock, NULL);
    runs_reset_after_fork();
}
