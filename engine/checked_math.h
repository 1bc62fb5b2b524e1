/* Size arithmetic that cannot wrap: byte counts of absurd models saturate at
 * UINT64_MAX (which fits no machine) instead of wrapping to a small number that
 * "fits". Internal. */
#ifndef ZO_CHECKED_MATH_H
#define ZO_CHECKED_MATH_H

#include <stdbool.h>
#include <stdint.h>

/* a * b, or UINT64_MAX when it overflows. */
static inline uint64_t zo_mul_saturated(uint64_t a, uint64_t b)
{
    uint64_t product;
    return __builtin_mul_overflow(a, b, &product) ? UINT64_MAX : product;
}

/* a + b, or UINT64_MAX when it overflows. */
static inline uint64_t zo_add_saturated(uint64_t a, uint64_t b)
{
    uint64_t sum;
    return __builtin_add_overflow(a, b, &sum) ? UINT64_MAX : sum;
}

/* *out = a * b; false (and *out untouched) when it overflows. */
static inline bool zo_mul_checked(uint64_t a, uint64_t b, uint64_t *out)
{
    uint64_t product;
    if (__builtin_mul_overflow(a, b, &product))
        return false;
    *out = product;
    return true;
}

#endif
