/* fp16/bf16 rounding against known bit patterns, on the scalar conversions and on
 * every kernel path's bulk conversion. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <math.h>

#include "test_support.h"

typedef struct rounding_case {
    uint32_t f32_bits;
    uint16_t expected;
    const char *why;
} rounding_case;

static const rounding_case f16_cases[] = {
    {0x3f800000u, 0x3c00u, "1.0"},
    {0xc0000000u, 0xc000u, "-2.0"},
    {0x80000000u, 0x8000u, "-0.0 keeps its sign"},
    {0x3dcccccdu, 0x2e66u, "0.1"},
    {0x3f801000u, 0x3c00u, "1 + 2^-11 is a tie: to even (down)"},
    {0x3f803000u, 0x3c02u, "1 + 3 * 2^-11 is a tie: to even (up)"},
    {0x3f801001u, 0x3c01u, "just above a tie rounds up"},
    {0x477fe000u, 0x7bffu, "65504, the largest half"},
    {0x477fefffu, 0x7bffu, "just below 65520 stays finite"},
    {0x477ff000u, 0x7c00u, "65520 rounds to inf"},
    {0x7f7fffffu, 0x7c00u, "FLT_MAX overflows to inf"},
    {0x7f800000u, 0x7c00u, "inf"},
    {0xff800000u, 0xfc00u, "-inf"},
    {0x7fc00000u, 0x7e00u, "quiet NaN"},
    {0x7f800001u, 0x7e00u, "signaling NaN is quieted"},
    {0xffc02000u, 0xfe01u, "negative NaN keeps sign and top payload"},
    {0x33800000u, 0x0001u, "2^-24, the smallest subnormal"},
    {0x33000000u, 0x0000u, "2^-25 is a tie between 0 and 2^-24: to even (0)"},
    {0x33000001u, 0x0001u, "just above 2^-25 rounds up"},
    {0x33c00000u, 0x0002u, "3 * 2^-25 is a tie: to even (2)"},
    {0x387fc000u, 0x03ffu, "the largest subnormal"},
    {0x387ff000u, 0x0400u, "a tie below 2^-14 rounds up into the normals"},
    {0x38800000u, 0x0400u, "2^-14, the smallest normal"},
    {0x00000001u, 0x0000u, "an fp32 subnormal underflows to 0"},
};

static const rounding_case bf16_cases[] = {
    {0x3f800000u, 0x3f80u, "1.0"},
    {0x80000000u, 0x8000u, "-0.0 keeps its sign"},
    {0x3dcccccdu, 0x3dcdu, "0.1"},
    {0x3f808000u, 0x3f80u, "a tie: to even (down)"},
    {0x3f818000u, 0x3f82u, "a tie: to even (up)"},
    {0x3f808001u, 0x3f81u, "just above a tie rounds up"},
    {0x7f7f7fffu, 0x7f7fu, "below the last tie stays finite"},
    {0x7f7fffffu, 0x7f80u, "FLT_MAX rounds to inf"},
    {0x7f800000u, 0x7f80u, "inf"},
    {0xff800000u, 0xff80u, "-inf"},
    {0x7fc00000u, 0x7fc0u, "quiet NaN"},
    {0x7f800001u, 0x7fc0u, "signaling NaN is quieted, not turned into inf"},
    {0xffc10000u, 0xffc1u, "negative NaN keeps sign and payload"},
    {0x00800000u, 0x0080u, "FLT_MIN"},
};

/* Subnormal inputs, which AVX512-BF16's vcvtneps2bf16 alone would flush to zero. */
static const rounding_case bf16_subnormal_cases[] = {
    {0x00010000u, 0x0001u, "the smallest bf16 subnormal"},
    {0x00008000u, 0x0000u, "a tie between 0 and the smallest subnormal: to even"},
    {0x00018000u, 0x0002u, "a tie: to even (up)"},
    {0x807f0000u, 0x807fu, "a negative subnormal"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static float f32_of(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static uint32_t bits_of(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

Test(dtype_scalar, f32_to_f16_rounds_known_patterns)
{
    for (size_t k = 0; k < COUNT(f16_cases); k++)
        cr_expect(eq(u16, zo_f32_to_f16(f32_of(f16_cases[k].f32_bits)), f16_cases[k].expected),
                  "0x%08x: %s", f16_cases[k].f32_bits, f16_cases[k].why);
}

Test(dtype_scalar, f32_to_bf16_rounds_known_patterns)
{
    for (size_t k = 0; k < COUNT(bf16_cases); k++)
        cr_expect(eq(u16, zo_f32_to_bf16(f32_of(bf16_cases[k].f32_bits)), bf16_cases[k].expected),
                  "0x%08x: %s", bf16_cases[k].f32_bits, bf16_cases[k].why);
    for (size_t k = 0; k < COUNT(bf16_subnormal_cases); k++)
        cr_expect(eq(u16, zo_f32_to_bf16(f32_of(bf16_subnormal_cases[k].f32_bits)),
                     bf16_subnormal_cases[k].expected),
                  "0x%08x: %s", bf16_subnormal_cases[k].f32_bits, bf16_subnormal_cases[k].why);
}

Test(dtype_scalar, every_f16_survives_a_round_trip_through_f32)
{
    for (uint32_t h = 0; h <= 0xffffu; h++) {
        float wide = zo_f16_to_f32((uint16_t)h);
        bool is_nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
        uint16_t expected = is_nan ? (uint16_t)(h | 0x200u) : (uint16_t)h; /* NaN quieted */
        cr_assert(eq(u16, zo_f32_to_f16(wide), expected), "f16 0x%04x", h);
        if (!is_nan && (h & 0x7fffu) <= 0x7c00u && (h & 0x7fffu) != 0) {
            /* the value itself, by the definition of binary16 */
            int exponent = (int)((h >> 10) & 0x1fu);
            double magnitude = exponent ? ldexp(1.0 + (h & 0x3ffu) / 1024.0, exponent - 15)
                                        : ldexp((double)(h & 0x3ffu), -24);
            if (exponent == 0x1f)
                magnitude = INFINITY;
            cr_assert(eq(dbl, fabs((double)wide), magnitude), "f16 0x%04x", h);
        }
    }
}

Test(dtype_scalar, every_bf16_survives_a_round_trip_through_f32)
{
    for (uint32_t h = 0; h <= 0xffffu; h++) {
        bool is_nan = (h & 0x7f80u) == 0x7f80u && (h & 0x7fu);
        uint16_t expected = is_nan ? (uint16_t)(h | 0x40u) : (uint16_t)h;
        cr_assert(eq(u16, zo_f32_to_bf16(zo_bf16_to_f32((uint16_t)h)), expected), "bf16 0x%04x", h);
        cr_assert(eq(u32, bits_of(zo_bf16_to_f32((uint16_t)h)), h << 16), "bf16 0x%04x", h);
    }
}

Test(dtype_scalar, sizes_and_names)
{
    cr_expect(eq(sz, zo_dtype_size(ZO_DTYPE_F32), 4));
    cr_expect(eq(sz, zo_dtype_size(ZO_DTYPE_F16), 2));
    cr_expect(eq(sz, zo_dtype_size(ZO_DTYPE_BF16), 2));
    cr_expect(eq(sz, zo_dtype_size((zo_dtype)7), 0));
    cr_expect(eq(str, (char *)zo_dtype_name(ZO_DTYPE_BF16), "bf16"));
    cr_expect(eq(str, (char *)zo_dtype_name((zo_dtype)7), "invalid"));
}

ParameterizedTestParameters(dtype_paths, known_patterns)
{
    static zo_cpu_isa isas[] = ZO_TEST_ISAS;
    return cr_make_param_array(zo_cpu_isa, isas, ZO_TEST_ISA_COUNT);
}

/* Runs the table through zo_adam_cast `copies` times over, so both the vector body
 * and the tail of each path see every pattern. */
static void check_cast_table(zo_adam *ctx, zo_dtype dtype, const rounding_case *cases,
                             size_t count)
{
    enum { COPIES = 7 };
    size_t n = count * COPIES;
    float *src = zo_test_alloc(n, sizeof(float), 1);
    uint16_t *dst = zo_test_alloc(n, sizeof(uint16_t), 3);
    for (size_t i = 0; i < n; i++)
        src[i] = f32_of(cases[i % count].f32_bits);
    cr_assert(eq(int, zo_adam_cast(ctx, dst, dtype, src, ZO_DTYPE_F32, n, 1.0f), ZO_OK));
    for (size_t i = 0; i < n; i++) {
        const rounding_case *c = &cases[i % count];
        cr_expect(eq(u16, dst[i], c->expected), "%s: 0x%08x at %zu: %s",
                  zo_cpu_isa_name(zo_adam_isa(ctx)), c->f32_bits, i, c->why);
    }
    zo_test_free(src, 1, sizeof(float));
    zo_test_free(dst, 3, sizeof(uint16_t));
}

ParameterizedTest(zo_cpu_isa *isa, dtype_paths, known_patterns)
{
    zo_adam *ctx = zo_test_context(*isa, 1);
    check_cast_table(ctx, ZO_DTYPE_F16, f16_cases, COUNT(f16_cases));
    check_cast_table(ctx, ZO_DTYPE_BF16, bf16_cases, COUNT(bf16_cases));
    check_cast_table(ctx, ZO_DTYPE_BF16, bf16_subnormal_cases, COUNT(bf16_subnormal_cases));
    zo_adam_destroy(&ctx);
}

ParameterizedTestParameters(dtype_paths, match_scalar_on_random_bits)
{
    static zo_cpu_isa isas[] = ZO_TEST_ISAS;
    return cr_make_param_array(zo_cpu_isa, isas, ZO_TEST_ISA_COUNT);
}

/* A million random bit patterns (every exponent, NaNs included) narrowed by each path
 * must give the scalar conversion's bits; and every f16/bf16 pattern widened too. */
ParameterizedTest(zo_cpu_isa *isa, dtype_paths, match_scalar_on_random_bits)
{
    enum { N = 1000003 };
    zo_adam *ctx = zo_test_context(*isa, 2);
    zo_test_rng rng = {0x9e3779b97f4a7c15ULL};
    uint32_t *src = zo_test_alloc(N, sizeof(uint32_t), 1);
    uint16_t *half = zo_test_alloc(N, sizeof(uint16_t), 0);
    for (size_t i = 0; i < N; i++)
        src[i] = (uint32_t)(zo_test_next(&rng) >> 32);

    cr_assert(eq(int, zo_adam_cast(ctx, half, ZO_DTYPE_F16, src, ZO_DTYPE_F32, N, 1.0f), ZO_OK));
    for (size_t i = 0; i < N; i++)
        cr_assert(eq(u16, half[i], zo_f32_to_f16(f32_of(src[i]))), "f16 of 0x%08x", src[i]);

    cr_assert(eq(int, zo_adam_cast(ctx, half, ZO_DTYPE_BF16, src, ZO_DTYPE_F32, N, 1.0f), ZO_OK));
    for (size_t i = 0; i < N; i++)
        cr_assert(eq(u16, half[i], zo_f32_to_bf16(f32_of(src[i]))), "bf16 of 0x%08x", src[i]);

    uint16_t *all = zo_test_alloc(0x10000, sizeof(uint16_t), 1);
    float *wide = zo_test_alloc(0x10000, sizeof(float), 0);
    for (uint32_t h = 0; h <= 0xffffu; h++)
        all[h] = (uint16_t)h;
    cr_assert(eq(int, zo_adam_cast(ctx, wide, ZO_DTYPE_F32, all, ZO_DTYPE_F16, 0x10000, 1.0f), ZO_OK));
    for (uint32_t h = 0; h <= 0xffffu; h++)
        cr_assert(eq(u32, bits_of(wide[h]), bits_of(zo_f16_to_f32((uint16_t)h))), "f16 0x%04x", h);
    cr_assert(eq(int, zo_adam_cast(ctx, wide, ZO_DTYPE_F32, all, ZO_DTYPE_BF16, 0x10000, 1.0f), ZO_OK));
    for (uint32_t h = 0; h <= 0xffffu; h++) {
        /* the cast multiplies by its scale, which quiets a signaling NaN */
        bool is_nan = (h & 0x7f80u) == 0x7f80u && (h & 0x7fu);
        cr_assert(eq(u32, bits_of(wide[h]), h << 16 | (is_nan ? 0x400000u : 0u)), "bf16 0x%04x", h);
    }

    zo_test_free(src, 1, sizeof(uint32_t));
    zo_test_free(half, 0, sizeof(uint16_t));
    zo_test_free(all, 1, sizeof(uint16_t));
    zo_test_free(wide, 0, sizeof(float));
    zo_adam_destroy(&ctx);
}

Test(dtype_paths, cast_scales_in_place_and_rejects_bad_arguments)
{
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    float values[37];
    for (size_t i = 0; i < 37; i++)
        values[i] = (float)i;
    cr_assert(eq(int, zo_adam_cast(ctx, values, ZO_DTYPE_F32, values, ZO_DTYPE_F32, 37, 0.5f), ZO_OK));
    for (size_t i = 0; i < 37; i++)
        cr_expect(eq(flt, values[i], 0.5f * (float)i));
    cr_expect(eq(int, zo_adam_cast(ctx, values, ZO_DTYPE_F16, values, ZO_DTYPE_F32, 37, 1.0f),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "in place") != NULL, "%s", zo_last_error());
    cr_expect(eq(int, zo_adam_cast(ctx, NULL, ZO_DTYPE_F16, values, ZO_DTYPE_F32, 37, 1.0f),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_adam_cast(ctx, NULL, ZO_DTYPE_F16, NULL, ZO_DTYPE_F32, 0, 1.0f), ZO_OK));
    cr_expect(eq(int, zo_adam_cast(ctx, values, ZO_DTYPE_F32, values, ZO_DTYPE_F32, 37, NAN),
                 ZO_ERR_INVALID_ARGUMENT));
    zo_adam_destroy(&ctx);
}
