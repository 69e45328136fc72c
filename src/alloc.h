/*
 * Internal: what alloc.c needs from interpose.c, the one place that knows
 * about the next allocator in the link chain.
 */
#ifndef HAK_ALLOC_H
#define HAK_ALLOC_H

#include <stddef.h>

#define HAK_API __attribute__((visibility("default")))

/* A pointer hakmem did not hand out: given to the next allocator. */
void hak_foreign_free(void *p);
size_t hak_foreign_usable_size(void *p);

#endif /* HAK_ALLOC_H */
