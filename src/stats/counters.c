#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../env/env.h"
#include "../os.h"
#include "../thread.h"
#include "stats.h"

bool hak_stats_enabled;
bool hak_hist_enabled;
bool hak_lock_stats_enabled;

uint64_t hak_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts of exited threads and of events with no heap to count in. */
static hak_stats_shard totals;
static int64_t mapped_now;
static uint64_t mapped_peak;

/* Live heaps, found without a lock (a dump may run in a signal handler):
 * chunks of slots, each slot a heap pointer or NULL.  Heaps stay mapped
 * after their thread exits (the metadata arena never unmaps), so a reader
 * holding a stale pointer reads counts, never unmapped memory. */
#define SLOTS_PER_CHUNK 1024
#define SLOT_CHUNKS 256
static hak_heap **slot_chunks[SLOT_CHUNKS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

void hak_stats_init(void)
{
    hak_stats_enabled = hak_env.stats || hak_env.stats_signal != 0;
    hak_hist_enabled = hak_stats_enabled && hak_env.size_hist;
    hak_lock_stats_enabled = hak_stats_enabled && hak_env.shared_pool_lock_stats;
}

// ------------------------------------------------------------ counting

static void total_add(uint64_t *c, uint64_t n) { __atomic_fetch_add(c, n, __ATOMIC_RELAXED); }

void hak_stat_add(hak_stat_id id, uint64_t n)
{
    hak_heap *h = hak_tls_heap;
    if (h != &hak_empty_heap)
        hak_stat_bump(&h->stats.global[id], n);
    else
        total_add(&totals.global[id], n);
}

void hak_stat_add_class(unsigned cls, hak_class_stat_id id, uint64_t n)
{
    hak_heap *h = hak_tls_heap;
    if (h != &hak_empty_heap)
        hak_stat_bump(&h->stats.cls[cls][id], n);
    else
        total_add(&totals.cls[cls][id], n);
}

void hak_stat_request(size_t size)
{
    if (!hak_hist_enabled)
        return;
    hak_heap *h = hak_tls_heap;
    if (h != &hak_empty_heap)
        hak_stat_bump(&h->stats.hist[hak_hist_bucket(size)], 1);
    else
        total_add(&totals.hist[hak_hist_bucket(size)], 1);
}

// ------------------------------------------------------------ mapped bytes

void hak_stats_mapped(int64_t delta)
{
    int64_t now = __atomic_add_fetch(&mapped_now, delta, __ATOMIC_RELAXED);
    uint64_t peak = __atomic_load_n(&mapped_peak, __ATOMIC_RELAXED);
    while (now > 0 && (uint64_t)now > peak &&
           !__atomic_compare_exchange_n(&mapped_peak, &peak, (uint64_t)now, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
}

uint64_t hak_stats_mapped_now(void)
{
    int64_t now = __atomic_load_n(&mapped_now, __ATOMIC_RELAXED);
    return now > 0 ? (uint64_t)now : 0;
}

uint64_t hak_stats_mapped_peak(void) { return __atomic_load_n(&mapped_peak, __ATOMIC_RELAXED); }

// ------------------------------------------------------------ shards

static hak_heap **slot_at(size_t i, bool create)
{
    hak_heap **chunk = __atomic_load_n(&slot_chunks[i / SLOTS_PER_CHUNK], __ATOMIC_ACQUIRE);
    if (chunk == NULL && create) {
        void *m = hak_os_mmap(SLOTS_PER_CHUNK * sizeof(hak_heap *), 0);
        if (m == NULL)
            return NULL;
        hak_stats_mapped((int64_t)(SLOTS_PER_CHUNK * sizeof(hak_heap *)));
        chunk = m;
        __atomic_store_n(&slot_chunks[i / SLOTS_PER_CHUNK], chunk, __ATOMIC_RELEASE);
    }
    return chunk == NULL ? NULL : &chunk[i % SLOTS_PER_CHUNK];
}

/* With counting off a shard stays zero, so neither a thread's start nor its
 * exit need the slot list: thread churn spent a tenth of its instructions
 * folding zeros into the totals. */
void hak_stats_register(hak_heap *h)
{
    if (!hak_stats_enabled)
        return;
    pthread_mutex_lock(&slots_lock);
    for (size_t i = 0; i < (size_t)SLOTS_PER_CHUNK * SLOT_CHUNKS; i++) {
        hak_heap **slot = slot_at(i, true);
        if (slot == NULL)
            break; /* no memory for slots: this thread counts, unseen until it exits */
        if (*slot == NULL) {
            __atomic_store_n(slot, h, __ATOMIC_RELEASE);
            break;
        }
    }
    pthread_mutex_unlock(&slots_lock);
}

static void fold(uint64_t *dst, uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
        if (v != 0) {
            total_add(&dst[i], v);
            __atomic_store_n(&src[i], 0, __ATOMIC_RELAXED);
        }
    }
}

void hak_stats_retire(hak_heap *h)
{
    if (!hak_stats_enabled)
        return;
    pthread_mutex_lock(&slots_lock);
    for (size_t i = 0; i < (size_t)SLOTS_PER_CHUNK * SLOT_CHUNKS; i++) {
        hak_heap **slot = slot_at(i, false);
        if (slot == NULL)
            break;
        if (*slot == h) {
            __atomic_store_n(slot, NULL, __ATOMIC_RELEASE);
            break;
        }
    }
    pthread_mutex_unlock(&slots_lock);
    fold(totals.global, h->stats.global, HAK_STAT_COUNT);
    fold(&totals.cls[0][0], &h->stats.cls[0][0], (size_t)HAK_CLASS_COUNT * HAK_CSTAT_COUNT);
    fold(totals.hist, h->stats.hist, HAK_HIST_BUCKETS);
}

static void add_into(uint64_t *dst, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static void add_shard(hak_stats_shard *out, const hak_stats_shard *s)
{
    add_into(out->global, s->global, HAK_STAT_COUNT);
    add_into(&out->cls[0][0], &s->cls[0][0], (size_t)HAK_CLASS_COUNT * HAK_CSTAT_COUNT);
    add_into(out->hist, s->hist, HAK_HIST_BUCKETS);
}

void hak_stats_collect(hak_stats_shard *out)
{
    memset(out, 0, sizeof(*out));
    add_shard(out, &totals);
    for (size_t c = 0; c < SLOT_CHUNKS; c++) {
        hak_heap **chunk = __atomic_load_n(&slot_chunks[c], __ATOMIC_ACQUIRE);
        if (chunk == NULL)
            break;
        for (size_t i = 0; i < SLOTS_PER_CHUNK; i++) {
            hak_heap *h = __atomic_load_n(&chunk[i], __ATOMIC_ACQUIRE);
            if (h != NULL)
                add_shard(out, &h->stats);
        }
    }
}

/* A fork child counts its own events from zero, but levels derived from
 * counters carry over: slabs_new restarts at the slabs in use it inherited
 * (slabs_in_use = slabs_new - slabs_released stays true), and threads
 * started at the forking thread, if it has a heap. */
void hak_stats_reset_after_fork(void)
{
    static hak_stats_shard inherited; /* too big for the stack of a fork handler */
    hak_stats_collect(&inherited);
    pthread_mutex_init(&slots_lock, NULL);
    memset(&totals, 0, sizeof(totals));
    for (size_t c = 0; c < SLOT_CHUNKS && slot_chunks[c] != NULL; c++)
        for (size_t i = 0; i < SLOTS_PER_CHUNK; i++)
            if (slot_chunks[c][i] != NULL)
                memset(&slot_chunks[c][i]->stats, 0, sizeof(hak_stats_shard));
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        uint64_t made = inherited.cls[c][HAK_CSTAT_SLABS_NEW];
        uint64_t gone = inherited.cls[c][HAK_CSTAT_SLABS_RELEASED];
        totals.cls[c][HAK_CSTAT_SLABS_NEW] = made > gone ? made - gone : 0;
    }
    totals.global[HAK_STAT_THREADS_STARTED] = hak_tls_heap != &hak_empty_heap;
}
