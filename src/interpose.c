/*
 * The C library's names.  Linked ahead of libc, or preloaded, these replace
 * the whole malloc family (C++ operator new and delete reach them through
 * malloc and free).  Pointers hakmem did not hand out go to the next
 * allocator in the link chain, found with dlsym(RTLD_NEXT) the first time
 * one is seen.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

#include "alloc.h"
#include "hakmem.h"

HAK_API void *malloc(size_t size) { return hak_malloc(size); }
HAK_API void free(void *p) { hak_free(p); }
HAK_API void *calloc(size_t count, size_t size) { return hak_calloc(count, size); }
HAK_API void *realloc(void *p, size_t size) { return hak_realloc(p, size); }
HAK_API void *reallocarray(void *p, size_t count, size_t size)
{
    return hak_reallocarray(p, count, size);
}
HAK_API int posix_memalign(void **out, size_t align, size_t size)
{
    return hak_posix_memalign(out, align, size);
}
HAK_API void *aligned_alloc(size_t align, size_t size) { return hak_aligned_alloc(align, size); }
HAK_API void *memalign(size_t align, size_t size) { return hak_memalign(align, size); }
HAK_API void *valloc(size_t size) { return hak_valloc(size); }
HAK_API void *pvalloc(size_t size) { return hak_pvalloc(size); }
HAK_API size_t malloc_usable_size(void *p) { return hak_malloc_usable_size(p); }
/* glibc's own aliases, which some programs and libraries call directly. */
HAK_API void cfree(void *p) { hak_free(p); }

// ------------------------------------------------------------ the next allocator

static void (*next_free)(void *);
static size_t (*next_usable_size)(void *);
/* dlsym may allocate (its error state); if that somehow frees a foreign
 * pointer, we must not resolve again from inside the resolution. */
static __thread bool resolving __attribute__((tls_model("initial-exec")));

static bool resolve_next(void)
{
    if (__atomic_load_n(&next_free, __ATOMIC_ACQUIRE) != NULL)
        return true;
    if (resolving)
        return false;
    resolving = true;
    void *usable = dlsym(RTLD_NEXT, "malloc_usable_size");
    void *fr = dlsym(RTLD_NEXT, "free");
    resolving = false;
    if (fr == NULL || fr == (void *)free)
        return false;
    __atomic_store_n(&next_usable_size, (size_t(*)(void *))usable, __ATOMIC_RELEASE);
    __atomic_store_n(&next_free, (void (*)(void *))fr, __ATOMIC_RELEASE);
    return true;
}

void hak_foreign_free(void *p)
{
    if (resolve_next())
        next_free(p);
}

size_t hak_foreign_usable_size(void *p)
{
    if (resolve_next() && next_usable_size != NULL && next_usable_size != malloc_usable_size)
        return next_usable_size(p);
    return 0;
}
