#include "size_class.h"

const uint32_t hak_class_size[HAK_CLASS_COUNT] = {
#define HAK_SIZE_CLASS(index, size, tier) [index] = size,
#include "size_classes.def"
#undef HAK_SIZE_CLASS
};

const uint8_t hak_class_tier[HAK_CLASS_COUNT] = {
#define HAK_SIZE_CLASS(index, size, tier) [index] = HAK_TIER_##tier,
#include "size_classes.def"
#undef HAK_SIZE_CLASS
};

/* hak_size_to_class for sizes up to 1024 B, indexed by (size + 15) / 16;
 * tests/unit/test_size_class.c checks it against the formula. */
const uint8_t hak_tiny_class_of[65] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16, 17, 17, 18, 18, 19, 19, 20,
    20, 21, 21, 22, 22, 23, 23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27, 27,
    28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 31,
};
