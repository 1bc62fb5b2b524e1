/* The portable path: the kernel vocabulary on plain floats, one lane at a time. It is
 * the reference every SIMD path must match bit for bit. */
#include <math.h>
#include <stdint.h>
#include <string.h>

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
/* one rounding, as the SIMD paths' fused multiply-add (libm's fmaf where the CPU has none) */
static inline zo_vec zo_v_fma(zo_vec a, zo_vec b, zo_vec c) { return fmaf(a, b, c); }
static inline zo_vec zo_v_abs(zo_vec a) { return fabsf(a); }
static inline zo_vec zo_v_min(zo_vec a, zo_vec b) { return a < b ? a : b; }
static inline zo_vec zo_v_max(zo_vec a, zo_vec b) { return a > b ? a : b; }
static inline float zo_v_max_across(zo_vec x) { return x; }

/* 32-bit integer lanes, computed unsigned so that wrapping is defined */
typedef int32_t zo_ivec;
static inline zo_ivec zo_i_set1(uint32_t x) { return (int32_t)x; }
static inline zo_ivec zo_i_add(zo_ivec a, zo_ivec b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static inline zo_ivec zo_i_sub(zo_ivec a, zo_ivec b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static inline zo_ivec zo_i_and(zo_ivec a, zo_ivec b) { return a & b; }
static inline zo_ivec zo_i_or(zo_ivec a, zo_ivec b) { return a | b; }
#define zo_i_srl(a, n) ((int32_t)((uint32_t)(a) >> (n)))
#define zo_i_sll(a, n) ((int32_t)((uint32_t)(a) << (n)))
static inline zo_ivec zo_i_min(zo_ivec a, zo_ivec b) { return a < b ? a : b; }
static inline zo_ivec zo_i_max(zo_ivec a, zo_ivec b) { return a > b ? a : b; }
static inline zo_ivec zo_i_abs(zo_ivec a) { return a < 0 ? -a : a; }
static inline zo_ivec zo_i_sign(zo_ivec a, zo_ivec b) { return b < 0 ? -a : b == 0 ? 0 : a; }
static inline zo_ivec zo_i_load_u32(const uint32_t *x) { return (int32_t)x[0]; }
static inline zo_ivec zo_v_bits(zo_vec x)
{
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}
static inline zo_vec zo_i_as_float(zo_ivec bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}
static inline zo_ivec zo_i_load_codes(const void *base, int kind, size_t i, size_t count)
{
    (void)count;
    return kind == ZO_DTYPE_I8 ? ((const int8_t *)base)[i] : ((const uint8_t *)base)[i];
}
/* A code clamped into its range: [-127, 127] for ZO_DTYPE_I8, [0, 255] for U8. */
static inline uint8_t zo_clamp_code(zo_ivec code, int kind)
{
    if (kind == ZO_DTYPE_I8)
        return (uint8_t)(int8_t)(code < -127 ? -127 : code > 127 ? 127 : code);
    return (uint8_t)(code < 0 ? 0 : code > 255 ? 255 : code);
}
static inline void zo_i_store_codes(void *base, int kind, size_t i, size_t count, zo_ivec code)
{
    (void)count;
    ((uint8_t *)base)[i] = zo_clamp_code(code, kind);
}

static inline void zo_i_store_codes4(void *base, int kind, size_t i, const zo_ivec codes[4])
{
    for (int u = 0; u < 4; u++)
        ((uint8_t *)base)[i + (size_t)u] = zo_clamp_code(codes[u], kind);
}

static inline float zo_load_element(const void *base, int kind, size_t i)
{
    switch (kind) {
    case ZO_DTYPE_F16: return zo_widen_f16(((const uint16_t *)base)[i]);
    case ZO_DTYPE_BF16: return zo_widen_bf16(((const uint16_t *)base)[i]);
    default: return ((const float *)base)[i];
    }
}

static inline void zo_store_element(void *base, int kind, size_t i, float value)
{
    switch (kind) {
    case ZO_DTYPE_F16: ((uint16_t *)base)[i] = zo_round_f32_to_f16(value); break;
    case ZO_DTYPE_BF16: ((uint16_t *)base)[i] = zo_round_f32_to_bf16(value); break;
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

/* The reference path has no stores past the caches: the same store. */
static inline void zo_v_stream(void *base, int kind, size_t i, size_t count, zo_vec x)
{
    zo_v_store(base, kind, i, count, x);
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
