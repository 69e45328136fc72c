/*
 * The address registry: which 32 KiB units of the address space hakmem owns,
 * and the metadata that owns each.
 *
 * free() of any pointer asks the registry first, so a pointer hakmem never
 * handed out is recognised without reading the memory it points to (the
 * earlier hakmem read a header in front of the block and needed mincore()
 * to do so safely: 634 cycles a call, seed 001).  A lookup is two dependent
 * loads.  Entries are written only when a tier maps or unmaps memory.
 */
#ifndef HAK_REGISTRY_H
#define HAK_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define HAK_UNIT_SHIFT 15 /* a tiny slab's (SLAB_SHIFT) */
#define HAK_UNIT_SIZE ((size_t)1 << HAK_UNIT_SHIFT)
#define HAK_ADDR_BITS 47 /* user space on x86-64 and arm64 with 4-level tables */
#define HAK_REG_LEAF_BITS 16
#define HAK_REG_TOP_BITS (HAK_ADDR_BITS - HAK_UNIT_SHIFT - HAK_REG_LEAF_BITS)

/* An entry is the address of the owning metadata (8-byte aligned) with the
 * kind in its low bits; 0 means "not ours". */
typedef uintptr_t hak_reg_entry;
enum hak_kind {
    HAK_KIND_NONE = 0,
    HAK_KIND_SLAB = 1,  /* -> struct hak_slab */
    HAK_KIND_SPOOL = 2, /* -> struct spool_slab (mid and pool tiers up to 64 KiB) */
    HAK_KIND_LARGE = 3, /* -> struct large_header */
    HAK_KIND_RUNS = 4,  /* -> struct run_chunk (pool classes above 64 KiB) */
};
#define HAK_KIND_MASK ((uintptr_t)7)

extern uintptr_t *hak_reg_top[(size_t)1 << HAK_REG_TOP_BITS];

static inline hak_reg_entry hak_reg_lookup(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (__builtin_expect(a >> HAK_ADDR_BITS, 0))
        return 0;
    uintptr_t *leaf = __atomic_load_n(&hak_reg_top[a >> (HAK_UNIT_SHIFT + HAK_REG_LEAF_BITS)],
                                      __ATOMIC_ACQUIRE);
    if (__builtin_expect(leaf == NULL, 0))
        return 0;
    return __atomic_load_n(&leaf[(a >> HAK_UNIT_SHIFT) & (((uintptr_t)1 << HAK_REG_LEAF_BITS) - 1)],
                           __ATOMIC_ACQUIRE);
}

static inline unsigned hak_reg_kind(hak_reg_entry e) { return (unsigned)(e & HAK_KIND_MASK); }
static inline void *hak_reg_meta(hak_reg_entry e) { return (void *)(e & ~HAK_KIND_MASK); }

/* Points every unit of [base, base + size) at meta with the given kind.
 * base is unit-aligned.  Returns 0, or -1 if a leaf could not be mapped. */
int hak_reg_set(void *base, size_t size, void *meta, enum hak_kind kind);
/* Marks the units of [base, base + size) as not ours. */
void hak_reg_clear(void *base, size_t size);

#endif /* HAK_REGISTRY_H */
