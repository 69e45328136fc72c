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
    struct span_rec *next;
} span_rec;

/* os_lock guards the lists and the carving below; it is held for list
 * operations only: madvise and the metadata arena's lock are taken outside
 * it, so a thread preempted in a system call holds up no other refill. */
static pthread_mutex_t os_lock = PTHREAD_MUTEX_INITIALIZER;
static span_rec *warm_spans[HAK_SPAN_KINDS];   /* pages resident; most recently freed first */
static span_rec *purged_spans[HAK_SPAN_KINDS]; /* pages released: they read as zero */
static span_rec *free_recs;
static char *area_next, *area_end; /* the reservation chunks are carved from */
static char *unit_next, *unit_end; /* the chunk units are carved from */
static uint64_t purge_delay_ms;

void hak_lock_counted(pthread_mutex_t *m, hak_stat_id acquired, hak_stat_id contended)
{
    hak_stat_count(acquired, 1);
    if (!hak_lock_stats_enabled) {
        pthread_mutex_lock(m);
    } else if (pthread_mutex_trylock(m) != 0) {
        hak_stat_count(contended, 1);
        pthread_mutex_lock(m);
    }
}

static void os_lock_take(void)
{
    hak_lock_counted(&os_lock, HAK_STAT_OS_LOCK_ACQUIRE, HAK_STAT_OS_LOCK_CONTENDED);
}

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

static span_rec *list_pop(span_rec **list)
{
    span_rec *rec = *list;
    if (rec != NULL)
        *list = rec->next;
    return rec;
}

static void list_push(span_rec **list, span_rec *rec)
{
    rec->next = *list;
    *list = rec;
}

/* Warm spans first: their pages are resident, where a purged span's fault
 * in again at 11-14 us a page. */
void *hak_span_alloc(enum hak_span_kind kind, bool *zeroed)
{
    os_lock_take();
    void *span;
    span_rec *rec = list_pop(&warm_spans[kind]);
    *zeroed = rec == NULL;
    if (rec == NULL)
        rec = list_pop(&purged_spans[kind]);
    if (rec != NULL) {
        span = rec->addr;
        list_push(&free_recs, rec);
    } else {
        span = kind == HAK_SPAN_CHUNK ? carve_chunk() : carve_unit();
    }
    pthread_mutex_unlock(&os_lock);
    if (span == NULL)
        errno = ENOMEM;
    return span;
}

void hak_span_free(enum hak_span_kind kind, void *span, bool idle)
{
    bool purge_now = purge_delay_ms == 0;
    if (purge_now)
        hak_os_release_pages(span, hak_span_size(kind));
    uint64_t now = hak_now_ms();
    os_lock_take();
    span_rec *rec = list_pop(&free_recs);
    if (rec == NULL) {
        pthread_mutex_unlock(&os_lock); /* the arena has a lock of its own: not nested */
        rec = hak_meta_alloc(sizeof(span_rec));
        if (rec == NULL) {
            /* No metadata memory left: give the span's pages back now and leak
             * its address range rather than lose track of it in a bad state. */
            hak_os_release_pages(span, hak_span_size(kind));
            return;
        }
        os_lock_take();
    }
    rec->addr = span;
    rec->freed_ms = idle ? 0 : now;
    list_push(purge_now ? &purged_spans[kind] : &warm_spans[kind], rec);
    pthread_mutex_unlock(&os_lock);
}

/* Takes the warm spans whose delay is over (all if force) off their lists,
 * releases their pages with the lock dropped, and files them as purged.
 * While that runs they are on neither list: a span_alloc then carves a new
 * span rather than wait. */
void hak_os_purge(bool force)
{
    uint64_t now = hak_now_ms();
    span_rec *due[HAK_SPAN_KINDS] = {NULL};
    os_lock_take();
    for (int kind = 0; kind < HAK_SPAN_KINDS; kind++) {
        for (span_rec **at = &warm_spans[kind]; *at != NULL;) {
            span_rec *rec = *at;
            if (force || now - rec->freed_ms >= purge_delay_ms) {
                *at = rec->next;
                list_push(&due[kind], rec);
            } else {
                at = &rec->next;
            }
        }
    }
    pthread_mutex_unlock(&os_lock);
    for (int kind = 0; kind < HAK_SPAN_KINDS; kind++) {
        if (due[kind] == NULL)
            continue;
        span_rec *last = due[kind];
        for (;; last = last->next) {
            hak_os_release_pages(last->addr, hak_span_size((enum hak_span_kind)kind));
            if (last->next == NULL)
                break;
        }
        os_lock_take();
        last->next = purged_spans[kind];
        purged_spans[kind] = due[kind];
        pthread_mutex_unlock(&os_lock);
    }
}

void hak_os_lock(void) { pthread_mutex_lock(&os_lock); }
void hak_os_unlock(void) { pthread_mutex_unlock(&os_lock); }
void hak_os_reset_after_fork(void) { pthread_mutex_init(&os_lock, NULL); }
