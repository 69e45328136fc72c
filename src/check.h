/*
 * HAKMEM_CHECK=1: free() checks its pointer.  A freed tiny, mid or pool
 * block carries a mark in its second word (the address XOR a per-process
 * secret, as glibc's tcache key does); a free that finds the mark is a
 * double free.  A pointer that is not at a block boundary is an interior
 * pointer.  Either is reported on stderr and the process aborts.  Every
 * allocation path clears the mark (hak_track_alloc_then).
 */
#ifndef HAK_CHECK_H
#define HAK_CHECK_H

#include <stdbool.h>

#include "registry.h"

extern bool hak_check_enabled;

void hak_check_init(void);
/* Checks a free of p (whose registry entry is e); aborts on a bad one,
 * else marks the block freed. */
void hak_check_free(hak_reg_entry e, void *p);
/* The block is handed out again: clear its mark. */
static inline void hak_check_clear(void *p) { ((void **)p)[1] = 0; }

#endif /* HAK_CHECK_H */
