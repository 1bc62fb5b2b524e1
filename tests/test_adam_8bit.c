/* 8-bit blockwise moments (moments_dtype ZO_DTYPE_Q8): the quantizer alone (round
 * trips, zeros, outliers, subnormals, never inf/NaN from finite input), the step
 * against a double-precision Adam run on the dequantized moments, and the same bits on
 * every path and for any thread count. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "test_support.h"

static struct criterion_test_params every_path(void)
{
    static zo_cpu_isa isas[] = ZO_TEST_ISAS;
    return cr_make_param_array(zo_cpu_isa, isas, ZO_TEST_ISA_COUNT);
}

/* A moment's codes and scales for n elements. */
typedef struct quantized {
    size_t n;
    void *codes;
    float *scales;
} quantized;

static quantized quantized_create(size_t n)
{
    quantized q = {.n = n,
                   .codes = calloc(n + 1, 1),
                   .scales = calloc(zo_q8_block_count(n) + 1, sizeof(float))};
    cr_assert(q.codes && q.scales, "out of memory");
    return q;
}

static void quantized_destroy(quantized *q) { free(q->codes), free(q->scales); }

static void quantize(zo_adam *ctx, zo_q8_moment moment, const float *values, quantized *q)
{
    cr_assert(
        eq(int, zo_adam_quantize_moment(ctx, moment, values, q->n, q->codes, q->scales), ZO_OK),
        "%s", zo_last_error());
}

static void dequantize(zo_adam *ctx, zo_q8_moment moment, const quantized *q, float *values)
{
    cr_assert(
        eq(int, zo_adam_dequantize_moment(ctx, moment, q->codes, q->scales, q->n, values), ZO_OK),
        "%s", zo_last_error());
}

static const char *moment_name(zo_q8_moment moment)
{
    return moment == ZO_Q8_FIRST_MOMENT ? "m" : "v";
}

/* Every code's value, quantized again, gives that code back: the map has no two codes
 * of one value and rounds each code's own value to itself. The top code decodes to
 * the scale or an ulp or two below it (the unit is rounded toward zero), which then
 * is the new scale. */
ParameterizedTestParameters(adam_8bit, every_code_survives_a_round_trip) { return every_path(); }
ParameterizedTest(zo_cpu_isa *isa, adam_8bit, every_code_survives_a_round_trip)
{
    enum { N = 2 * ZO_Q8_BLOCK_ELEMS };
    zo_adam *ctx = zo_test_context(*isa, 2);
    for (int moment = 0; moment < 2; moment++) {
        quantized q = quantized_create(N);
        int8_t *first = q.codes;
        uint8_t *second = q.codes;
        for (size_t i = 0; i < N; i++) { /* block 0: every code; block 1: the same, scale 3e-7 */
            if (moment == ZO_Q8_FIRST_MOMENT)
                first[i] = (int8_t)((int)(i % ZO_Q8_BLOCK_ELEMS) % 255 - 127);
            else
                second[i] = (uint8_t)(i % ZO_Q8_BLOCK_ELEMS);
        }
        q.scales[0] = 2.5f, q.scales[1] = 3e-7f;
        float values[N];
        dequantize(ctx, (zo_q8_moment)moment, &q, values);
        quantized again = quantized_create(N);
        quantize(ctx, (zo_q8_moment)moment, values, &again);
        for (size_t b = 0; b < 2; b++)
            cr_expect(epsilon_eq(flt, again.scales[b], q.scales[b], 2.5e-7f * q.scales[b]),
                      "%s block %zu: scale %a, was %a", moment_name(moment), b, (double)again.scales[b],
                      (double)q.scales[b]);
        for (size_t i = 0; i < N; i++)
            cr_expect(eq(u8, ((uint8_t *)again.codes)[i], ((uint8_t *)q.codes)[i]),
                      "%s[%zu] (value %g)", moment_name(moment), i, (double)values[i]);
        quantized_destroy(&q);
        quantized_destroy(&again);
    }
    zo_adam_destroy(&ctx);
}

/* Known values on a block whose unit (scale / top) is a power of two: the top code,
 * the evenly spaced codes below F = 2 (like subnormals), a binade's codes, ties
 * rounding up, and a tail block shorter than a full one. */
ParameterizedTestParameters(adam_8bit, known_values_get_their_codes) { return every_path(); }
ParameterizedTest(zo_cpu_isa *isa, adam_8bit, known_values_get_their_codes)
{
    zo_adam *ctx = zo_test_context(*isa, 1);
    const float unit = 0x1p-10f; /* m: 61439 * unit is the block's maximum */
    const float m[6] = {-61439 * unit, 3 * unit, 0.5f * unit, 0.0f, 7.5f * unit, -0.0625f * unit};
    quantized q = quantized_create(6);
    quantize(ctx, ZO_Q8_FIRST_MOMENT, m, &q);
    const int8_t *codes = q.codes;
    cr_expect(eq(flt, q.scales[0], 61439 * unit));
    cr_expect(eq(i8, codes[0], -127)); /* F = 61440 = 2^15 * 1.875 */
    cr_expect(eq(i8, codes[1], 16));   /* F = 4 = 2^2: e = 2, f = 0 */
    cr_expect(eq(i8, codes[2], 4));    /* F = 1.5: the fourth of eight steps below 2 */
    cr_expect(eq(i8, codes[3], 0));
    cr_expect(eq(i8, codes[4], 25));   /* F = 8.5, halfway between 8 and 9: up */
    cr_expect(eq(i8, codes[5], -1));   /* F = 1.0625, halfway between 1 and 1.125: up */
    float back[6];
    dequantize(ctx, ZO_Q8_FIRST_MOMENT, &q, back);
    const float expected[6] = {-61439 * unit, 3 * unit, 0.5f * unit, 0.0f, 8 * unit, -0.125f * unit};
    for (int i = 0; i < 6; i++)
        cr_expect(eq(flt, back[i], expected[i]), "m[%d] came back %a", i, (double)back[i]);
    /* v: codes of sqrt(v), 16 a binade; sqrt(v) = 63487 units at most */
    const float root_unit = 0x1p-8f, top_root = 63487 * root_unit;
    const float v[5] = {top_root * top_root, root_unit * root_unit, 0.0f, 0.25f * root_unit * root_unit,
                        0x1p-18f * root_unit * root_unit};
    quantized qv = quantized_create(5);
    quantize(ctx, ZO_Q8_SECOND_MOMENT, v, &qv);
    const uint8_t *vcodes = qv.codes;
    cr_expect(eq(flt, qv.scales[0], top_root), "the second moment's scale is the largest sqrt(v)");
    cr_expect(eq(u8, vcodes[0], 255));
    cr_expect(eq(u8, vcodes[1], 16)); /* sqrt(v) = 1 unit: F = 2 */
    cr_expect(eq(u8, vcodes[2], 0));
    cr_expect(eq(u8, vcodes[3], 8));  /* sqrt(v) = 1/2 unit: F = 1.5 */
    cr_expect(eq(u8, vcodes[4], 1), "a positive v keeps code 1 where it would round to 0");
    float vback[5];
    dequantize(ctx, ZO_Q8_SECOND_MOMENT, &qv, vback);
    cr_expect(eq(flt, vback[0], v[0]), "the block's maximum comes back exactly");
    cr_expect(eq(flt, vback[1], v[1]));
    cr_expect(eq(flt, vback[2], 0.0f));
    cr_expect(eq(flt, vback[3], v[3]));
    cr_expect(eq(flt, vback[4], root_unit * root_unit / 256), "code 1: sqrt(v) = 1/16 unit");
    quantized_destroy(&q);
    quantized_destroy(&qv);
    zo_adam_destroy(&ctx);
}

Test(adam_8bit, zeros_stay_zeros)
{
    enum { N = 3 * ZO_Q8_BLOCK_ELEMS + 5 };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    float zeros[N] = {0}, back[N];
    for (int moment = 0; moment < 2; moment++) {
        quantized q = quantized_create(N);
        memset(q.codes, 0x55, N);
        quantize(ctx, (zo_q8_moment)moment, zeros, &q);
        for (size_t b = 0; b < zo_q8_block_count(N); b++)
            cr_expect(eq(flt, q.scales[b], 0.0f), "%s: scale %zu", moment_name(moment), b);
        for (size_t i = 0; i < N; i++)
            cr_expect(eq(u8, ((uint8_t *)q.codes)[i], 0), "%s: code %zu", moment_name(moment), i);
        dequantize(ctx, (zo_q8_moment)moment, &q, back);
        for (size_t i = 0; i < N; i++)
            cr_expect(eq(flt, back[i], 0.0f), "%s: value %zu", moment_name(moment), i);
        quantized_destroy(&q);
    }
    zo_adam_destroy(&ctx);
}

/* The code map's spacing around x (zo/adam.h): with unit = scale / top, |x| is
 * (F - 1) unit, and F in the binade [2^e, 2^(e + 1)) has 2^k codes (k mantissa bits:
 * 3 for m, 4 for sqrt(v)), 2^(e - k) units apart. Rounded to nearest the error is at
 * most half of that; the step's stochastic rounding less than all of it; plus float
 * rounding. Scales below 2^-100 count as 2^-100. */
static double rounding_bound(double x, double scale, double top, int mantissa_bits, bool stochastic)
{
    double unit = fmax(scale, 0x1p-100) / top;
    double level = fabs(x) / unit + 1.0;
    double spacing = exp2(floor(log2(level)) - mantissa_bits) * unit;
    return (stochastic ? 1.0 : 0.5) * spacing * (1.0 + 1e-5) + 1e-6 * fabs(x);
}

static double first_moment_bound(double x, double scale)
{
    return rounding_bound(x, scale, 61439.0, 3, false);
}

/* One element 1e30 times the others: it is kept (to float rounding), the small ones of m round to
 * zero, and no positive v is lost (code >= 1). Every value stays finite. */
Test(adam_8bit, one_huge_element_keeps_the_block_finite)
{
    enum { N = ZO_Q8_BLOCK_ELEMS };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 1);
    float values[N], back[N];
    for (size_t i = 0; i < N; i++)
        values[i] = (i % 2 ? -1.0f : 1.0f) * (1.0f + (float)i / N);
    values[77] = 3e30f;
    quantized q = quantized_create(N);
    quantize(ctx, ZO_Q8_FIRST_MOMENT, values, &q);
    dequantize(ctx, ZO_Q8_FIRST_MOMENT, &q, back);
    cr_expect(epsilon_eq(flt, back[77], 3e30f, 3e30f * 2.5e-7f), "the maximum comes back within 2 ulps");
    for (size_t i = 0; i < N; i++) {
        cr_assert(isfinite(back[i]), "m[%zu] = %g", i, (double)back[i]);
        cr_expect(le(dbl, fabs((double)back[i] - values[i]), first_moment_bound(values[i], 3e30)),
                  "m[%zu]", i);
    }
    for (size_t i = 0; i < N; i++)
        values[i] = fabsf(values[i]);
    quantize(ctx, ZO_Q8_SECOND_MOMENT, values, &q);
    dequantize(ctx, ZO_Q8_SECOND_MOMENT, &q, back);
    for (size_t i = 0; i < N; i++) {
        cr_assert(isfinite(back[i]), "v[%zu] = %g", i, (double)back[i]);
        cr_expect(ge(u8, ((uint8_t *)q.codes)[i], 1), "a positive v[%zu] must not become 0", i);
        cr_expect(gt(flt, back[i], 0.0f), "v[%zu]", i);
    }
    quantized_destroy(&q);
    zo_adam_destroy(&ctx);
}

/* Subnormal values (the block's maximum too): the scale is the block's own maximum,
 * the code factor is computed without dividing by a subnormal, and everything comes
 * back finite: moments this small (below 2^-119) round to zero, far below any eps.
 * Just above the 2^-100 floor a block keeps the map's full resolution. */
Test(adam_8bit, subnormal_blocks_round_trip)
{
    enum { N = ZO_Q8_BLOCK_ELEMS };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 1);
    for (int tiny = 1; tiny >= 0; tiny--) {
        float values[N], back[N];
        float magnitude = tiny ? FLT_MIN : 0x1p-90f;
        for (size_t i = 0; i < N; i++)
            values[i] = (i % 3 ? 1.0f : -1.0f) * magnitude * (0.001f + 0.5f * (float)i / N);
        float block_max = 0.0f;
        for (size_t i = 0; i < N; i++)
            block_max = fmaxf(block_max, fabsf(values[i]));
        quantized q = quantized_create(N);
        quantize(ctx, ZO_Q8_FIRST_MOMENT, values, &q);
        cr_expect(eq(flt, q.scales[0], block_max));
        dequantize(ctx, ZO_Q8_FIRST_MOMENT, &q, back);
        for (size_t i = 0; i < N; i++) {
            cr_assert(isfinite(back[i]));
            cr_expect(le(dbl, fabs((double)back[i] - values[i]), first_moment_bound(values[i], block_max)),
                      "m[%zu] = %g came back %g", i, (double)values[i], (double)back[i]);
            cr_expect(back[i] == 0.0f || signbit(back[i]) == signbit(values[i]), "m[%zu] sign", i);
            if (tiny)
                cr_expect(eq(flt, back[i], 0.0f), "m[%zu] = %g is below the floor", i, (double)values[i]);
            else /* well above the smallest code: within the map's relative half step */
                cr_expect(le(dbl, fabs((double)back[i] - values[i]), fabs(values[i]) / 16 + 1e-6 * block_max),
                          "m[%zu] = %g came back %g", i, (double)values[i], (double)back[i]);
        }
        quantized_destroy(&q);
    }
    zo_adam_destroy(&ctx);
}

/* Finite input over the whole float range, the largest float included, never gives
 * an inf or a NaN, in either direction. */
ParameterizedTestParameters(adam_8bit, finite_input_never_gives_inf_or_nan) { return every_path(); }
ParameterizedTest(zo_cpu_isa *isa, adam_8bit, finite_input_never_gives_inf_or_nan)
{
    enum { N = 20 * ZO_Q8_BLOCK_ELEMS + 3 };
    zo_adam *ctx = zo_test_context(*isa, 2);
    static float values[N], back[N];
    zo_test_rng rng = {17};
    for (size_t i = 0; i < N; i++) {
        uint32_t bits = (uint32_t)zo_test_next(&rng);
        if ((bits & 0x7f800000u) == 0x7f800000u) /* inf or NaN: make it the largest float */
            bits = (bits & 0x80000000u) | 0x7f7fffffu;
        memcpy(&values[i], &bits, sizeof bits);
    }
    values[5] = FLT_MAX, values[ZO_Q8_BLOCK_ELEMS + 1] = -FLT_MAX, values[N - 1] = 0x1p-149f;
    for (int moment = 0; moment < 2; moment++) {
        if (moment == ZO_Q8_SECOND_MOMENT)
            for (size_t i = 0; i < N; i++)
                values[i] = fabsf(values[i]);
        quantized q = quantized_create(N);
        quantize(ctx, (zo_q8_moment)moment, values, &q);
        dequantize(ctx, (zo_q8_moment)moment, &q, back);
        for (size_t b = 0; b < zo_q8_block_count(N); b++)
            cr_assert(isfinite(q.scales[b]), "%s: scale %zu is %g", moment_name(moment), b,
                      (double)q.scales[b]);
        for (size_t i = 0; i < N; i++)
            cr_assert(isfinite(back[i]), "%s[%zu]: %g came back %g", moment_name(moment), i,
                      (double)values[i], (double)back[i]);
        quantized_destroy(&q);
    }
    zo_adam_destroy(&ctx);
}

/* The arrays of one 8-bit run. */
typedef struct q8_arrays {
    size_t n;
    float *master;
    float *grad;
    uint16_t *out;
    quantized m, v;
} q8_arrays;

static q8_arrays q8_arrays_create(size_t n, uint64_t seed)
{
    q8_arrays a = {.n = n,
                   .master = calloc(n + 1, sizeof(float)),
                   .grad = calloc(n + 1, sizeof(float)),
                   .out = zo_test_alloc(n, sizeof(uint16_t), 0), /* aligned: big steps stream it */
                   .m = quantized_create(n),
                   .v = quantized_create(n)};
    cr_assert(a.master && a.grad && a.out, "out of memory");
    zo_test_rng rng = {seed};
    for (size_t i = 0; i < n; i++)
        a.master[i] = zo_test_uniform(&rng, -1.5f, 1.5f);
    return a;
}

static void q8_arrays_destroy(q8_arrays *a)
{
    free(a->master), free(a->grad);
    zo_test_free(a->out, 0, sizeof(uint16_t));
    quantized_destroy(&a->m);
    quantized_destroy(&a->v);
}

/* Gradients with a spread of magnitudes (1e-4 .. 1) so blocks hold small and large. */
static void q8_fill_grad(q8_arrays *a, zo_test_rng *rng)
{
    for (size_t i = 0; i < a->n; i++) {
        float magnitude = powf(10.0f, zo_test_uniform(rng, -4.0f, 0.0f));
        a->grad[i] = (zo_test_next(rng) & 1) ? magnitude : -magnitude;
    }
}

static zo_adam_buffers q8_buffers(q8_arrays *a)
{
    return (zo_adam_buffers){.n = a->n,
                             .master = a->master,
                             .exp_avg = a->m.codes,
                             .exp_avg_sq = a->v.codes,
                             .moments_dtype = ZO_DTYPE_Q8,
                             .grad = a->grad,
                             .grad_dtype = ZO_DTYPE_F32,
                             .grad_scale = 1.0f,
                             .weights_out = a->out,
                             .weights_out_dtype = ZO_DTYPE_BF16,
                             .exp_avg_scale = a->m.scales,
                             .exp_avg_sq_scale = a->v.scales};
}

/* Each step against Adam in double on the moments the step itself dequantizes: the
 * master weight must match to fp32 rounding (w is rounded twice, by the decay and the
 * update, half an ulp each: 2.4e-7 |w| at most, allowed 3e-7 |w|; the update's own
 * arithmetic, a few fp32 operations, 1e-5 of lr), and the new moments must be the
 * double ones up to the code map's bound for stochastic rounding. */
ParameterizedTestParameters(adam_8bit, step_matches_double_adam_on_dequantized_moments)
{
    return every_path();
}
ParameterizedTest(zo_cpu_isa *isa, adam_8bit, step_matches_double_adam_on_dequantized_moments)
{
    enum { N = 1037, STEPS = 20 };
    zo_adam *ctx = zo_test_context(*isa, 3);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    hp.weight_decay = 0.01f;
    q8_arrays a = q8_arrays_create(N, 3);
    zo_adam_buffers b = q8_buffers(&a);
    zo_test_rng rng = {8};
    static float m_before[N], v_before[N], m_after[N], v_after[N];
    static double m_ref[N], v_ref[N], w_ref[N];
    double worst_w = 0, worst_m = 0, worst_v = 0;
    for (uint64_t step = 1; step <= STEPS; step++) {
        q8_fill_grad(&a, &rng);
        dequantize(ctx, ZO_Q8_FIRST_MOMENT, &a.m, m_before);
        dequantize(ctx, ZO_Q8_SECOND_MOMENT, &a.v, v_before);
        double bc1 = 1.0 - pow(hp.beta1, (double)step), bc2 = 1.0 - pow(hp.beta2, (double)step);
        for (size_t i = 0; i < N; i++) {
            double g = a.grad[i];
            m_ref[i] = hp.beta1 * (double)m_before[i] + (1.0 - hp.beta1) * g;
            v_ref[i] = hp.beta2 * (double)v_before[i] + (1.0 - hp.beta2) * g * g;
            double w = a.master[i] * (1.0 - (double)hp.lr * hp.weight_decay);
            w_ref[i] = w - hp.lr / bc1 * m_ref[i] / (sqrt(v_ref[i]) / sqrt(bc2) + hp.eps);
        }
        cr_assert(eq(int, zo_adam_step(ctx, &hp, step, &b), ZO_OK), "%s", zo_last_error());
        dequantize(ctx, ZO_Q8_FIRST_MOMENT, &a.m, m_after);
        dequantize(ctx, ZO_Q8_SECOND_MOMENT, &a.v, v_after);
        for (size_t i = 0; i < N; i++) {
            size_t block = i / ZO_Q8_BLOCK_ELEMS;
            double m_scale = a.m.scales[block], root_scale = a.v.scales[block];
            double w_err = fabs(a.master[i] - w_ref[i]) / (hp.lr * 1e-5 + 3e-7 * fabs(w_ref[i]));
            double m_err =
                fabs(m_after[i] - m_ref[i]) / rounding_bound(m_ref[i], m_scale, 61439.0, 3, true);
            /* v: the bound on sqrt(v), 4 mantissa bits */
            double root = sqrt(v_ref[i]);
            double v_err =
                fabs(sqrt(v_after[i]) - root) / rounding_bound(root, root_scale, 63487.0, 4, true);
            worst_w = fmax(worst_w, w_err), worst_m = fmax(worst_m, m_err),
            worst_v = fmax(worst_v, v_err);
            cr_assert(eq(u16, a.out[i], zo_f32_to_bf16(a.master[i])),
                      "out[%zu] is the rounded master", i);
        }
    }
    cr_expect(le(dbl, worst_w, 1.0), "master error %g of its allowance", worst_w);
    cr_expect(le(dbl, worst_m, 1.0), "m error %g of the rounding bound", worst_m);
    cr_expect(le(dbl, worst_v, 1.0), "sqrt(v) error %g of the rounding bound", worst_v);
    q8_arrays_destroy(&a);
    zo_adam_destroy(&ctx);
}

/* With beta2 = 0.999 and no gradient, v shrinks by 0.1% a step. In a block whose
 * maximum holds still (its element gets g^2 = v every step), that moves the others'
 * codes by 0.06 a step: rounded to nearest they would never move, and v would stay at
 * its start; m would stop near code 10 (0.6% of the maximum), where 0.9x moves it less
 * than half a code. Stochastic rounding follows both on average: after 500 steps v is
 * 0.999^500 of its start (0.61), within 3% over the 4080 decaying elements, and m,
 * scaled by 0.9^500, is gone. */
Test(adam_8bit, a_decaying_second_moment_does_not_freeze)
{
    enum { N = 4096, STEPS = 500 };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    q8_arrays a = q8_arrays_create(N, 5);
    zo_adam_buffers b = q8_buffers(&a);
    for (size_t i = 0; i < N; i++)
        a.grad[i] = 1.0f;
    cr_assert(eq(int, zo_adam_step(ctx, &hp, 1, &b), ZO_OK), "%s", zo_last_error());
    double start_v = 1.0 - (double)hp.beta2; /* every v after step 1 */
    for (size_t i = 0; i < N; i++)           /* each block's first element keeps its v: g^2 = v */
        a.grad[i] = i % ZO_Q8_BLOCK_ELEMS == 0 ? (float)sqrt(start_v) : 0.0f;
    for (uint64_t step = 2; step <= STEPS + 1; step++)
        cr_assert(eq(int, zo_adam_step(ctx, &hp, step, &b), ZO_OK), "%s", zo_last_error());
    static float v[N], m[N];
    dequantize(ctx, ZO_Q8_SECOND_MOMENT, &a.v, v);
    dequantize(ctx, ZO_Q8_FIRST_MOMENT, &a.m, m);
    double mean_v = 0, largest_m = 0;
    size_t decaying = 0;
    for (size_t i = 0; i < N; i++)
        if (i % ZO_Q8_BLOCK_ELEMS != 0)
            mean_v += v[i], decaying++, largest_m = fmax(largest_m, fabs(m[i]));
    mean_v /= (double)decaying;
    double expected = start_v * pow(hp.beta2, STEPS);
    cr_expect(epsilon_eq(dbl, mean_v / expected, 1.0, 0.03), "mean v %g, expected %g (start %g)",
              mean_v, expected, start_v);
    cr_expect(le(dbl, largest_m, 1e-6), "m should have decayed to nothing: %g", largest_m);
    q8_arrays_destroy(&a);
    zo_adam_destroy(&ctx);
}

/* `steps` steps of a fresh run; `ctx` decides the path and thread count. */
static q8_arrays q8_run(zo_adam *ctx, size_t n, int steps)
{
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    hp.weight_decay = 0.05f;
    q8_arrays a = q8_arrays_create(n, 21);
    zo_adam_buffers b = q8_buffers(&a);
    zo_test_rng rng = {4};
    for (int s = 1; s <= steps; s++) {
        q8_fill_grad(&a, &rng);
        if (s == 2) /* a hostile block: one huge gradient among tiny ones */
            a.grad[n / 2] = 1e20f;
        cr_assert(eq(int, zo_adam_step(ctx, &hp, (uint64_t)s, &b), ZO_OK), "%s", zo_last_error());
    }
    return a;
}

static void expect_same_run(const q8_arrays *x, const q8_arrays *y, const char *label)
{
    size_t blocks = zo_q8_block_count(x->n);
    cr_expect(x->n == 0 || memcmp(x->master, y->master, x->n * sizeof(float)) == 0,
              "%s: master differs", label);
    cr_expect(x->n == 0 || memcmp(x->out, y->out, x->n * sizeof(uint16_t)) == 0,
              "%s: weights out differ", label);
    cr_expect(x->n == 0 || memcmp(x->m.codes, y->m.codes, x->n) == 0, "%s: exp_avg codes differ",
              label);
    cr_expect(x->n == 0 || memcmp(x->v.codes, y->v.codes, x->n) == 0, "%s: exp_avg_sq codes differ",
              label);
    cr_expect(blocks == 0 || memcmp(x->m.scales, y->m.scales, blocks * sizeof(float)) == 0,
              "%s: exp_avg scales differ", label);
    cr_expect(blocks == 0 || memcmp(x->v.scales, y->v.scales, blocks * sizeof(float)) == 0,
              "%s: exp_avg_sq scales differ", label);
}

ParameterizedTestParameters(adam_8bit, every_path_gives_the_scalar_bits)
{
    static zo_cpu_isa isas[] = {ZO_CPU_ISA_AVX2, ZO_CPU_ISA_AVX512, ZO_CPU_ISA_AVX512_BF16};
    return cr_make_param_array(zo_cpu_isa, isas, 3);
}

ParameterizedTest(zo_cpu_isa *isa, adam_8bit, every_path_gives_the_scalar_bits)
{
    static const size_t lengths[] = {0, 1, 7, 8, 9, 17, 255, 256, 257, 1037, 4099};
    zo_adam *simd = zo_test_context(*isa, 2);
    zo_adam *scalar = zo_test_context(ZO_CPU_ISA_SCALAR, 1);
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        char label[96];
        snprintf(label, sizeof label, "%s n=%zu", zo_cpu_isa_name(*isa), lengths[l]);
        q8_arrays x = q8_run(simd, lengths[l], 4), y = q8_run(scalar, lengths[l], 4);
        expect_same_run(&x, &y, label);
        q8_arrays_destroy(&x);
        q8_arrays_destroy(&y);
    }
    zo_adam_destroy(&simd);
    zo_adam_destroy(&scalar);
}

/* zo-bench's traffic kernel (the step's memory limit) must move every byte the step
 * does, whatever way it groups its stores: each master element gets its gradient and
 * its block's m scale added, the weights out its copy, each code one more (clamped),
 * each scale one more. Lengths around the vector, the four-vector group and the block. */
ParameterizedTestParameters(adam_8bit, the_traffic_kernel_moves_every_byte_of_the_step) { return every_path(); }
ParameterizedTest(zo_cpu_isa *isa, adam_8bit, the_traffic_kernel_moves_every_byte_of_the_step)
{
    static const size_t lengths[] = {1, 15, 16, 63, 64, 65, 255, 256, 257, 1037};
    zo_adam *ctx = zo_test_context(*isa, 2);
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        size_t n = lengths[l], blocks = zo_q8_block_count(n);
        q8_arrays a = q8_arrays_create(n, 1);
        for (size_t i = 0; i < n; i++) { /* small multiples of 1/4: every sum below is exact */
            a.master[i] = 0.25f * (float)(i % 64);
            a.grad[i] = 1.0f;
            ((int8_t *)a.m.codes)[i] = (int8_t)((int)(i % 255) - 127);
            ((uint8_t *)a.v.codes)[i] = (uint8_t)(i % 256);
        }
        for (size_t b = 0; b < blocks; b++)
            a.m.scales[b] = 0.5f + (float)b, a.v.scales[b] = 2.0f * (float)b;
        zo_adam_buffers buffers = q8_buffers(&a);
        cr_assert(eq(int, zo_adam_traffic_only(ctx, &buffers), ZO_OK), "%s", zo_last_error());
        size_t wrong = 0, first_wrong = n;
        for (size_t i = 0; i < n; i++) {
            size_t b = i / ZO_Q8_BLOCK_ELEMS;
            float master = 0.25f * (float)(i % 64) + 1.0f + 0.5f + (float)b;
            int m = (int)(i % 255) - 127 + 1, v = (int)(i % 256) + 1;
            bool right = a.master[i] == master && a.out[i] == zo_f32_to_bf16(master) &&
                         ((int8_t *)a.m.codes)[i] == (m > 127 ? 127 : m) &&
                         ((uint8_t *)a.v.codes)[i] == (v > 255 ? 255 : v);
            if (!right && wrong++ == 0)
                first_wrong = i;
        }
        cr_expect(eq(sz, wrong, 0), "%s n=%zu: %zu elements not moved as the step moves them, the first %zu",
                  zo_cpu_isa_name(*isa), n, wrong, first_wrong);
        for (size_t b = 0; b < blocks; b++)
            cr_expect(a.m.scales[b] == 1.5f + (float)b && a.v.scales[b] == 2.0f * (float)b + 1.0f,
                      "%s n=%zu: block %zu's scales %g, %g", zo_cpu_isa_name(*isa), n, b, a.m.scales[b],
                      a.v.scales[b]);
        q8_arrays_destroy(&a);
    }
    zo_adam_destroy(&ctx);
}

ParameterizedTestParameters(adam_8bit, big_steps_stream_weights_out_with_the_same_bits)
{
    static zo_cpu_isa isas[] = {ZO_CPU_ISA_AVX2, ZO_CPU_ISA_AVX512, ZO_CPU_ISA_AVX512_BF16};
    return cr_make_param_array(zo_cpu_isa, isas, 3);
}

/* Weights out of 16 MiB or more are written past the caches (adam.c): the scalar bits
 * still, tail included. */
ParameterizedTest(zo_cpu_isa *isa, adam_8bit, big_steps_stream_weights_out_with_the_same_bits)
{
    size_t n = ((size_t)16 << 20) / sizeof(uint16_t) + 37;
    zo_adam *simd = zo_test_context(*isa, 2);
    zo_adam *scalar = zo_test_context(ZO_CPU_ISA_SCALAR, 1);
    q8_arrays x = q8_run(simd, n, 2), y = q8_run(scalar, n, 2);
    expect_same_run(&x, &y, zo_cpu_isa_name(*isa));
    q8_arrays_destroy(&x);
    q8_arrays_destroy(&y);
    zo_adam_destroy(&simd);
    zo_adam_destroy(&scalar);
}

ParameterizedTestParameters(adam_8bit, thread_count_does_not_change_a_bit) { return every_path(); }
ParameterizedTest(zo_cpu_isa *isa, adam_8bit, thread_count_does_not_change_a_bit)
{
    enum { N = 100003 }; /* enough for four threads, not a multiple of a block */
    zo_adam *one = zo_test_context(*isa, 1);
    q8_arrays expected = q8_run(one, N, 3);
    for (int threads = 2; threads <= 4; threads++) {
        char label[96];
        snprintf(label, sizeof label, "%s threads=%d", zo_cpu_isa_name(*isa), threads);
        zo_adam *many = zo_test_context(*isa, threads);
        q8_arrays got = q8_run(many, N, 3);
        expect_same_run(&got, &expected, label);
        q8_arrays_destroy(&got);
        zo_adam_destroy(&many);
    }
    q8_arrays_destroy(&expected);
    zo_adam_destroy(&one);
}

/* The engine steps a shard bucket by bucket: calls split at block boundaries, each
 * with its first_index, give the bits of one call over the whole (the dither is drawn
 * from the element's index in the whole state). */
Test(adam_8bit, calls_split_at_block_boundaries_give_one_calls_bits)
{
    enum { N = 5 * ZO_Q8_BLOCK_ELEMS + 77, CUT = 2 * ZO_Q8_BLOCK_ELEMS };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    q8_arrays whole = q8_arrays_create(N, 9), split = q8_arrays_create(N, 9);
    zo_test_rng rng = {12};
    for (uint64_t step = 1; step <= 3; step++) {
        q8_fill_grad(&whole, &rng);
        memcpy(split.grad, whole.grad, N * sizeof(float));
        zo_adam_buffers b = q8_buffers(&whole);
        cr_assert(eq(int, zo_adam_step(ctx, &hp, step, &b), ZO_OK), "%s", zo_last_error());
        zo_adam_buffers head = q8_buffers(&split), tail = head;
        head.n = CUT;
        tail.n = N - CUT, tail.first_index = CUT;
        tail.master += CUT, tail.grad = split.grad + CUT, tail.weights_out = split.out + CUT;
        tail.exp_avg = (int8_t *)split.m.codes + CUT,
        tail.exp_avg_sq = (uint8_t *)split.v.codes + CUT;
        tail.exp_avg_scale += CUT / ZO_Q8_BLOCK_ELEMS,
            tail.exp_avg_sq_scale += CUT / ZO_Q8_BLOCK_ELEMS;
        cr_assert(eq(int, zo_adam_step(ctx, &hp, step, &head), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_adam_step(ctx, &hp, step, &tail), ZO_OK), "%s", zo_last_error());
    }
    expect_same_run(&whole, &split, "two calls");
    q8_arrays_destroy(&whole);
    q8_arrays_destroy(&split);
    zo_adam_destroy(&ctx);
}

Test(adam_8bit, missing_scales_are_named)
{
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 1);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    q8_arrays a = q8_arrays_create(10, 1);
    zo_adam_buffers b = q8_buffers(&a);
    b.exp_avg_scale = NULL;
    cr_expect(eq(int, zo_adam_step(ctx, &hp, 1, &b), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "exp_avg_scale") != NULL, "%s", zo_last_error());
    b = q8_buffers(&a);
    b.exp_avg_sq_scale = NULL;
    cr_expect(eq(int, zo_adam_step(ctx, &hp, 1, &b), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "exp_avg_sq_scale") != NULL, "%s", zo_last_error());
    b = q8_buffers(&a);
    b.grad_dtype = ZO_DTYPE_Q8; /* codes are no gradient dtype */
    cr_expect(eq(int, zo_adam_step(ctx, &hp, 1, &b), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int,
                 zo_adam_quantize_moment(ctx, (zo_q8_moment)2, a.master, 10, a.m.codes, a.m.scales),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int,
                 zo_adam_dequantize_moment(ctx, ZO_Q8_FIRST_MOMENT, NULL, a.m.scales, 10, a.master),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(sz, zo_moments_bytes(ZO_DTYPE_Q8, 1000), (size_t)(1000 + 4 * 4)));
    cr_expect(eq(sz, zo_moments_bytes(ZO_DTYPE_F16, 1000), (size_t)0), "fp16 moments do not exist");
    q8_arrays_destroy(&a);
    zo_adam_destroy(&ctx);
}
