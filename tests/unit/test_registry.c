/* The address registry: set, look up, clear, and pointers it never saw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "hakmem.h"
#include "registry.h"

static char *map_units(size_t units)
{
    size_t size = (units + 1) * HAK_UNIT_SIZE;
    char *raw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(raw != MAP_FAILED);
    return (char *)(((uintptr_t)raw + HAK_UNIT_SIZE - 1) & ~(uintptr_t)(HAK_UNIT_SIZE - 1));
}

static void test_set_lookup_clear(void **state)
{
    (void)state;
    char *base = map_units(4);
    static uint64_t meta[2] __attribute__((aligned(8)));
    assert_int_equal(hak_reg_set(base, 4 * HAK_UNIT_SIZE, meta, HAK_KIND_SPOOL), 0);
    for (size_t off = 0; off < 4 * HAK_UNIT_SIZE; off += 4093) {
        hak_reg_entry e = hak_reg_lookup(base + off);
        assert_int_equal(hak_reg_kind(e), HAK_KIND_SPOOL);
        assert_ptr_equal(hak_reg_meta(e), meta);
    }
    assert_int_equal(hak_reg_kind(hak_reg_lookup(base - 1)), HAK_KIND_NONE);
    assert_int_equal(hak_reg_kind(hak_reg_lookup(base + 4 * HAK_UNIT_SIZE)), HAK_KIND_NONE);
    hak_reg_clear(base + HAK_UNIT_SIZE, HAK_UNIT_SIZE);
    assert_int_equal(hak_reg_kind(hak_reg_lookup(base + HAK_UNIT_SIZE + 5)), HAK_KIND_NONE);
    assert_int_equal(hak_reg_kind(hak_reg_lookup(base + 2 * HAK_UNIT_SIZE)), HAK_KIND_SPOOL);
    hak_reg_clear(base, 4 * HAK_UNIT_SIZE);
    for (size_t off = 0; off < 4 * HAK_UNIT_SIZE; off += 4093)
        assert_int_equal(hak_reg_lookup(base + off), 0);
}

/* Addresses hakmem never mapped: NULL, the stack, a static, the top of the
 * address space, non-canonical values.  No lookup may fault. */
static void test_foreign_addresses(void **state)
{
    (void)state;
    static int in_data;
    int on_stack;
    const void *addrs[] = {NULL,
                           &in_data,
                           &on_stack,
                           (void *)1,
                           (void *)(((uintptr_t)1 << 47) - 1),
                           (void *)((uintptr_t)1 << 47),
                           (void *)UINTPTR_MAX,
                           (void *)0xdead0000beef0000ull};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        assert_int_equal(hak_reg_lookup(addrs[i]), 0);
        assert_int_equal(hak_owns(addrs[i]), 0);
    }
}

/* Every tier's blocks are registered, with the right kind, and stop being
 * ours when freed for good. */
static void test_tiers_register_their_blocks(void **state)
{
    (void)state;
    void *tiny = hak_malloc(24), *mid = hak_malloc(5000), *pool = hak_malloc(50000);
    void *run = hak_malloc(200000), *large = hak_malloc(3 << 20);
    assert_int_equal(hak_reg_kind(hak_reg_lookup(tiny)), HAK_KIND_SLAB);
    /* Mid blocks are MF2 pages of the slab engine (HAKMEM_MF2_ENABLE=1). */
    assert_int_equal(hak_reg_kind(hak_reg_lookup(mid)), HAK_KIND_SLAB);
    assert_int_equal(hak_reg_kind(hak_reg_lookup(pool)), HAK_KIND_SPOOL);
    assert_int_equal(hak_reg_kind(hak_reg_lookup(run)), HAK_KIND_RUNS); /* above 64 KiB */
    assert_int_equal(hak_reg_kind(hak_reg_lookup(large)), HAK_KIND_LARGE);
    assert_true(hak_owns(large));
    assert_false(hak_owns((char *)large + 16)); /* not the block's start */
    hak_free(tiny);
    hak_free(mid);
    hak_free(pool);
    hak_free(run);
    hak_free(large);
    assert_int_equal(hak_reg_lookup(large), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_lookup_clear),
        cmocka_unit_test(test_foreign_addresses),
        cmocka_unit_test(test_tiers_register_their_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
