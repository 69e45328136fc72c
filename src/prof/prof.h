/*
 * Sampled allocation-site profiling (HAKMEM_PROF_SAMPLE).
 *
 * Each thread counts down the bytes it allocates; when the count goes below
 * zero the allocation is sampled: its call stack is taken with libunwind
 * and added to a table of distinct stacks (sites), and the block is entered
 * in a table of live samples so its free is recognised.  The distance to the
 * next sample is drawn afresh each time from an exponential distribution of
 * mean HAKMEM_PROF_SAMPLE bytes, as jemalloc's and tcmalloc's heap profilers
 * do, so every byte is equally likely to be sampled and a sample's weight
 * (the bytes it stands for) follows from its size alone.
 *
 * libunwind is opened with dlopen(RTLD_LOCAL) at the first sample, never
 * before: a process that does not profile never loads it, and its
 * _Unwind_* and backtrace symbols cannot interpose on libgcc's and glibc's.
 *
 * The dump reads the tables without a lock (a signal may interrupt a thread
 * that holds it); every field it reads is published with a release store.
 */
#ifndef HAK_PROF_H
#define HAK_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../thread.h"

extern bool hak_prof_enabled; /* HAKMEM_PROF_SAMPLE > 0 */

/* Reads the configuration (after hak_env_init). */
void hak_prof_init(void);
/* A new heap's random state, its first distance to a sample, and its
 * track_left. */
void hak_prof_heap_init(hak_heap *h);

/* An allocation that took the thread's track_left below zero (alloc.c):
 * samples it if its bytes reach the next sample point, and sets track_left
 * again. */
void hak_prof_after_alloc(hak_heap *h, void *p, size_t size);
void hak_prof_forget(void *p);

/* Live samples' addresses hashed into counters: a free whose counter is
 * zero (nearly all of them) was not sampled, known from one load. */
#define HAK_PROF_FILTER_SIZE (1u << 16)
extern uint32_t *hak_prof_filter;

static inline uint32_t hak_prof_filter_index(const void *p)
{
    return (uint32_t)((((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull) >> 48);
}

static inline bool hak_prof_may_be_sampled(const void *p)
{
    return __atomic_load_n(&hak_prof_filter[hak_prof_filter_index(p)], __ATOMIC_RELAXED) != 0;
}

/* A block going back: if it was sampled, its site's live figures drop. */
static inline void hak_prof_free(void *p)
{
    if (hak_prof_may_be_sampled(p))
        hak_prof_forget(p);
}

// ------------------------------------------------------------ the dump's view

typedef struct hak_prof_totals {
    uint64_t sample_bytes, depth;
    uint64_t samples, samples_live, unrecorded;
} hak_prof_totals;

typedef struct hak_prof_site {
    uint64_t samples, samples_live;
    uint64_t requested_bytes, allocated_bytes, live_bytes;
    uint32_t depth;
    const uintptr_t *frames; /* innermost first */
} hak_prof_site;

/* Where a frame's address lies, by dladdr: the object (its path and load
 * base) and the dynamic symbol around it, if any (sym NULL otherwise). */
typedef struct hak_prof_place {
    const char *obj, *sym;
    uintptr_t obj_base, sym_addr;
} hak_prof_place;
void hak_prof_locate(uintptr_t addr, hak_prof_place *out);

void hak_prof_get_totals(hak_prof_totals *out);
/* Sites recorded so far; hak_prof_get_site fills site i < that number. */
uint32_t hak_prof_site_count(void);
void hak_prof_get_site(uint32_t i, hak_prof_site *out);

/* fork: first, waits for a load of the unwinder in progress; then the
 * table lock, in the allocator's lock order (last). */
void hak_prof_quiesce(void);
void hak_prof_lock(void);
void hak_prof_unlock(void);
void hak_prof_reset_after_fork(void);

#endif /* HAK_PROF_H */
