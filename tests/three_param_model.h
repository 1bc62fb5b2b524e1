/* The engine tests' model: three parameters whose sizes make them straddle
 * 512-element buckets; "bias" is small enough to stay on the device under stage 3's
 * persistence threshold of 100 elements, the other two stream. */
#ifndef ZO_TESTS_THREE_PARAM_MODEL_H
#define ZO_TESTS_THREE_PARAM_MODEL_H

#include <stddef.h>

#include "zo/engine.h"

static const zo_param_desc model[] = {{"embedding", 1000}, {"bias", 37}, {"head", 2500}};
enum { PARAMS = 3, MODEL_ELEMS = 1000 + 37 + 2500 };

/* Where parameter `param` starts in a flat array of the model's values. */
static inline size_t model_offset(size_t param)
{
    size_t offset = 0;
    for (size_t i = 0; i < param; i++)
        offset += model[i].elems;
    return offset;
}

#endif
