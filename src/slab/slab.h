/*
 * The tiny tier: blocks of 16 B .. 1024 B.
 *
 * A slab is 32 KiB of one class, owned by one thread.  The owner allocates
 * from `free` and frees onto it with plain loads and stores (one list: an
 * owner's frees are handed out again without a refill, and the block freed
 * last, warm in the cache, goes out first); any other thread pushes onto
 * `remote` with a CAS.  The owner takes the remote
 * blocks back whenever it refills from a slab, including the slab it is
 * allocating from: the earlier hakmem drained only full slabs and never saw
 * its remote frees again (seed 000).  A slab the owner found full is parked
 * off its lists, marked by SLAB_PARKED in `remote`; the first remote free
 * into it queues it on the owner's `slab_pending` stack so the owner finds
 * it again (the handshake: slab.c, remote_push); the owner's own frees
 * unpark it once a sixteenth of it is free (slab_unpark_worth).  An
 * owner's free into a slab or MF2 page other than the current one goes to
 * the class's stash, which hands blocks out last-freed first across pages
 * (slab.c, the stash).  A slab stays its
 * owner's while the owner idles, but a thread that frees into it then
 * borrows the block into its own stash.
 *
 * Slabs live in segments: a 2 MiB SuperSlab of 64 slabs, or (with
 * HAKMEM_TINY_USE_SUPERSLAB=0) a 64 KiB segment of two (an OS-layer unit).
 * The segment header, with every slab's descriptor, sits at the start of
 * the segment.
 */
#ifndef HAK_SLAB_H
#define HAK_SLAB_H

#include <stdbool.h>
#include <stdint.h>

#include "../os.h"
#include "../stats/count.h"
#include "../thread.h"

/* 32 KiB, not 64: a thread holds a partly used slab or two of every class it
 * uses, and of the larger tiny classes the count it holds rises and falls,
 * so half-size slabs leave it half the slack (tiny_random at 16 threads:
 * 56 -> 53 MiB peak; Larson 93 -> 85 MiB). */
#define SLAB_SHIFT 15
#define SLAB_SIZE ((size_t)1 << SLAB_SHIFT)
#define SUPERSLAB_SLABS 64 /* HAK_CHUNK_SIZE / SLAB_SIZE */
#define STANDALONE_SLABS 2 /* the OS layer's 64 KiB unit / SLAB_SIZE */

typedef uint64_t slab_mask; /* a segment's slabs, bit i for slab i */

typedef struct slab_block {
    struct slab_block *next;
} slab_block;

/* Where a slab is, for its owner. */
enum slab_where {
    SLAB_NO_CLASS,
    SLAB_CURRENT,
    SLAB_AVAIL,
    SLAB_FULL,
    SLAB_ORPHAN,
    SLAB_SPARE,
    SLAB_STASH, /* not a slab: a heap's stand-in for blocks held outside their slabs */
};

/* The slab's remote-notification state.  PUSHING and QUEUED keep the slab
 * alive: no path releases a slab until it is IDLE (or NEVER). */
enum slab_notify {
    SLAB_NOTIFY_IDLE,    /* not on any pending stack; a remote free may claim it */
    SLAB_NOTIFY_PUSHING, /* claimed by a freeing thread, which is queueing it */
    SLAB_NOTIFY_QUEUED,  /* on its owner's pending stack (or an idle thief's hands) */
    SLAB_NOTIFY_NEVER,   /* no owner to tell (abandoned) */
};

/* Low bit of `remote` (blocks are 16-byte aligned): the owner parked the slab
 * full and no remote free has claimed the notification yet. */
#define SLAB_PARKED ((uintptr_t)1)

typedef struct hak_slab {
    /* First cache line: what the owner's malloc and free touch. */
    slab_block *free;
    uint32_t used; /* blocks handed out and not yet freed back to the owner */
    uint32_t block_size;
    struct hak_heap *owner; /* written by the owner or adopter, read by every free */
    uint8_t class_idx;
    uint8_t where; /* SLAB_FULL: parked, and SLAB_PARKED set in `remote` until claimed */
    uint8_t units; /* SLAB_SIZE units the slab spans (1 tiny, 2-8 MF2) */
    bool purged;
    bool stashes; /* the owner's frees into it, while not current, go to its stash */
    uint32_t capacity;
    uint32_t carved; /* blocks threaded into lists so far; the rest is untouched memory */
    /* Parked: the owner's free that brings `used` down to this unparks it. */
    uint32_t wake_used;
    /* A stash: how many of the owner's own frees it takes (slab.c, the stash). */
    uint32_t own_limit;
    char *start;
    struct slab_segment *segment;
    /* Second cache line: written by other threads, and the owner's cold fields. */
    uintptr_t remote __attribute__((aligned(64))); /* slab_block list | SLAB_PARKED */
    struct hak_slab *pending_next;
    uint8_t notify;
    bool orphaned; /* on its class's orphan list: read and written under its lock */
    struct hak_slab *next, *prev;
    uint64_t freed_ms; /* free in its segment, or spare: since when */
} hak_slab;

typedef struct slab_segment {
    struct hak_heap *owner;
    struct slab_segment *next, *prev;
    uint32_t slab_count;
    slab_mask free_mask; /* bit i: slab i belongs to no class */
    slab_mask cont_mask; /* bit i: unit i continues the slab before it */
    uint32_t header_bytes;
    enum hak_span_kind span_kind;
    hak_slab slabs[];
} slab_segment;

extern hak_slab slab_empty;

/* The slab engine's part of a new heap; false if out of memory. */
bool slab_heap_init(hak_heap *h);
void *slab_alloc_slow(hak_heap *h, unsigned cls);
void slab_free_owner_slow(hak_heap *h, hak_slab *s);
void slab_free_to_stash_slow(hak_heap *h, hak_slab *s, slab_block *b);
void slab_free_remote(hak_slab *s, slab_block *b);
/* The heap's slabs go back: empty ones to their segments, the rest onto
 * their class's orphan list for a thread that needs the class. */
void slab_heap_abandon(hak_heap *h);
/* The stashed blocks h has not handed out leave its stashes: its own go back
 * to their slabs, the borrowed ones (all, or those of classes h is not
 * allocating from) to a depot for the next thread that needs their class. */
void slab_heap_leave_stash(hak_heap *h, bool all);
/* Returns the pages of the heap's long-empty slabs to the OS. */
void slab_heap_purge(hak_heap *h, bool force);
/* The same from another thread, while h's own thread idles: the spares and
 * free slabs it would give back at its next tick give their pages back now. */
void slab_heap_purge_idle(hak_heap *h, bool force);
/* Orphaned slabs that remote frees emptied go back to their segments, and
 * orphaned segments are purged; by one thread at a time (h, the caller's:
 * hak_heap_purge takes the turn). */
void slab_sweep_orphans(hak_heap *h, bool force);
void slab_lock(void);
void slab_unlock(void);
void slab_reset_after_fork(void);

/* A block from the current slab, or NULL: the caller takes the slow path. */
static inline void *slab_alloc_fast(hak_heap *h, unsigned cls)
{
    hak_slab *s = h->slab_cur[cls];
    slab_block *b = s->free;
    if (__builtin_expect(b != NULL, 1)) {
        s->free = b->next;
        s->used++;
    }
    return b;
}

static inline void *slab_alloc(hak_heap *h, unsigned cls)
{
    void *b = slab_alloc_fast(h, cls);
    return b != NULL ? b : slab_alloc_slow(h, cls);
}

/* The owner's frees into a parked slab unpark it once this many of its
 * blocks are free, not at the first: a class whose live blocks fill its
 * slabs has its few free blocks spread over all of them, and a slab
 * unparked for one block cost a refill, two atomic read-modify-writes and a
 * cold descriptor per allocation (tiny_random of 64 B blocks, 256 KiB of
 * them: a refill on 87% of allocations, 14.7 M ops/s, tcmalloc 20.4; now
 * 19.7).  A sixteenth of the slab, and at least 4 blocks for the classes
 * with few (1000 B blocks, 1000 of them: a refill every 4 allocations,
 * now every 8, +6%), as what parked slabs hold unused meanwhile is bounded
 * by it (an eighth, or at least 8 blocks: tiny_random at 16 threads 52 ->
 * 54 MiB peak). */
#define UNPARK_FRACTION 16
#define UNPARK_MIN 4

static inline uint32_t slab_unpark_worth(const hak_slab *s)
{
    uint32_t worth = s->capacity / UNPARK_FRACTION;
    uint32_t least = s->capacity / 4 < UNPARK_MIN ? s->capacity / 4 : UNPARK_MIN;
    if (worth < least)
        worth = least;
    return worth > 0 ? worth : 1;
}

/* Pushes b back onto s, by s's owner; true if s then needs
 * slab_free_owner_slow: emptied, or parked and now worth unparking, and not
 * the current slab (which needs nothing more, even emptied: it stays). */
static inline bool slab_push_own(hak_slab *s, slab_block *b)
{
    b->next = s->free;
    s->free = b;
    uint32_t used = --s->used;
    return __builtin_expect(s->where != SLAB_CURRENT, 0) && (used == 0 || used == s->wake_used);
}

/* Blocks a stash gathers before it becomes the current slab (slab.c, the
 * stash): switched for one block, every block would cost a slow path to
 * switch back. */
#define STASH_SWITCH 16

/* The blocks a stand-in holds: its `used` counts down as they come. */
static inline uint32_t stash_held(const hak_slab *b) { return 0u - b->used; }

/* An owner's free into one of its stashing slabs it is not allocating
 * from: onto the class's stash.  Inline but for a stopped stash, one that
 * holds its own_limit, and the free that makes the stash current: out of
 * line, the call, the stash's switch test in a second call and the saved
 * registers were a third of the allocator's instructions on 8-34 KiB blocks
 * (bench/misses: 106 -> 94 per malloc). */
static inline void slab_free_to_stash(hak_heap *h, hak_slab *s, slab_block *b)
{
    hak_slab *st = &h->slab_stash[s->class_idx];
    uint32_t held = stash_held(st);
    if (__builtin_expect(!st->stashes || held >= st->own_limit || held + 1 == STASH_SWITCH, 0)) {
        slab_free_to_stash_slow(h, s, b);
        return;
    }
    b->next = st->free;
    st->free = b;
    st->used--;
}

static inline void slab_free(hak_slab *s, void *p)
{
    hak_heap *h = hak_tls_heap;
    slab_block *b = p;
    if (__builtin_expect(__atomic_load_n(&s->owner, __ATOMIC_RELAXED) == h, 1)) {
        hak_count_owner_free(h, s->class_idx);
        if (__builtin_expect(s->where != SLAB_CURRENT, 0) && s->stashes) {
            slab_free_to_stash(h, s, b);
            return;
        }
        if (slab_push_own(s, b))
            slab_free_owner_slow(h, s);
        return;
    }
    slab_free_remote(s, b);
}

#endif /* HAK_SLAB_H */
