/*
 * Statistics: the counters of counters.def, kept per thread.
 *
 * Each heap holds a shard that only its thread writes, with a relaxed load
 * and a relaxed store (no read-modify-write, no lock prefix); any thread may
 * read it at any time with relaxed loads, so a dump never sees a torn value.
 * A thread's shard is folded into the process totals (atomic adds) when it
 * exits.  Events on paths without a heap of their own (a thread that never
 * allocated freeing a block, the OS layer under its lock) go straight to the
 * totals.  With counting off, each site costs one predictable branch.
 */
#ifndef HAK_STATS_H
#define HAK_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../size_class.h"

typedef enum hak_stat_id {
#define HAK_COUNTER(id, group, key, unit, doc) HAK_STAT_##id,
#include "counters.def"
    HAK_STAT_COUNT
} hak_stat_id;

typedef enum hak_class_stat_id {
#define HAK_CLASS_COUNTER(id, key, unit, doc) HAK_CSTAT_##id,
#include "counters.def"
    HAK_CSTAT_COUNT
} hak_class_stat_id;

/* Requested sizes: bucket b counts sizes in (2^(b-1), 2^b]; bucket 0 counts
 * 0 and 1. */
#define HAK_HIST_BUCKETS 65

typedef struct hak_stats_shard {
    uint64_t global[HAK_STAT_COUNT];
    uint64_t cls[HAK_CLASS_COUNT][HAK_CSTAT_COUNT];
    uint64_t hist[HAK_HIST_BUCKETS];
} hak_stats_shard;

extern bool hak_stats_enabled; /* HAKMEM_STATS=1 or a HAKMEM_STATS_SIGNAL */
extern bool hak_hist_enabled;  /* and HAKMEM_SIZE_HIST=1 */
extern bool hak_lock_stats_enabled; /* and HAKMEM_SHARED_POOL_LOCK_STATS=1 */

/* The engine's tiny and MF2 groups in counters.def must stay parallel: the
 * MF2 block follows the tiny block and is as long (slab.c maps one onto the
 * other by offset). */
_Static_assert(HAK_STAT_MF2_DRAIN_ATTEMPTS == HAK_STAT_TINY_ADOPTED + 1 &&
                   HAK_STAT_MF2_ADOPTED - HAK_STAT_MF2_DRAIN_ATTEMPTS ==
                       HAK_STAT_TINY_ADOPTED - HAK_STAT_TINY_DRAIN_ATTEMPTS,
               "counters.def: the tiny and mf2 groups must list the same keys in order");

uint64_t hak_now_ns(void);

static inline void hak_stat_bump(uint64_t *c, uint64_t n)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline unsigned hak_hist_bucket(size_t size)
{
    return size <= 1 ? 0 : 64u - (unsigned)__builtin_clzl(size - 1);
}

struct hak_heap;

void hak_stat_add(hak_stat_id id, uint64_t n);
void hak_stat_add_class(unsigned cls, hak_class_stat_id id, uint64_t n);

/* An event on a slow path: into the calling thread's shard if it has a
 * heap, else into the totals.  The test is inline: remote frees, frequent
 * in some programs, count two events each. */
static inline void hak_stat_count(hak_stat_id id, uint64_t n)
{
    if (__builtin_expect(hak_stats_enabled, 0))
        hak_stat_add(id, n);
}

static inline void hak_stat_count_class(unsigned cls, hak_class_stat_id id, uint64_t n)
{
    if (__builtin_expect(hak_stats_enabled, 0))
        hak_stat_add_class(cls, id, n);
}
/* A large allocation (no class) for the histogram. */
void hak_stat_request(size_t size);

void hak_stats_init(void);
void hak_stats_register(struct hak_heap *h);
/* Thread exit: the shard's counts go into the totals. */
void hak_stats_retire(struct hak_heap *h);
/* Fork child: counting starts again from zero. */
void hak_stats_reset_after_fork(void);

/* The bytes hakmem holds for blocks and metadata now, and at most so far. */
void hak_stats_mapped(int64_t delta);
uint64_t hak_stats_mapped_now(void);
uint64_t hak_stats_mapped_peak(void);

/* The dump: start time, signal handler (dump.c). */
void hak_stats_dump_init(void);
void hak_stats_mark_start(void);

/* Every counter summed over the totals and all live threads. */
void hak_stats_collect(hak_stats_shard *out);

#endif /* HAK_STATS_H */
