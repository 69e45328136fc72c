/* size_classes.def against the size -> class formula, and the waste bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "size_class.h"

static void test_table_is_increasing_and_aligned(void **state)
{
    (void)state;
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        assert_int_equal(hak_class_size[c] % 16, 0);
        if (c > 0)
            assert_true(hak_class_size[c] > hak_class_size[c - 1]);
    }
    assert_int_equal(hak_class_size[HAK_TINY_CLASSES - 1], 1024);
    assert_int_equal(hak_class_size[HAK_POOL_FIRST - 1], 32768);
    /* Page runs (mid/runs.h) take the pool classes above 64 KiB, as whole
     * 8 KiB units: a run's length in units gives back its class. */
    assert_int_equal(hak_class_size[HAK_RUNS_FIRST - 1], 65536);
    for (unsigned c = HAK_RUNS_FIRST; c < HAK_CLASS_COUNT; c++)
        assert_int_equal(hak_class_size[c] % 8192, 0);
    assert_int_equal(hak_class_size[HAK_CLASS_COUNT - 1], 1 << 20);
}

static void test_tiers(void **state)
{
    (void)state;
    for (unsigned c = 0; c < HAK_CLASS_COUNT; c++) {
        unsigned want = c < HAK_TINY_CLASSES ? HAK_TIER_TINY
                        : c < HAK_POOL_FIRST ? HAK_TIER_MID
                                             : HAK_TIER_POOL;
        assert_int_equal(hak_class_tier[c], want);
    }
}

/* Every size maps to the smallest class that holds it. */
static void test_every_size_maps_to_smallest_class(void **state)
{
    (void)state;
    for (size_t size = 1; size <= HAK_POOL_MAX; size++) {
        unsigned c = hak_size_to_class(size);
        assert_true(c < HAK_CLASS_COUNT);
        assert_true(hak_class_size[c] >= size);
        if (c > 0)
            assert_true(hak_class_size[c - 1] < size);
    }
    assert_int_equal(hak_size_to_class(0), 0);
}

static void test_tiny_table_matches_formula(void **state)
{
    (void)state;
    for (size_t size = 0; size <= 2 * HAK_TINY_MAX; size++)
        assert_int_equal(hak_size_to_class_fast(size), hak_size_to_class(size));
}

/* 1024 B is tiny (it fell back to libc in the earlier hakmem: seed 001). */
static void test_1024_is_tiny(void **state)
{
    (void)state;
    assert_true(hak_size_to_class(1024) < HAK_TINY_CLASSES);
    assert_int_equal(hak_class_size[hak_size_to_class(1024)], 1024);
    assert_true(hak_size_to_class(1025) >= HAK_MID_FIRST);
}

/* Above 128 B (below it 16-byte alignment decides), a block wastes at most
 * one ninth of itself. */
static void test_internal_waste_bound(void **state)
{
    (void)state;
    for (size_t size = 129; size <= HAK_POOL_MAX; size++) {
        size_t block = hak_class_size[hak_size_to_class(size)];
        assert_true((block - size) * 9 <= block);
    }
}

static void test_aligned_class(void **state)
{
    (void)state;
    for (size_t align = 32; align <= HAK_POOL_MAX; align *= 2) {
        for (size_t size = 1; size <= HAK_POOL_MAX; size = size * 3 + 1) {
            unsigned c = hak_aligned_class(size, align);
            assert_true(c < HAK_CLASS_COUNT);
            assert_true(hak_class_size[c] >= size);
            assert_int_equal(hak_class_size[c] % align, 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_increasing_and_aligned),
        cmocka_unit_test(test_tiers),
        cmocka_unit_test(test_every_size_maps_to_smallest_class),
        cmocka_unit_test(test_tiny_table_matches_formula),
        cmocka_unit_test(test_1024_is_tiny),
        cmocka_unit_test(test_internal_waste_bound),
        cmocka_unit_test(test_aligned_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
