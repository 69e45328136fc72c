#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>

#include "env/env.h"
#include "meta.h"
#include "stats/stats.h"

#define UNIT_SIZE ((size_t)64 << 10)
#define AREA_SIZE ((size_t)64 << 20) /* one reservation: 32 chunks */

/* A cached free span.  Kept outside the span so that purging and reusing it
 * never touches (and faults in) its pages. */
typedef struct span_rec {
    void *addr;
    uint64_t freed_ms;
    bool purged;
    struct span_rec *next;
} span_rec;

static pthread_mutex_t os_lock = PTHREAD_MUTEX_INITIALIZER;
static span_rec *span_cache[HAK_SPAN_KINDS]; /* most recently freed first */
static span_rec *free_recs;
static char *area_next, *area_end; /* the reservation chunks are carved from */
static char *unit_next, *unit_end; /* the chunk units are carved from */
static uint64_t purge_delay_ms;

void hak_os_init(void) { purge_delay_ms = (uint64_t)hak_env.purge_delay_ms; }

uint64_t hak_purge_delay_ms(void) { return purge_delay_ms; }

uint64_t hak_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t hak_span_size(enum hak_span_kind kind)
{
    return kind == HAK_SPAN_CHUNK ? HAK_CHUNK_SIZE : UNIT_SIZE;
}

/* Every mmap and munmap hakmem makes goes through these two, for the dump. */
void *hak_os_mmap(size_t size, int flags)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    hak_stat_count(HAK_STAT_OS_MMAP_CALLS, 1);
    hak_stat_count(HAK_STAT_OS_MMAP_BYTES, size);
    return p;
}

void hak_os_munmap(void *p, size_t size)
{
    munmap(p, size);
    hak_stat_count(HAK_STAT_OS_MUNMAP_CALLS, 1);
    hak_stat_count(HAK_STAT_OS_MUNMAP_BYTES, size);
}

void *hak_os_map(size_t size)
{
    void *p = hak_os_mmap(size, 0);
    if (p != NULL)
        hak_stats_mapped((int64_t)size);
    return p;
}

void hak_os_unmap(void *p, size_t size)
{
    hak_os_munmap(p, size);
    hak_stats_mapped(-(int64_t)size);
}

bool hak_os_grow_in_place(void *p, size_t old_size, size_t new_size)
{
    if (mremap(p, old_size, new_size, 0) == MAP_FAILED)
        return false;
    hak_stats_mapped((int64_t)(new_size - old_size));
    return true;
}

bool hak_os_move_pages(void *src, size_t len, void *dst)
{
    if (mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED)
        return false;
    hak_stats_mapped(-(int64_t)len); /* dst was counted when mapped; src is gone */
    return true;
}

void hak_os_release_pages(void *p, size_t size)
{
    uintptr_t start = ((uintptr_t)p + HAK_PAGE_SIZE - 1) & ~(HAK_PAGE_SIZE - 1);
    uintptr_t end = ((uintptr_t)p + size) & ~(HAK_PAGE_SIZE - 1);
    if (end > start && madvise((void *)start, end - start, MADV_DONTNEED) == 0) {
        hak_stat_count(HAK_STAT_OS_MADVISE_CALLS, 1);
        hak_stat_count(HAK_STAT_OS_MADVISE_BYTES, end - start);
    }
}

/* Reserves a chunk-aligned area: 64 MiB when the address space allows it,
 * a single chunk when it is tight (a small RLIMIT_AS). */
static bool reserve_area(void)
{
    static const size_t sizes[] = {AREA_SIZE, HAK_CHUNK_SIZE};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t want = sizes[i] + HAK_CHUNK_SIZE;
        char *raw = hak_os_mmap(want, MAP_NORESERVE);
        if (raw == NULL)
            continue;
        char *start = (char *)(((uintptr_t)raw + HAK_CHUNK_SIZE - 1) & ~(HAK_CHUNK_SIZE - 1));
        if (start > raw)
            hak_os_munmap(raw, (size_t)(start - raw));
        char *tail = start + sizes[i];
        if (raw + want > tail)
            hak_os_munmap(tail, (size_t)(raw + want - tail));
        area_next = start;
        area_end = tail;
        return true;
    }
    return false;
}

static void *carve_chunk(void)
{
    if (area_next == area_end && !reserve_area())
        return NULL;
    void *chunk = area_next;
    area_next += HAK_CHUNK_SIZE;
    hak_stats_mapped((int64_t)HAK_CHUNK_SIZE); /* reserved space counts once carved */
    return chunk;
}

static void *carve_unit(void)
{
    if (unit_next == unit_end) {
        unit_next = carve_chunk();
        if (unit_next == NULL)
            return NULL;
        unit_end = unit_next + HAK_CHUNK_SIZE;
    }
    void *unit = unit_next;
    unit_next += UNIT_SIZE;
    return unit;
}

void *hak_span_alloc(enum hak_span_kind kind, bool *zeroed)
{
    pthread_mutex_lock(&os_lock);
    void *span;
    span_rec *rec = span_cache[kind];
    if (rec != NULL) {
        span_cache[kind] = rec->next;
        span = rec->addr;
        *zeroed = rec->purged; /* MADV_DONTNEED pages read back as zero */
        rec->next = free_recs;
        free_recs = rec;
    } else {
        span = kind == HAK_SPAN_CHUNK ? carve_chunk() : carve_unit();
        *zeroed = true;
    }
    pthread_mutex_unlock(&os_lock);
    if (span == NULL)
        errno = ENOMEM;
    return span;
}

static span_rec *new_rec(void)
{
    span_rec *rec = free_recs;
    if (rec != NULL) {
        free_recs = rec->next;
        return rec;
    }
    return hak_meta_alloc(sizeof(span_rec));
}

static void purge_cache_locked(uint64_t now, bool force)
{
    for (int kind = 0; kind < HAK_SPAN_KINDS; kind++) {
        for (span_rec *rec = span_cache[kind]; rec != NULL; rec = rec->next) {
            if (rec->purged || (!force && now - rec->freed_ms < purge_delay_ms))
                continue;
            hak_os_release_pages(rec->addr, hak_span_size((enum hak_span_kind)kind));
            rec->purged = true;
        }
    }
}

void hak_span_free(enum hak_span_kind kind, void *span, bool idle)
{
    uint64_t now = hak_now_ms();
    pthread_mutex_lock(&os_lock);
    span_rec *rec = new_rec();
    if (rec == NULL) {
        /* No metadata memory left: give the span's pages back now and leak its
         * address range rather than lose track of it in a bad state. */
        pthread_mutex_unlock(&os_lock);
        hak_os_release_pages(span, hak_span_size(kind));
        return;
    }
    rec->addr = span;
    rec->freed_ms = idle ? 0 : now;
    rec->purged = false;
    rec->next = span_cache[kind];
    span_cache[kind] = rec;
    if (purge_delay_ms == 0)
        purge_cache_locked(now, true);
    pthread_mutex_unlock(&os_lock);
}

void hak_os_purge(bool force)
{
    uint64_t now = hak_now_ms();
    pthread_mutex_lock(&os_lock);
    purge_cache_locked(now, force);
    pthread_mutex_unlock(&os_lock);
}

void hak_os_lock(void) { pthread_mutex_lock(&os_lock); }
void hak_os_unlock(void) { pthread_mutex_unlock(&os_lock); }
void hak_os_reset_after_fork(void) { pthread_mutex_init(&os_lock, NULL); }
