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
