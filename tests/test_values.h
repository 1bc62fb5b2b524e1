/* Values the tests share, without Criterion (plain programs use them too): a
 * deterministic random generator, and fp16/bf16/fp32 elements stored and loaded. */
#ifndef ZO_TEST_VALUES_H
#define ZO_TEST_VALUES_H

#include <stdint.h>

#include "zo/zo.h"

/* xorshift64*: the same numbers on every machine. */
typedef struct zo_test_rng {
    uint64_t state;
} zo_test_rng;

static inline uint64_t zo_test_next(zo_test_rng *rng)
{
    rng->state ^= rng->state >> 12;
    rng->state ^= rng->state << 25;
    rng->state ^= rng->state >> 27;
    return rng->state * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi). */
static inline float zo_test_uniform(zo_test_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * (float)((zo_test_next(rng) >> 40) * 0x1p-24);
}

/* Stores value as element i of an array of dtype. */
static inline void zo_test_store(void *base, zo_dtype dtype, size_t i, float value)
{
    switch (dtype) {
    case ZO_DTYPE_F16: ((uint16_t *)base)[i] = zo_f32_to_f16(value); break;
    case ZO_DTYPE_BF16: ((uint16_t *)base)[i] = zo_f32_to_bf16(value); break;
    default: ((float *)base)[i] = value; break;
    }
}

/* Element i of an array of dtype, widened to float. */
static inline float zo_test_load(const void *base, zo_dtype dtype, size_t i)
{
    switch (dtype) {
    case ZO_DTYPE_F16: return zo_f16_to_f32(((const uint16_t *)base)[i]);
    case ZO_DTYPE_BF16: return zo_bf16_to_f32(((const uint16_t *)base)[i]);
    default: return ((const float *)base)[i];
    }
}

#endif
