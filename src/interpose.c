/*
 * The C library's names.  Linked ahead of libc, or preloaded, these replace
 * the whole malloc family (C++ operator new and delete reach them through
 * malloc and free).  Pointers hakmem did not hand out go to the next
 * allocator in the link chain, found with dlsym(RTLD_NEXT) the first time
 * one is seen.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "alloc.h"
#include "hakmem.h"

HAK_API HAK_ENTRY void *malloc(size_t size) { return hak_malloc(size); }
HAK_API HAK_ENTRY void free(void *p) { hak_free(p); }
HAK_API HAK_ENTRY void *calloc(size_t count, size_t size) { return hak_calloc(count, size); }
HAK_API HAK_ENTRY void *realloc(void *p, size_t size) { return hak_realloc(p, size); }
HAK_API HAK_ENTRY void *reallocarray(void *p, size_t count, size_t size)
{
    return hak_reallocarray(p, count, size);
}
HAK_API HAK_ENTRY int posix_memalign(void **out, size_t align, size_t size)
{
    return hak_posix_memalign(out, align, size);
}
HAK_API HAK_ENTRY void *aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc(align, size); }
HAK_API HAK_ENTRY void *memalign(size_t align, size_t size) { return hak_memalign(align, size); }
HAK_API HAK_ENTRY void *valloc(size_t size) { return hak_valloc(size); }
HAK_API HAK_ENTRY void *pvalloc(size_t size) { return hak_pvalloc(size); }
HAK_API HAK_ENTRY size_t malloc_usable_size(void *p) { return hak_malloc_usable_size(p); }
/* glibc's own aliases, which some programs and libraries call directly. */
HAK_API HAK_ENTRY void cfree(void *p) { hak_free(p); }

// ------------------------------------------------------------ the next allocator

/* Resolved together, the first time a foreign pointer or a forwarded size
 * (HAKMEM_WRAP_L2=0) needs them. */
static struct {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*memalign)(size_t, size_t);
    void (*free)(void *);
    size_t (*usable_size)(void *);
} next;
static bool next_ready;
/* dlsym may allocate (its error state): a request that arrives while it
 * runs is served by hakmem itself rather than resolved again. */
static __thread bool resolving __attribute__((tls_model("initial-exec")));

static void *next_symbol(const char *name, void *ours)
{
    void *f = dlsym(RTLD_NEXT, name);
    return f == ours ? NULL : f;
}

static bool resolve_next(void)
{
    if (__atomic_load_n(&next_ready, __ATOMIC_ACQUIRE))
        return next.free != NULL;
    if (resolving)
        return false;
    resolving = true;
    next.malloc = next_symbol("malloc", (void *)malloc);
    next.calloc = next_symbol("calloc", (void *)calloc);
    next.realloc = next_symbol("realloc", (void *)realloc);
    next.memalign = next_symbol("memalign", (void *)memalign);
    next.usable_size = next_symbol("malloc_usable_size", (void *)malloc_usable_size);
    next.free = next_symbol("free", (void *)free);
    resolving = false;
    __atomic_store_n(&next_ready, true, __ATOMIC_RELEASE);
    return next.free != NULL;
}

void hak_foreign_free(void *p)
{
    if (resolve_next())
        next.free(p);
}

size_t hak_foreign_usable_size(void *p)
{
    if (resolve_next() && next.usable_size != NULL)
        return next.usable_size(p);
    return 0;
}

static void *unreachable(void)
{
    errno = EAGAIN;
    return NULL;
}

void *hak_next_malloc(size_t size)
{
    if (!resolve_next() || next.malloc == NULL)
        return unreachable();
    return next.malloc(size);
}

void *hak_next_calloc(size_t size)
{
    if (!resolve_next() || next.calloc == NULL)
        return unreachable();
    return next.calloc(1, size);
}

void *hak_next_realloc(void *p, size_t size)
{
    if (!resolve_next() || next.realloc == NULL)
        return unreachable();
    return next.realloc(p, size);
}

void *hak_next_memalign(size_t align, size_t size)
{
    if (!resolve_next() || next.memalign == NULL)
        return unreachable();
    return next.memalign(align, size);
}
