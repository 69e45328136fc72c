#include "prof.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "../env/env.h"
#include "../fmt.h"
#include "../os.h"
#include "../stats/count.h"

bool hak_prof_enabled;
uint32_t *hak_prof_filter;

static double mean_bytes; /* HAKMEM_PROF_SAMPLE */
static uint32_t depth;    /* HAKMEM_PROF_DEPTH */

// ------------------------------------------------------------ tables

/* Fixed capacities, reserved at start-up and touched as they fill: a site
 * or live sample that finds its table full is counted as unrecorded. */
#define SITES_MAX 16384u
#define SITE_SLOTS (2 * SITES_MAX) /* hash index over the sites, half full at most */
#define LIVE_MAX (1u << 18)        /* live samples: 128 GiB live at the default rate */
#define LIVE_LIMIT (LIVE_MAX / 4 * 3)
#define MAX_DEPTH 64
/* Frames taken beyond the kept depth: libunwind's and hakmem's own. */
#define SKIP_MAX 16

typedef struct site {
    uint64_t hash;
    uint32_t depth;
    /* Updated with atomic adds (the sampling path only), read by the dump. */
    uint64_t samples, samples_freed;
    uint64_t requested_bytes, weight, weight_freed;
} site;

typedef struct live_sample {
    uintptr_t addr; /* 0: empty slot */
    uint32_t site;
    uint64_t weight;
} live_sample;

static site *sites;
static uintptr_t *site_frames; /* SITES_MAX rows of `depth` frames */
static uint32_t *site_slots;   /* hash -> site index + 1 */
static uint32_t site_count;    /* published with a release store */
static live_sample *live;
static uint32_t live_count;
static uint64_t samples_total, samples_freed_total, unrecorded;

/* Guards the tables' structure (inserts and removals).  Held only for a
 * few loads and stores, never across a call: whatever else a sampling
 * thread waits for (the loader's lock inside the unwinder), it never waits
 * holding this. */
static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;

static void *reserve(size_t bytes) { return hak_os_mmap(bytes, MAP_NORESERVE); }

void hak_prof_init(void)
{
    if (hak_env.prof_sample == 0)
        return;
    mean_bytes = (double)hak_env.prof_sample;
    depth = (uint32_t)hak_env.prof_depth;
    sites = reserve(SITES_MAX * sizeof(site));
    site_frames = reserve((size_t)SITES_MAX * depth * sizeof(uintptr_t));
    site_slots = reserve(SITE_SLOTS * sizeof(uint32_t));
    live = reserve(LIVE_MAX * sizeof(live_sample));
    hak_prof_filter = reserve(HAK_PROF_FILTER_SIZE * sizeof(uint32_t));
    if (!sites || !site_frames || !site_slots || !live || !hak_prof_filter) {
        hak_write_str(2, "hakmem: no memory for the allocation-site tables; "
                         "HAKMEM_PROF_SAMPLE is ignored\n");
        return;
    }
    hak_prof_enabled = true;
}

// ------------------------------------------------------------ sampling distance

static uint64_t next_random(hak_heap *h)
{
    /* xorshift64*: a thread's own stream, no shared state. */
    uint64_t x = h->prof_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->prof_rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Exponential with mean HAKMEM_PROF_SAMPLE: the gap between the points of a
 * Poisson process over the bytes allocated. */
static int64_t next_distance(hak_heap *h)
{
    double u = ((double)(next_random(h) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    return (int64_t)(-log(u) * mean_bytes);
}

void hak_prof_heap_init(hak_heap *h)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    h->prof_rng = ((uintptr_t)h * 0x9E3779B97F4A7C15ull) ^ (uint64_t)ts.tv_nsec ^
                  ((uint64_t)ts.tv_sec << 32) ^ 1;
    h->prof_left = hak_prof_enabled ? next_distance(h) : INT64_MAX;
    h->track_left = hak_alloc_tracking ? -1 : hak_prof_enabled ? h->prof_left : HAK_HEAP_TICK_BYTES;
}

/* The bytes a sample of `size` stands for: it was sampled with probability
 * 1 - exp(-size / mean), so size divided by that is an unbiased estimate. */
static uint64_t sample_weight(size_t size)
{
    double p = -expm1(-(double)size / mean_bytes);
    return p > 0 ? (uint64_t)((double)size / p + 0.5) : (uint64_t)size;
}

// ------------------------------------------------------------ the unwinder

enum { UNWINDER_NONE, UNWINDER_LOADING, UNWINDER_READY, UNWINDER_FAILED };
static int unwinder_state;
static int (*unwind_backtrace)(void **frames, int size);
/* Set by hakmem's constructor, once the C library is initialised: dlopen
 * is not safe before that (the loader's own early allocations). */
static bool program_started;

__attribute__((constructor)) static void prof_program_started(void)
{
    __atomic_store_n(&program_started, true, __ATOMIC_RELEASE);
}

#define HAK_XSTR(x) HAK_STR(x)
#define HAK_STR(x) #x

/* libunwind's local unwinder, loaded privately.  Its register-state cache
 * is made per-thread: the default global cache has a lock that a fork
 * could leave held in the child. */
static bool load_unwinder(void)
{
    void *lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return false;
    unwind_backtrace = (int (*)(void **, int))dlsym(lib, "unw_backtrace");
    int (*set_policy)(unw_addr_space_t, unw_caching_policy_t) =
        (int (*)(unw_addr_space_t, unw_caching_policy_t))dlsym(lib, HAK_XSTR(unw_set_caching_policy));
    unw_addr_space_t *local_space = dlsym(lib, HAK_XSTR(unw_local_addr_space));
    if (unwind_backtrace == NULL || set_policy == NULL || local_space == NULL)
        return false;
    set_policy(*local_space, UNW_CACHE_PER_THREAD);
    return true;
}

static bool unwinder_ready(void)
{
    int state = __atomic_load_n(&unwinder_state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(state == UNWINDER_READY, 1))
        return true;
    if (state != UNWINDER_NONE || !__atomic_load_n(&program_started, __ATOMIC_ACQUIRE))
        return false;
    if (!__atomic_compare_exchange_n(&unwinder_state, &state, UNWINDER_LOADING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return false;
    bool ok = load_unwinder();
    if (!ok)
        hak_write_str(2, "hakmem: HAKMEM_PROF_SAMPLE needs libunwind.so.8 (Debian: libunwind8), "
                         "which could not be loaded; no allocation sites are recorded\n");
    __atomic_store_n(&unwinder_state, ok ? UNWINDER_READY : UNWINDER_FAILED, __ATOMIC_RELEASE);
    return ok;
}

/* hakmem's entry points (hakmem.h's functions, the malloc family and the
 * paths between them and the sampler) live in this section: the frames
 * that are theirs are found by address, in the shared library and in a
 * program linked with the static one alike. */
extern const char __start_hakmem_entry[] __attribute__((visibility("hidden")));
extern const char __stop_hakmem_entry[] __attribute__((visibility("hidden")));

static bool in_hakmem_entry(uintptr_t ip)
{
    return ip > (uintptr_t)__start_hakmem_entry && ip <= (uintptr_t)__stop_hakmem_entry;
}

/* The caller's stack, innermost first, without the unwinder's frames and
 * hakmem's: everything up to the last hakmem entry frame goes. */
static uint32_t take_stack(uintptr_t *out)
{
    void *raw[MAX_DEPTH + SKIP_MAX];
    int n = unwind_backtrace(raw, (int)(depth + SKIP_MAX));
    int first = 0;
    for (int i = 0; i < n && i < SKIP_MAX; i++)
        if (in_hakmem_entry((uintptr_t)raw[i]))
            first = i + 1;
    uint32_t kept = 0;
    for (int i = first; i < n && kept < depth; i++)
        out[kept++] = (uintptr_t)raw[i];
    return kept;
}

// ------------------------------------------------------------ sites (lock held)

static uint64_t stack_hash(const uintptr_t *frames, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ frames[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static bool same_stack(const site *s, uint32_t index, const uintptr_t *frames, uint32_t n,
                       uint64_t hash)
{
    if (s->hash != hash || s->depth != n)
        return false;
    const uintptr_t *mine = site_frames + (size_t)index * depth;
    for (uint32_t i = 0; i < n; i++)
        if (mine[i] != frames[i])
            return false;
    return true;
}

/* The site of this stack, added if new; UINT32_MAX if the table is full. */
static uint32_t find_site(const uintptr_t *frames, uint32_t n)
{
    uint64_t hash = stack_hash(frames, n);
    for (uint32_t slot = (uint32_t)hash % SITE_SLOTS;; slot = (slot + 1) % SITE_SLOTS) {
        uint32_t index = site_slots[slot];
        if (index == 0)
            break;
        if (same_stack(&sites[index - 1], index - 1, frames, n, hash))
            return index - 1;
    }
    uint32_t index = site_count;
    if (index == SITES_MAX)
        return UINT32_MAX;
    sites[index].hash = hash;
    sites[index].depth = n;
    uintptr_t *mine = site_frames + (size_t)index * depth;
    for (uint32_t i = 0; i < n; i++)
        mine[i] = frames[i];
    uint32_t slot = (uint32_t)hash % SITE_SLOTS;
    while (site_slots[slot] != 0)
        slot = (slot + 1) % SITE_SLOTS;
    site_slots[slot] = index + 1;
    __atomic_store_n(&site_count, index + 1, __ATOMIC_RELEASE); /* the dump may read it now */
    return index;
}

// ------------------------------------------------------------ live samples (lock held)

static uint32_t live_slot_of(uintptr_t addr)
{
    return (uint32_t)((addr >> 4) * 0x9E3779B97F4A7C15ull >> 46) & (LIVE_MAX - 1);
}

static bool live_insert(uintptr_t addr, uint32_t site_index, uint64_t weight)
{
    if (live_count == LIVE_LIMIT)
        return false;
    uint32_t slot = live_slot_of(addr);
    while (live[slot].addr != 0)
        slot = (slot + 1) & (LIVE_MAX - 1);
    live[slot] = (live_sample){addr, site_index, weight};
    live_count++;
    uint32_t *f = &hak_prof_filter[hak_prof_filter_index((void *)addr)];
    __atomic_store_n(f, *f + 1, __ATOMIC_RELAXED);
    return true;
}

/* Linear probing's deletion: later entries of the run move back into the
 * hole, so a lookup never needs tombstones. */
static void live_remove_slot(uint32_t hole)
{
    for (uint32_t next = (hole + 1) & (LIVE_MAX - 1); live[next].addr != 0;
         next = (next + 1) & (LIVE_MAX - 1)) {
        uint32_t home = live_slot_of(live[next].addr);
        bool between = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (!between) {
            live[hole] = live[next];
            hole = next;
        }
    }
    live[hole].addr = 0;
    live_count--;
}

static bool live_take(uintptr_t addr, live_sample *out)
{
    for (uint32_t slot = live_slot_of(addr); live[slot].addr != 0;
         slot = (slot + 1) & (LIVE_MAX - 1)) {
        if (live[slot].addr == addr) {
            *out = live[slot];
            live_remove_slot(slot);
            uint32_t *f = &hak_prof_filter[hak_prof_filter_index((void *)addr)];
            __atomic_store_n(f, *f - 1, __ATOMIC_RELAXED);
            return true;
        }
    }
    return false;
}

// ------------------------------------------------------------ sample and free

static void count_site(uint32_t index, size_t size, uint64_t weight)
{
    site *s = &sites[index];
    __atomic_fetch_add(&s->samples, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->requested_bytes, size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->weight, weight, __ATOMIC_RELAXED);
    __atomic_fetch_add(&samples_total, 1, __ATOMIC_RELAXED);
}

static void record(const uintptr_t *frames, uint32_t n, void *p, size_t size)
{
    uint64_t weight = sample_weight(size);
    pthread_mutex_lock(&prof_lock);
    uint32_t index = find_site(frames, n);
    bool kept = index != UINT32_MAX && live_insert((uintptr_t)p, index, weight);
    if (kept)
        count_site(index, size, weight);
    else
        __atomic_fetch_add(&unrecorded, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&prof_lock);
}

/* The thread's `prof_busy` keeps the sampler out of itself: what the
 * unwinder allocates (and a signal handler's malloc on this thread) is
 * served, and not sampled. */
static void sample(hak_heap *h, void *p, size_t size)
{
    h->prof_left = next_distance(h);
    if (h->prof_busy || !unwinder_ready())
        return;
    h->prof_busy = true;
    uintptr_t frames[MAX_DEPTH];
    uint32_t n = take_stack(frames);
    record(frames, n, p, size);
    h->prof_busy = false;
}

/* With counting or HAKMEM_CHECK on, every allocation comes here (track_left
 * stays -1: below zero even after a malloc(0)) and prof_left counts on its
 * own; otherwise track_left is the count, and it has just crossed zero. */
__attribute__((noinline)) void hak_prof_after_alloc(hak_heap *h, void *p, size_t size)
{
    if (hak_alloc_tracking) {
        h->prof_left -= (int64_t)size;
        if (h->prof_left < 0)
            sample(h, p, size);
        h->track_left = -1;
    } else {
        sample(h, p, size);
        h->track_left = h->prof_left;
    }
}

__attribute__((noinline)) void hak_prof_forget(void *p)
{
    live_sample gone;
    pthread_mutex_lock(&prof_lock);
    bool found = live_take((uintptr_t)p, &gone);
    if (found) {
        site *s = &sites[gone.site];
        __atomic_fetch_add(&s->samples_freed, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->weight_freed, gone.weight, __ATOMIC_RELAXED);
        __atomic_fetch_add(&samples_freed_total, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&prof_lock);
}

// ------------------------------------------------------------ the dump's view

static uint64_t load(const uint64_t *v) { return __atomic_load_n(v, __ATOMIC_RELAXED); }

/* A difference of two counters read one after the other: the second may
 * have moved past the first. */
static uint64_t difference(uint64_t total, uint64_t part) { return total > part ? total - part : 0; }

void hak_prof_locate(uintptr_t addr, hak_prof_place *out)
{
    /* A return address: the call before it is what the frame is doing
     * (it may be the last instruction of its function). */
    Dl_info info;
    *out = (hak_prof_place){"", NULL, 0, 0};
    if (addr == 0 || dladdr((void *)(addr - 1), &info) == 0)
        return;
    out->obj = info.dli_fname != NULL ? info.dli_fname : "";
    out->obj_base = (uintptr_t)info.dli_fbase;
    if (info.dli_sname != NULL && info.dli_saddr != NULL) {
        out->sym = info.dli_sname;
        out->sym_addr = (uintptr_t)info.dli_saddr;
    }
}

void hak_prof_get_totals(hak_prof_totals *out)
{
    uint64_t freed = load(&samples_freed_total);
    out->sample_bytes = (uint64_t)mean_bytes;
    out->depth = depth;
    out->samples = load(&samples_total);
    out->samples_live = difference(out->samples, freed);
    out->unrecorded = load(&unrecorded);
}

uint32_t hak_prof_site_count(void)
{
    return hak_prof_enabled ? __atomic_load_n(&site_count, __ATOMIC_ACQUIRE) : 0;
}

void hak_prof_get_site(uint32_t i, hak_prof_site *out)
{
    const site *s = &sites[i];
    uint64_t freed = load(&s->samples_freed), weight_freed = load(&s->weight_freed);
    out->samples = load(&s->samples);
    out->samples_live = difference(out->samples, freed);
    out->requested_bytes = load(&s->requested_bytes);
    out->allocated_bytes = load(&s->weight);
    out->live_bytes = difference(out->allocated_bytes, weight_freed);
    out->depth = s->depth;
    out->frames = site_frames + (size_t)i * depth;
}

// ------------------------------------------------------------ fork

/* A thread loading libunwind would not exist in the child, which would
 * then wait for it for ever: fork waits for the load to finish.  First,
 * before any allocator lock is taken, as the loader allocates. */
void hak_prof_quiesce(void)
{
    while (__atomic_load_n(&unwinder_state, __ATOMIC_ACQUIRE) == UNWINDER_LOADING)
        sched_yield();
}

void hak_prof_lock(void) { pthread_mutex_lock(&prof_lock); }
void hak_prof_unlock(void) { pthread_mutex_unlock(&prof_lock); }
void hak_prof_reset_after_fork(void) { pthread_mutex_init(&prof_lock, NULL); }
