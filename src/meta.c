#include "meta.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "os.h"
#include "stats/stats.h"

#define META_ALIGN ((size_t)64)
#define META_BUCKETS (HAK_META_MAX / META_ALIGN)
#define META_REGION ((size_t)1 << 20)

typedef struct meta_free {
    struct meta_free *next;
} meta_free;

static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static meta_free *buckets[META_BUCKETS];
static char *region_next, *region_end;

static void meta_lock_take(void)
{
    hak_lock_counted(&meta_lock, HAK_STAT_OS_META_LOCK_ACQUIRE, HAK_STAT_OS_META_LOCK_CONTENDED);
}

static size_t bucket_of(size_t size) { return (size + META_ALIGN - 1) / META_ALIGN - 1; }

static void *carve(size_t bytes)
{
    if ((size_t)(region_end - region_next) < bytes) {
        /* NORESERVE and untouched: only the pages records land on cost RSS. */
        void *r = hak_os_mmap(META_REGION, MAP_NORESERVE);
        if (r == NULL)
            return NULL;
        hak_stats_mapped((int64_t)META_REGION);
        region_next = r;
        region_end = region_next + META_REGION;
    }
    void *p = region_next;
    region_next += bytes;
    return p;
}

void *hak_meta_alloc(size_t size) { return hak_meta_alloc_part(size, size); }

void *hak_meta_alloc_part(size_t size, size_t zeroed)
{
    size_t b = bucket_of(size);
    if (b >= META_BUCKETS)
        return NULL;
    meta_lock_take();
    void *p = buckets[b];
    if (p != NULL)
        buckets[b] = buckets[b]->next;
    else
        p = carve((b + 1) * META_ALIGN);
    pthread_mutex_unlock(&meta_lock);
    if (p != NULL)
        memset(p, 0, zeroed < size ? zeroed : (b + 1) * META_ALIGN);
    return p;
}

void hak_meta_free(void *p, size_t size)
{
    size_t b = bucket_of(size);
    meta_free *f = p;
    meta_lock_take();
    f->next = buckets[b];
    buckets[b] = f;
    pthread_mutex_unlock(&meta_lock);
}

void hak_meta_lock(void) { pthread_mutex_lock(&meta_lock); }
void hak_meta_unlock(void) { pthread_mutex_unlock(&meta_lock); }
void hak_meta_reset_after_fork(void) { pthread_mutex_init(&meta_lock, NULL); }
