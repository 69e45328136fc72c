#include "runs.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "../meta.h"
#include "../registry.h"
#include "../stats/stats.h"
#include "shared_pool.h"

#define RUN_SHARDS 16
#define RUN_CLASSES (HAK_CLASS_COUNT - HAK_RUNS_FIRST)
#define RUN_HINTS 8
#define ALL_UNITS (~(uint64_t)0)

_Static_assert(HAK_POOL_MAX / RUN_UNIT <= UINT8_MAX, "a run's length must fit its byte");
_Static_assert(RUN_UNITS % 64 == 0, "the bitmaps are whole words");

typedef struct run_hint {
    run_chunk *chunk;
    unsigned unit;
} run_hint;

typedef struct run_shard {
    pthread_mutex_t lock;
    run_chunk *chunks; /* those with free units, the most recently made first */
    /* One entirely free chunk stays (listed), so that a run freed and taken
     * again at a chunk's edge does not map and release a chunk each time
     * (a realloc chain did 650 a second); the purge releases it once its
     * pages are gone. */
    run_chunk *spare;
    bool had_chunks; /* other shards' refills and the purge skip the rest */
    /* Per class, where runs of it were freed last, newest on top: a run
     * taken there is an exact fit with resident pages, found without a
     * search (a random mix of 33-400 KiB blocks spent 30% of its allocator
     * time in the bitmap search).  A hint is checked when used: its units
     * may have been taken or merged since. */
    uint8_t hint_count[RUN_CLASSES];
    run_hint hints[RUN_CLASSES][RUN_HINTS];
} __attribute__((aligned(64))) run_shard;

static run_shard shards[RUN_SHARDS] = {
    [0 ... RUN_SHARDS - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER}};

static unsigned class_units(unsigned cls) { return hak_class_size[cls] >> RUN_UNIT_SHIFT; }

// ------------------------------------------------------------ bitmaps

static unsigned next_set(const uint64_t *map, unsigned i)
{
    while (i < RUN_UNITS) {
        uint64_t w = map[i / 64] >> (i % 64);
        if (w != 0)
            return i + (unsigned)__builtin_ctzll(w);
        i = (i / 64 + 1) * 64;
    }
    return RUN_UNITS;
}

static unsigned next_clear(const uint64_t *map, unsigned i)
{
    while (i < RUN_UNITS) {
        uint64_t w = ~map[i / 64] >> (i % 64);
        if (w != 0)
            return i + (unsigned)__builtin_ctzll(w);
        i = (i / 64 + 1) * 64;
    }
    return RUN_UNITS;
}

/* The bits of [i, i + n) in the word that holds bit i, as a mask, and the
 * count of them: range operations go a word at a time. */
static uint64_t word_mask(unsigned i, unsigned n, unsigned *count)
{
    unsigned shift = i % 64;
    *count = 64 - shift < n ? 64 - shift : n;
    return (*count == 64 ? ALL_UNITS : (((uint64_t)1 << *count) - 1)) << shift;
}

static void range_set(uint64_t *map, unsigned i, unsigned n)
{
    for (unsigned k; n > 0; i += k, n -= k)
        map[i / 64] |= word_mask(i, n, &k);
}

static void range_clear(uint64_t *map, unsigned i, unsigned n)
{
    for (unsigned k; n > 0; i += k, n -= k)
        map[i / 64] &= ~word_mask(i, n, &k);
}

static bool range_any(const uint64_t *map, unsigned i, unsigned n)
{
    for (unsigned k; n > 0; i += k, n -= k)
        if (map[i / 64] & word_mask(i, n, &k))
            return true;
    return false;
}

/* The first i, a multiple of step, with [i, i + n) all set in map;
 * RUN_UNITS if there is none, and then *longest is the longest stretch of
 * set bits (no run longer is there until bits are set again).  Each
 * stretch is tried once. */
static unsigned find_run(const uint64_t *map, unsigned n, unsigned step, uint16_t *longest)
{
    unsigned most = 0;
    for (unsigned i = next_set(map, 0); i < RUN_UNITS;) {
        unsigned end = next_clear(map, i);
        unsigned at = (i + step - 1) / step * step;
        if (at + n <= end)
            return at;
        if (end - i > most)
            most = end - i;
        i = next_set(map, end);
    }
    *longest = (uint16_t)most;
    return RUN_UNITS;
}

// ------------------------------------------------------------ chunks

static void chunk_list(run_shard *s, run_chunk *k)
{
    k->listed = true;
    k->prev = NULL;
    k->next = s->chunks;
    if (s->chunks != NULL)
        s->chunks->prev = k;
    s->chunks = k;
}

static void chunk_unlist(run_shard *s, run_chunk *k)
{
    k->listed = false;
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        s->chunks = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
}

/* k, entirely free, goes on *dead; no hint may name it any more. */
static void chunk_doom(run_shard *s, run_chunk *k, run_chunk **dead)
{
    if (k->listed)
        chunk_unlist(s, k);
    for (unsigned c = 0; c < RUN_CLASSES; c++) {
        unsigned kept = 0;
        for (unsigned i = 0; i < s->hint_count[c]; i++)
            if (s->hints[c][i].chunk != k)
                s->hints[c][kept++] = s->hints[c][i];
        s->hint_count[c] = (uint8_t)kept;
    }
    k->next = *dead;
    *dead = k;
}

/* After k's free units changed (shard lock held): listed while it has some;
 * entirely free, it is the shard's spare or, if the shard has another, goes
 * on *dead to be released once the lock is dropped (no run of it is live
 * or cached anywhere, so nothing else reaches it). */
static void chunk_settle(run_shard *s, run_chunk *k, run_chunk **dead)
{
    bool empty = k->free_units == RUN_UNITS;
    if (empty && s->spare != NULL && s->spare != k) {
        chunk_doom(s, k, dead);
        return;
    }
    if (empty)
        s->spare = k;
    else if (s->spare == k)
        s->spare = NULL;
    if (k->free_units > 0 && !k->listed)
        chunk_list(s, k);
    else if (k->free_units == 0 && k->listed)
        chunk_unlist(s, k);
}

/* A new chunk for shard `shard`, not yet listed; made outside the shard's
 * lock, as the OS layer, the metadata arena and the registry have locks of
 * their own (see shared_pool.c). */
static run_chunk *chunk_new(unsigned shard)
{
    bool zeroed;
    char *span = hak_span_alloc(HAK_SPAN_CHUNK, &zeroed);
    if (span == NULL)
        return NULL;
    run_chunk *k = hak_meta_alloc(sizeof(run_chunk));
    if (k == NULL || hak_reg_set(span, HAK_CHUNK_SIZE, k, HAK_KIND_RUNS) != 0) {
        if (k != NULL)
            hak_meta_free(k, sizeof(run_chunk));
        hak_span_free(HAK_SPAN_CHUNK, span, false);
        errno = ENOMEM;
        return NULL;
    }
    k->start = span;
    for (unsigned w = 0; w < RUN_WORDS; w++) {
        k->free[w] = ALL_UNITS;
        k->dirty[w] = zeroed ? 0 : ALL_UNITS; /* a warm span holds old data */
    }
    k->free_units = RUN_UNITS;
    k->free_longest = k->dirty_longest = RUN_UNITS;
    k->shard = (uint8_t)shard;
    hak_stat_count(HAK_STAT_POOL_RUN_CHUNKS_NEW, 1);
    return k;
}

/* Releases the free chunks chained by next; the OS layer keeps each warm
 * for the purge delay (idle: its pages sat unused for it already). */
static void chunks_release(run_chunk *k, bool idle)
{
    while (k != NULL) {
        run_chunk *next = k->next;
        hak_stat_count(HAK_STAT_POOL_RUN_CHUNKS_RELEASED, 1);
        hak_reg_clear(k->start, HAK_CHUNK_SIZE);
        hak_span_free(HAK_SPAN_CHUNK, k->start, idle);
        hak_meta_free(k, sizeof(run_chunk));
        k = next;
    }
}

// ------------------------------------------------------------ runs (shard lock held)

/* Free units [u, u + n) of k are taken into a run (a new one, or one
 * growing); the reverse of units_free. */
static void units_take(run_chunk *k, unsigned u, unsigned n)
{
    range_clear(k->free, u, n);
    range_clear(k->dirty, u, n);
    range_clear(k->young, u, n);
    k->free_units -= n;
}

/* Units [u, u + n) of k become a run; *zero: none of them had pages. */
static void *run_claim(run_shard *s, run_chunk *k, unsigned u, unsigned n, bool *zero)
{
    *zero = !range_any(k->dirty, u, n);
    units_take(k, u, n);
    k->length[u] = (uint8_t)n;
    chunk_settle(s, k, NULL); /* it had a run taken: not entirely free */
    return k->start + ((size_t)u << RUN_UNIT_SHIFT);
}

/* Units [u, u + n) of k are free again: resident (young unless idle: then
 * old already, purged at the next pass), or clean when their pages went
 * back to the OS. */
static void units_free(run_chunk *k, unsigned u, unsigned n, bool clean, bool idle)
{
    range_set(k->free, u, n);
    k->free_longest = RUN_UNITS;
    if (!clean) {
        k->dirty_longest = RUN_UNITS;
        range_set(k->dirty, u, n);
        if (!idle)
            range_set(k->young, u, n);
    }
    k->free_units += n;
}

static void hint_push(run_shard *s, unsigned cls, run_chunk *k, unsigned u)
{
    uint8_t *count = &s->hint_count[cls - HAK_RUNS_FIRST];
    run_hint *h = s->hints[cls - HAK_RUNS_FIRST];
    if (*count == RUN_HINTS) { /* the oldest goes */
        memmove(h, h + 1, (RUN_HINTS - 1) * sizeof *h);
        (*count)--;
    }
    h[(*count)++] = (run_hint){k, u};
}

/* The newest hint of class cls whose n units are all still free, claimed. */
static void *hint_claim(run_shard *s, unsigned cls, unsigned n, bool *zero)
{
    uint8_t *count = &s->hint_count[cls - HAK_RUNS_FIRST];
    run_hint *h = s->hints[cls - HAK_RUNS_FIRST];
    while (*count > 0) {
        run_hint at = h[--*count];
        if (at.unit + n <= RUN_UNITS && next_clear(at.chunk->free, at.unit) >= at.unit + n)
            return run_claim(s, at.chunk, at.unit, n, zero);
    }
    return NULL;
}

/* The first chunk of s with `room` resident (else free) units in a row
 * from a multiple of step, and where they start. */
static run_chunk *find_room(run_shard *s, unsigned room, unsigned step, bool resident, unsigned *at)
{
    for (run_chunk *k = s->chunks; k != NULL; k = k->next) {
        uint16_t *longest = resident ? &k->dirty_longest : &k->free_longest;
        if (*longest >= room &&
            (*at = find_run(resident ? k->dirty : k->free, room, step, longest)) < RUN_UNITS)
            return k;
    }
    return NULL;
}

/* A run of n units at the start of `room` free units in a row, from a
 * multiple of step, in one of the shard's chunks: resident units first (a
 * page faulted in costs 11-14 us here), then any free ones; NULL if no
 * chunk has them. */
static void *claim_room(run_shard *s, unsigned n, unsigned room, unsigned step, bool *zero)
{
    unsigned at;
    run_chunk *k = find_room(s, room, step, true, &at);
    if (k == NULL)
        k = find_room(s, room, step, false, &at);
    return k != NULL ? run_claim(s, k, at, n, zero) : NULL;
}

/* A run of class cls from a multiple of step: a hint's exact fit, else the
 * first that claim_room finds. */
static void *shard_claim(run_shard *s, unsigned cls, unsigned step, bool *zero)
{
    unsigned n = class_units(cls);
    void *hinted = step == 1 ? hint_claim(s, cls, n, zero) : NULL;
    return hinted != NULL ? hinted : claim_room(s, n, n, step, zero);
}

/* Up to count runs of class cls from shard s (lock held), as runs_take.  The
 * caller gets the last one claimed: the runs are claimed at ascending
 * addresses, so the units after it are likelier free, for realloc to grow
 * into, than after the first (the cached ones would follow it). */
static void *shard_take(run_shard *s, unsigned cls, unsigned step, spool_cache *c, uint32_t count,
                        bool *zero)
{
    void *last = shard_claim(s, cls, step, zero);
    bool z;
    void *b;
    for (uint32_t i = 1; last != NULL && i < count && (b = shard_claim(s, cls, step, &z)) != NULL;
         i++) {
        *(void **)last = c->head;
        c->head = last;
        c->count++;
        last = b;
        *zero = z;
    }
    return last;
}

// ------------------------------------------------------------ taking and giving

/* Shard own + i, locked, if it ever had chunks and its lock is free: a
 * thread looking beyond its own shard never waits. */
static run_shard *other_shard_locked(unsigned own, unsigned i, unsigned cls)
{
    run_shard *s = &shards[(own + i) % RUN_SHARDS];
    if (!__atomic_load_n(&s->had_chunks, __ATOMIC_RELAXED) || pthread_mutex_trylock(&s->lock) != 0)
        return NULL;
    hak_stat_count_class(cls, HAK_CSTAT_LOCK_ACQUIRE, 1);
    return s;
}

/* Another shard's chunks, when the thread's own have no room: a class used
 * by many threads fills the chunks there are before another is made.
 * Shards whose lock is held are passed over, so no thread waits here. */
static void *other_shards_take(unsigned cls, unsigned own, unsigned step, spool_cache *c,
                               uint32_t count, bool *zero)
{
    for (unsigned i = 1; i < RUN_SHARDS; i++) {
        run_shard *s = other_shard_locked(own, i, cls);
        if (s == NULL)
            continue;
        void *first = shard_take(s, cls, step, c, count, zero);
        pthread_mutex_unlock(&s->lock);
        if (first != NULL)
            return first;
    }
    return NULL;
}

static void *take(unsigned shard, unsigned cls, unsigned step, spool_cache *c, uint32_t count,
                  bool *zero)
{
    run_shard *s = &shards[shard % RUN_SHARDS];
    spool_lock(&s->lock, cls, true);
    void *first = shard_take(s, cls, step, c, count, zero);
    pthread_mutex_unlock(&s->lock);
    if (first != NULL ||
        (first = other_shards_take(cls, shard % RUN_SHARDS, step, c, count, zero)) != NULL)
        return first;
    run_chunk *k = chunk_new(shard % RUN_SHARDS);
    if (k == NULL)
        return NULL;
    __atomic_store_n(&s->had_chunks, true, __ATOMIC_RELAXED);
    spool_lock(&s->lock, cls, true);
    chunk_list(s, k);
    first = shard_take(s, cls, step, c, count, zero); /* not NULL: k is free, listed in this hold */
    pthread_mutex_unlock(&s->lock);
    return first;
}

void *runs_take(unsigned shard, unsigned cls, spool_cache *c, uint32_t n, bool *zero)
{
    return take(shard, cls, 1, c, n, zero);
}

void *runs_take_aligned(unsigned shard, unsigned cls, size_t align)
{
    bool zero;
    unsigned step = align > RUN_UNIT ? (unsigned)(align >> RUN_UNIT_SHIFT) : 1;
    return take(shard, cls, step, NULL, 1, &zero);
}

/* Room to grow: the run starts a free stretch twice its length (at most
 * half a chunk), resident if one is, in the thread's shard or, passing
 * over those whose lock is held, another's.  realloc_chain's blocks above
 * 256 KiB moved for want of free units after them, carrying 13.7 KiB per
 * realloc; placed so, 6.8 KiB, and the chains ran 26% faster. */
void *runs_take_to_grow(unsigned shard, unsigned cls)
{
    unsigned n = class_units(cls), room = n * 2 < RUN_UNITS / 2 ? n * 2 : RUN_UNITS / 2;
    if (room <= n)
        return NULL;
    run_shard *own = &shards[shard % RUN_SHARDS];
    bool zero;
    spool_lock(&own->lock, cls, true);
    void *b = claim_room(own, n, room, 1, &zero);
    pthread_mutex_unlock(&own->lock);
    for (unsigned i = 1; b == NULL && i < RUN_SHARDS; i++) {
        run_shard *s = other_shard_locked(shard % RUN_SHARDS, i, cls);
        if (s == NULL)
            continue;
        b = claim_room(s, n, room, 1, &zero);
        pthread_mutex_unlock(&s->lock);
    }
    return b;
}

static run_chunk *chunk_of(const void *p) { return hak_reg_meta(hak_reg_lookup(p)); }

/* With HAKMEM_PURGE_DELAY_MS=0 memory goes back as it is freed: the run's
 * pages are released before it rejoins its chunk. */
void runs_give(void *b, uint32_t n, bool idle)
{
    bool at_once = hak_purge_delay_ms() == 0;
    run_chunk *dead = NULL;
    run_shard *s = NULL;
    for (uint32_t i = 0; i < n; i++) {
        void *next = *(void **)b;
        run_chunk *k = chunk_of(b);
        unsigned u = runs_unit_of(k, b), units = k->length[u];
        if (at_once)
            hak_os_release_pages(b, (size_t)units << RUN_UNIT_SHIFT);
        unsigned cls = hak_size_to_class((size_t)units << RUN_UNIT_SHIFT);
        if (&shards[k->shard] != s) {
            if (s != NULL)
                pthread_mutex_unlock(&s->lock);
            s = &shards[k->shard];
            spool_lock(&s->lock, cls, false);
        }
        k->length[u] = 0;
        units_free(k, u, units, at_once, idle);
        chunk_settle(s, k, &dead);
        if (k->free_units < RUN_UNITS)
            hint_push(s, cls, k, u);
        b = next;
    }
    if (s != NULL)
        pthread_mutex_unlock(&s->lock);
    chunks_release(dead, idle);
}

bool runs_resize(run_chunk *k, void *p, size_t size)
{
    unsigned cls = size <= HAK_POOL_MAX ? hak_size_to_class(size) : 0;
    if (!runs_class(cls))
        return false;
    unsigned u = runs_unit_of(k, p), want = class_units(cls);
    run_shard *s = &shards[k->shard];
    spool_lock(&s->lock, cls, true);
    unsigned have = k->length[u];
    bool done =
        want <= have || (u + want <= RUN_UNITS && next_clear(k->free, u + have) >= u + want);
    if (want < have) {
        units_free(k, u + want, have - want, false, false);
    } else if (want > have && done) {
        units_take(k, u + have, want - have);
    }
    if (done) {
        k->length[u] = (uint8_t)want;
        chunk_settle(s, k, NULL); /* p's run is live: never entirely free */
    }
    pthread_mutex_unlock(&s->lock);
    if (done && want != have)
        hak_stat_count(HAK_STAT_POOL_RUNS_RESIZED, 1);
    return done;
}

// ------------------------------------------------------------ purging

/* Takes the old resident free units of k (all if force) into k->purging:
 * not free meanwhile, so no run takes them and the chunk stays. */
static unsigned chunk_detach_old(run_shard *s, run_chunk *k, bool force)
{
    unsigned n = 0;
    for (unsigned w = 0; w < RUN_WORDS; w++) {
        uint64_t old = force ? k->dirty[w] : k->dirty[w] & ~k->young[w];
        k->purging[w] = old;
        k->free[w] &= ~old;
        k->dirty[w] &= ~old;
        k->young[w] = 0; /* what stays resident is old at the next pass */
        n += (unsigned)__builtin_popcountll(old);
    }
    k->free_units -= n;
    chunk_settle(s, k, NULL);
    return n;
}

/* One madvise per stretch of adjacent purging units. */
static void chunk_release_purging(const run_chunk *k)
{
    for (unsigned i = next_set(k->purging, 0); i < RUN_UNITS;) {
        unsigned end = next_clear(k->purging, i);
        hak_os_release_pages(k->start + ((size_t)i << RUN_UNIT_SHIFT), (size_t)(end - i)
                                                                           << RUN_UNIT_SHIFT);
        i = next_set(k->purging, end);
    }
}

static void chunk_attach_clean(run_shard *s, run_chunk *k, run_chunk **dead)
{
    unsigned n = 0;
    for (unsigned w = 0; w < RUN_WORDS; w++) {
        n += (unsigned)__builtin_popcountll(k->purging[w]);
        k->free[w] |= k->purging[w];
        k->purging[w] = 0;
    }
    k->free_longest = RUN_UNITS;
    k->free_units += n;
    chunk_settle(s, k, dead);
}

/* The spare, once its pages are gone: it stayed free for a whole pass. */
static void spare_release(run_shard *s, run_chunk **dead)
{
    run_chunk *spare = s->spare;
    if (spare == NULL || range_any(spare->dirty, 0, RUN_UNITS))
        return;
    s->spare = NULL;
    chunk_doom(s, spare, dead);
}

/* As the shared pool's class_purge: the lock is held for bitmap work only,
 * never across a system call. */
static uint64_t shard_purge(run_shard *s, bool force)
{
    run_chunk *taken = NULL, *dead = NULL;
    uint64_t units = 0;
    pthread_mutex_lock(&s->lock);
    for (run_chunk *k = s->chunks, *next; k != NULL; k = next) {
        next = k->next; /* k may leave the list */
        unsigned n = chunk_detach_old(s, k, force);
        if (n > 0) {
            k->purge_next = taken;
            taken = k;
            units += n;
        }
    }
    pthread_mutex_unlock(&s->lock);
    for (run_chunk *k = taken; k != NULL; k = k->purge_next)
        chunk_release_purging(k);
    pthread_mutex_lock(&s->lock);
    for (run_chunk *k = taken; k != NULL; k = k->purge_next)
        chunk_attach_clean(s, k, &dead);
    spare_release(s, &dead);
    pthread_mutex_unlock(&s->lock);
    chunks_release(dead, true);
    return units << RUN_UNIT_SHIFT;
}

void runs_purge(bool force)
{
    uint64_t bytes = 0;
    for (unsigned i = 0; i < RUN_SHARDS; i++)
        if (__atomic_load_n(&shards[i].had_chunks, __ATOMIC_RELAXED))
            bytes += shard_purge(&shards[i], force);
    hak_stat_count(HAK_STAT_POOL_RUN_PURGED_BYTES, bytes);
}

// ------------------------------------------------------------ checks and fork

enum runs_misuse runs_check_free(run_chunk *k, const void *p)
{
    if (runs_block_size(k, p) != 0)
        return RUNS_MISUSE_NONE;
    unsigned u = runs_unit_of(k, p);
    run_shard *s = &shards[k->shard];
    pthread_mutex_lock(&s->lock);
    bool freed = ((uintptr_t)p & (RUN_UNIT - 1)) == 0 && (k->free[u / 64] >> (u % 64) & 1);
    pthread_mutex_unlock(&s->lock);
    return freed ? RUNS_MISUSE_FREED : RUNS_MISUSE_INTERIOR;
}

void runs_lock_all(void)
{
    for (unsigned i = 0; i < RUN_SHARDS; i++)
        pthread_mutex_lock(&shards[i].lock);
}

void runs_unlock_all(void)
{
    for (unsigned i = RUN_SHARDS; i-- > 0;)
        pthread_mutex_unlock(&shards[i].lock);
}

void runs_reset_after_fork(void)
{
    for (unsigned i = 0; i < RUN_SHARDS; i++)
        pthread_mutex_init(&shards[i].lock, NULL);
}
