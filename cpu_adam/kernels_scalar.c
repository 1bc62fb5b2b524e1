/* The portable path: the kernel vocabulary on plain floats, one lane at a time. It is
 * the reference every SIMD path must match bit for bit. */
#include <math.h>
#include <stdint.h>

#include "convert_scalar.h"
#include "kernels.h"

typedef float zo_vec;
#define ZO_LANES 1
#define ZO_KERNEL_PREFIX(name) scalar_##name

static inline zo_vec zo_v_set1(float f) { return f; }
static inline zo_vec zo_v_add(zo_vec a, zo_vec b) { return a + b; }
static inline zo_vec zo_v_sub(zo_vec a, zo_vec b) { return a - b; }
static inline zo_vec zo_v_mul(zo_vec a, zo_vec b) { return a * b; }
static inline zo_vec zo_v_div(zo_vec a, zo_vec b) { return a / b; }
static inline zo_vec zo_v_sqrt(zo_vec a) { return sqrtf(a); }
static inline zo_vec zo_v_abs(zo_vec a) { return fabsf(a); }
static inline zo_vec zo_v_floor(zo_vec a) { return floorf(a); }
static inline zo_vec zo_v_lane_index(void) { return 0.0f; }
static inline zo_vec zo_v_min(zo_vec a, zo_vec b) { return a < b ? a : b; }
static inline zo_vec zo_v_max(zo_vec a, zo_vec b) { return a > b ? a : b; }
static inline zo_vec zo_v_copysign(zo_vec a, zo_vec b) { return copysignf(a, b); }
static inline zo_vec zo_v_if_positive(zo_vec a, zo_vec b) { return a > 0.0f ? b : 0.0f; }

static inline float zo_load_element(const void *base, int kind, size_t i)
{
    switch (kind) {
    case ZO_DTYPE_F16: return zo_widen_f16(((const uint16_t *)base)[i]);
    case ZO_DTYPE_BF16: return zo_widen_bf16(((const uint16_t *)base)[i]);
    case ZO_DTYPE_I8: return (float)((const int8_t *)base)[i];
    case ZO_DTYPE_U8: return (float)((const uint8_t *)base)[i];
    default: return ((const float *)base)[i];
    }
}

static inline void zo_store_element(void *base, int kind, size_t i, float value)
{
    switch (kind) {
    case ZO_DTYPE_F16: ((uint16_t *)base)[i] = zo_round_f32_to_f16(value); break;
    case ZO_DTYPE_BF16: ((uint16_t *)base)[i] = zo_round_f32_to_bf16(value); break;
    case ZO_DTYPE_I8: ((int8_t *)base)[i] = (int8_t)value; break; /* an integer in range */
    case ZO_DTYPE_U8: ((uint8_t *)base)[i] = (uint8_t)value; break;
    default: ((float *)base)[i] = value; break;
    }
}

static inline zo_vec zo_v_load(const void *base, int kind, size_t i, size_t count)
{
    (void)count; /* always 1 */
    return zo_load_element(base, kind, i);
}

static inline void zo_v_store(void *base, int kind, size_t i, size_t count, zo_vec x)
{
    (void)count;
    zo_store_element(base, kind, i, x);
}

static inline double zo_sum_squares(const void *data, int kind, size_t begin, size_t end)
{
    double lanes[ZO_SUMSQ_LANES] = {0};
    for (size_t i = begin; i < end; i++) {
        double x = zo_load_element(data, kind, i);
        lanes[(i - begin) % ZO_SUMSQ_LANES] += x * x; /* exact: a float squared fits a double */
    }
    return zo_sumsq_combine_lanes(lanes);
}

#include "kernel_body.h"

const zo_adam_kernels zo_kernels_scalar = ZO_KERNEL_TABLE;
