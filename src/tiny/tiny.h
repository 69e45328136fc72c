/*
 * The tiny tier: blocks of 16 B .. 1024 B.
 *
 * A slab is 64 KiB of one class, owned by one thread.  The owner allocates
 * from `free` and frees onto `local_free` with plain loads and stores; any
 * other thread pushes onto `remote` with a CAS.  The owner takes the remote
 * blocks back whenever it refills from a slab, including the slab it is
 * allocating from: the earlier hakmem drained only full slabs and never saw
 * its remote frees again (seed 000).  A slab the owner found full is parked
 * off its lists; the first remote free into it queues it on the owner's
 * `tiny_pending` stack so the owner finds it again.
 *
 * Slabs live in segments: a 2 MiB SuperSlab of 32 slabs, or (with
 * HAKMEM_TINY_USE_SUPERSLAB=0) a 64 KiB segment of one.  The segment header,
 * with every slab's descriptor, sits at the start of the segment.
 */
#ifndef HAK_TINY_H
#define HAK_TINY_H

#include <stdbool.h>
#include <stdint.h>

#include "../os.h"
#include "../stats/count.h"
#include "../thread.h"

#define TINY_SLAB_SHIFT 16
#define TINY_SLAB_SIZE ((size_t)1 << TINY_SLAB_SHIFT)
#define TINY_SUPERSLAB_SLABS 32 /* HAK_CHUNK_SIZE / TINY_SLAB_SIZE */

typedef struct tiny_block {
    struct tiny_block *next;
} tiny_block;

/* Where a slab is, for its owner. */
enum tiny_where { TINY_FREE_SLAB, TINY_CURRENT, TINY_AVAIL, TINY_FULL };

/* The slab's remote-notification state. */
enum tiny_notify {
    TINY_NOTIFY_IDLE,    /* a remote free into a full slab may queue it */
    TINY_NOTIFY_PUSHING, /* a freeing thread is queueing it right now */
    TINY_NOTIFY_QUEUED,  /* on the owner's pending stack */
    TINY_NOTIFY_NEVER,   /* no owner to tell (abandoned) */
};

typedef struct tiny_slab {
    /* First cache line: what the owner's malloc and free touch. */
    tiny_block *free;
    tiny_block *local_free;
    uint32_t used; /* blocks handed out and not yet freed back to the owner */
    uint32_t block_size;
    struct hak_heap *owner; /* written by the owner or adopter, read by every free */
    uint8_t full;           /* parked by its owner (read by remote frees) */
    uint8_t class_idx;
    uint8_t where;
    bool purged;
    uint32_t capacity;
    uint32_t carved; /* blocks threaded into lists so far; the rest is untouched memory */
    char *start;
    struct tiny_segment *segment;
    /* Second cache line: written by other threads, and the owner's cold fields. */
    tiny_block *remote __attribute__((aligned(64)));
    struct tiny_slab *pending_next;
    uint8_t notify;
    struct tiny_slab *next, *prev;
    uint64_t freed_ms;
} tiny_slab;

typedef struct tiny_segment {
    struct hak_heap *owner;
    struct tiny_segment *next, *prev;
    uint32_t slab_count;
    uint32_t free_mask; /* bit i: slab i belongs to no class */
    uint32_t header_bytes;
    enum hak_span_kind span_kind;
    tiny_slab slabs[];
} tiny_segment;

extern tiny_slab tiny_empty_slab;

void tiny_init(void);
void *tiny_alloc_slow(hak_heap *h, unsigned cls);
void tiny_free_owner_slow(hak_heap *h, tiny_slab *s);
void tiny_free_remote(tiny_slab *s, tiny_block *b);
/* The heap's slabs go back: empty ones freed, the rest left for adoption. */
void tiny_heap_abandon(hak_heap *h, bool after_fork);
/* Returns the pages of the heap's long-empty slabs to the OS. */
void tiny_heap_purge(hak_heap *h, bool force);
/* Takes over every segment exited threads left behind, so their blocks that
 * other threads freed are collected and empty slabs given back. */
void tiny_reclaim_abandoned(hak_heap *h);
void tiny_lock(void);
void tiny_unlock(void);
void tiny_reset_after_fork(void);

/* A block from the current slab, or NULL: the caller takes the slow path. */
static inline void *tiny_alloc_fast(hak_heap *h, unsigned cls)
{
    tiny_slab *s = h->tiny_cur[cls];
    tiny_block *b = s->free;
    if (__builtin_expect(b != NULL, 1)) {
        s->free = b->next;
        s->used++;
    }
    return b;
}

static inline void *tiny_alloc(hak_heap *h, unsigned cls)
{
    void *b = tiny_alloc_fast(h, cls);
    return b != NULL ? b : tiny_alloc_slow(h, cls);
}

static inline void tiny_free(tiny_slab *s, void *p)
{
    hak_heap *h = hak_tls_heap;
    tiny_block *b = p;
    if (__builtin_expect(__atomic_load_n(&s->owner, __ATOMIC_RELAXED) == h, 1)) {
        b->next = s->local_free;
        s->local_free = b;
        hak_count_owner_free(h, s->class_idx);
        if (__builtin_expect(--s->used == 0 || __atomic_load_n(&s->full, __ATOMIC_RELAXED), 0))
            tiny_free_owner_slow(h, s);
        return;
    }
    tiny_free_remote(s, b);
}

#endif /* HAK_TINY_H */
