/*
 * Size classes: size -> class index by formula, class index -> size by the
 * table generated from size_classes.def.
 */
#ifndef HAK_SIZE_CLASS_H
#define HAK_SIZE_CLASS_H

#include <stddef.h>
#include <stdint.h>

enum hak_tier { HAK_TIER_TINY, HAK_TIER_MID, HAK_TIER_POOL };

#define HAK_CLASS_COUNT 112
#define HAK_TINY_CLASSES 32 /* classes 0..31: 16 B .. 1024 B */
#define HAK_MID_FIRST 32    /* classes 32..71: 1152 B .. 32 KiB */
#define HAK_POOL_FIRST 72   /* classes 72..111: 36 KiB .. 1 MiB */
#define HAK_RUNS_FIRST 80   /* classes 80..111: 72 KiB .. 1 MiB, page runs (mid/runs.h) */
#define HAK_MID_CLASSES (HAK_POOL_FIRST - HAK_MID_FIRST)
/* Classes the slab engine may serve: tiny always, mid with MF2 on. */
#define HAK_SLAB_CLASSES HAK_POOL_FIRST
#define HAK_POOL_CLASSES (HAK_CLASS_COUNT - HAK_POOL_FIRST)
#define HAK_TINY_MAX ((size_t)1024)
#define HAK_MID_MAX ((size_t)32 << 10)
#define HAK_POOL_MAX ((size_t)1 << 20) /* above this: a large mapping */

extern const uint32_t hak_class_size[HAK_CLASS_COUNT];
extern const uint8_t hak_class_tier[HAK_CLASS_COUNT];
extern const uint8_t hak_tiny_class_of[65];

/* 1 <= size <= HAK_POOL_MAX.  16-byte steps up to 128 B, then eight classes
 * per power of two: the index is 8 per doubling plus the three bits after
 * the leading one of (size - 1). */
static inline unsigned hak_size_to_class(size_t size)
{
    if (size <= 128)
        return size == 0 ? 0 : (unsigned)((size + 15) >> 4) - 1;
    size_t s = size - 1;
    unsigned top = 63u - (unsigned)__builtin_clzl(s);
    return 8u + (top - 7u) * 8u + (unsigned)((s >> (top - 3u)) & 7u);
}

/* The same, by table for the tiny sizes: one load on the malloc fast path. */
static inline unsigned hak_size_to_class_fast(size_t size)
{
    if (size <= HAK_TINY_MAX)
        return hak_tiny_class_of[(size + 15) >> 4];
    return hak_size_to_class(size);
}

/* The smallest class whose blocks hold `size` bytes and all start at a
 * multiple of `align` (a power of two <= HAK_POOL_MAX): slabs start at least
 * 4 KiB-aligned, so a block is aligned when its class size is a multiple of
 * align.  Powers of two are classes, so the loop ends within eight steps. */
static inline unsigned hak_aligned_class(size_t size, size_t align)
{
    unsigned c = hak_size_to_class(size > align ? size : align);
    while (hak_class_size[c] & (align - 1))
        c++;
    return c;
}

#endif /* HAK_SIZE_CLASS_H */
