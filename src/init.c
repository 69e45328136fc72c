#include "init.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "alloc.h"
#include "check.h"
#include "env/env.h"
#include "large.h"
#include "meta.h"
#include "mid/shared_pool.h"
#include "os.h"
#include "prof/prof.h"
#include "stats/stats.h"
#include "thread.h"
#include "slab/slab.h"

enum { INIT_NONE, INIT_RUNNING, INIT_READY };

static int init_state;
static pthread_t init_thread;

// ------------------------------------------------------------ fork

/* Every lock, in the one order all paths take them (class locks before the
 * OS and metadata locks), so the child inherits none held by a thread that
 * does not exist there. */
static void fork_prepare(void)
{
    hak_prof_quiesce();
    hak_heaps_lock();
    slab_lock();
    spool_lock_all();
    large_lock();
    hak_os_lock();
    hak_meta_lock();
    hak_prof_lock();
}

static void fork_parent(void)
{
    hak_prof_unlock();
    hak_meta_unlock();
    hak_os_unlock();
    large_unlock();
    spool_unlock_all();
    slab_unlock();
    hak_heaps_unlock();
}

static void fork_child(void)
{
    hak_prof_reset_after_fork();
    hak_meta_reset_after_fork();
    hak_os_reset_after_fork();
    large_reset_after_fork();
    spool_reset_after_fork();
    slab_reset_after_fork();
    hak_stats_reset_after_fork();
    hak_stats_mark_start();
    hak_heaps_reset_after_fork();
}

// ------------------------------------------------------------ init

static void init_once(void)
{
    hak_env_init();
    hak_stats_init();
    hak_check_init();
    hak_stats_dump_init();
    hak_os_init();
    hak_prof_init();
    hak_alloc_configure();
    hak_thread_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

bool hak_init(void)
{
    int state = __atomic_load_n(&init_state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(state == INIT_READY, 1))
        return true;
    if (state == INIT_NONE &&
        __atomic_compare_exchange_n(&init_state, &state, INIT_RUNNING, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        /* Atomic: other threads read it while this one initialises. */
        __atomic_store_n(&init_thread, pthread_self(), __ATOMIC_RELAXED);
        init_once();
        __atomic_store_n(&init_state, INIT_READY, __ATOMIC_RELEASE);
        return true;
    }
    if (hak_bootstrapping())
        return false;
    while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != INIT_READY)
        sched_yield();
    return true;
}

bool hak_bootstrapping(void)
{
    return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_RUNNING &&
           pthread_equal(__atomic_load_n(&init_thread, __ATOMIC_RELAXED), pthread_self());
}

// ------------------------------------------------------------ bootstrap area

/* Only start-up's own recursive calls land here: a few small blocks.  They
 * are never freed (free() recognises and ignores them). */
#define BOOT_SIZE ((size_t)64 << 10)
#define BOOT_HEADER ((size_t)16)

static char boot_area[BOOT_SIZE] __attribute__((aligned(4096)));
static size_t boot_used;

void *hak_bootstrap_alloc(size_t size, size_t align)
{
    if (align < BOOT_HEADER)
        align = BOOT_HEADER;
    size_t start = (boot_used + BOOT_HEADER + align - 1) & ~(align - 1);
    if (size > BOOT_SIZE || start + size > BOOT_SIZE)
        return NULL;
    boot_used = start + size;
    *(size_t *)(boot_area + start - BOOT_HEADER) = size;
    return boot_area + start;
}

bool hak_bootstrap_owns(const void *p)
{
    return (const char *)p >= boot_area && (const char *)p < boot_area + BOOT_SIZE;
}

size_t hak_bootstrap_usable(const void *p)
{
    return *(const size_t *)((const char *)p - BOOT_HEADER);
}
