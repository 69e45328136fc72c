/*
 * Force-included (-include) into the tests that the ThreadSanitizer build
 * compiles: the test's malloc family becomes hakmem's hak_* API.
 *
 * TSan intercepts malloc itself (its allocator knows which memory a free
 * releases, which is how it orders a free against a later reuse).  A test
 * that replaced malloc would take that away from it; one that kept it would
 * never run hakmem.  So the allocator is linked statically without its C
 * names (tests/sanitize/CMakeLists.txt) and the tests call it by its own;
 * everything else in the process (libc, cmocka, TSan) keeps TSan's malloc,
 * which is also what hakmem finds as the next allocator.
 *
 * The system headers come first, so that their declarations are not renamed.
 */
#ifndef HAK_DIRECT_H
#define HAK_DIRECT_H

#include <malloc.h>
#include <stdlib.h>

#include "hakmem.h"

#define malloc hak_malloc
#define free hak_free
#define calloc hak_calloc
#define realloc hak_realloc
#define reallocarray hak_reallocarray
#define posix_memalign hak_posix_memalign
#define aligned_alloc hak_aligned_alloc
#define memalign hak_memalign
#define valloc hak_valloc
#define pvalloc hak_pvalloc
#define malloc_usable_size hak_malloc_usable_size

#endif /* HAK_DIRECT_H */
