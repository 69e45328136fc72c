#include "registry.h"

#include <stdbool.h>
#include <sys/mman.h>

#include "os.h"
#include "stats/stats.h"

/* 2^16 leaf pointers (512 KiB of .bss, touched only where used); each leaf
 * covers 2 GiB with 2^16 entries and is mapped on first use, never freed:
 * a reader may hold a leaf pointer at any time without a lock. */
uintptr_t *hak_reg_top[(size_t)1 << HAK_REG_TOP_BITS];

#define LEAF_BYTES (sizeof(uintptr_t) << HAK_REG_LEAF_BITS)

static uintptr_t *leaf_for(uintptr_t a)
{
    uintptr_t **slot = &hak_reg_top[a >> (HAK_UNIT_SHIFT + HAK_REG_LEAF_BITS)];
    uintptr_t *leaf = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (leaf != NULL)
        return leaf;
    void *fresh = hak_os_mmap(LEAF_BYTES, MAP_NORESERVE);
    if (fresh == NULL)
        return NULL;
    uintptr_t *expected = NULL;
    if (__atomic_compare_exchange_n(slot, &expected, (uintptr_t *)fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        hak_stats_mapped((int64_t)LEAF_BYTES);
        return fresh;
    }
    hak_os_munmap(fresh, LEAF_BYTES); /* another thread mapped the same leaf first */
    return expected;
}

static void store_range(uintptr_t a, uintptr_t end, uintptr_t value)
{
    const uintptr_t leaf_mask = ((uintptr_t)1 << HAK_REG_LEAF_BITS) - 1;
    for (; a < end; a += HAK_UNIT_SIZE) {
        /* Atomic: another thread may be mapping a neighbouring range's leaf
         * into the top level (leaf_for's CAS) at this moment. */
        uintptr_t *leaf =
            __atomic_load_n(&hak_reg_top[a >> (HAK_UNIT_SHIFT + HAK_REG_LEAF_BITS)], __ATOMIC_ACQUIRE);
        __atomic_store_n(&leaf[(a >> HAK_UNIT_SHIFT) & leaf_mask], value, __ATOMIC_RELEASE);
    }
}

int hak_reg_set(void *base, size_t size, void *meta, enum hak_kind kind)
{
    uintptr_t a = (uintptr_t)base, end = a + size;
    if (end > ((uintptr_t)1 << HAK_ADDR_BITS))
        return -1;
    for (uintptr_t u = a; u < end; u += HAK_UNIT_SIZE)
        if (leaf_for(u) == NULL)
            return -1;
    store_range(a, end, (uintptr_t)meta | (uintptr_t)kind);
    return 0;
}

void hak_reg_clear(void *base, size_t size)
{
    store_range((uintptr_t)base, (uintptr_t)base + size, 0);
}
