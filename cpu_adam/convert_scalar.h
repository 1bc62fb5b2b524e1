/* Scalar fp32 <-> fp16/bf16 conversions, round-to-nearest-even. Every SIMD path
 * must give the same bits as these (tests/test_dtype.c checks it). */
#ifndef ZO_CONVERT_SCALAR_H
#define ZO_CONVERT_SCALAR_H

#include <stdint.h>
#include <string.h>

/* The GPU Adam (engine/adam_cuda.cu) compiles these same functions for the device
 * (static inline __host__ __device__), so its rounding is this rounding, bit for bit. */
#ifndef ZO_CONVERT_FN
#define ZO_CONVERT_FN static inline
#endif

ZO_CONVERT_FN uint32_t zo_bits_of_f32(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

ZO_CONVERT_FN float zo_f32_of_bits(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

ZO_CONVERT_FN uint16_t zo_round_f32_to_bf16(float value)
{
    uint32_t bits = zo_bits_of_f32(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((bits >> 16) | 0x0040u); /* NaN: keep sign and payload, quiet it */
    /* Adding 0x7fff plus the lowest kept bit rounds half to even; a carry out of the
     * mantissa correctly bumps the exponent (up to inf). */
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

ZO_CONVERT_FN float zo_widen_bf16(uint16_t bits)
{
    return zo_f32_of_bits((uint32_t)bits << 16);
}

/* Rounds `mantissa` right by `shift` bits, half to even. */
ZO_CONVERT_FN uint32_t zo_shift_round_even(uint32_t mantissa, unsigned shift)
{
    uint32_t kept = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    return kept + (rest > half || (rest == half && (kept & 1u)));
}

ZO_CONVERT_FN uint16_t zo_round_f32_to_f16(float value)
{
    uint32_t bits = zo_bits_of_f32(value);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t magnitude = bits & 0x7fffffffu;

    if (magnitude > 0x7f800000u) /* NaN: quiet it, keep the top payload bits */
        return (uint16_t)(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
    if (magnitude >= 0x477ff000u) /* >= 65520 rounds past 65504, the largest half */
        return (uint16_t)(sign | 0x7c00u);
    if (magnitude >= 0x38800000u) { /* a normal half: rebias the exponent 127 -> 15 */
        uint32_t rebiased = magnitude - 0x38000000u;
        return (uint16_t)(sign | zo_shift_round_even(rebiased, 13));
    }
    if (magnitude < 0x33000000u) /* below half of the smallest subnormal 2^-24 */
        return sign;
    /* A subnormal half: value = mantissa * 2^(exponent - 150) in units of 2^-24. A
     * round up to 0x400 lands on the smallest normal, which is the right encoding. */
    uint32_t exponent = magnitude >> 23;
    uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    return (uint16_t)(sign | zo_shift_round_even(mantissa, 126u - exponent));
}

ZO_CONVERT_FN float zo_widen_f16(uint16_t half)
{
    uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    uint32_t exponent = (half >> 10) & 0x1fu;
    uint32_t mantissa = half & 0x3ffu;

    if (exponent == 0x1fu) /* inf, or NaN quieted as F16C's vcvtph2ps does */
        return zo_f32_of_bits(sign | 0x7f800000u | (mantissa ? 0x400000u : 0u) | (mantissa << 13));
    if (exponent != 0)
        return zo_f32_of_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    /* zero or subnormal: mantissa * 2^-24 is exact in fp32 */
    float magnitude = (float)mantissa * 0x1p-24f;
    return sign ? -magnitude : magnitude;
}

#endif
