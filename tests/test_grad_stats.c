/* zo_adam_grad_stats: the sum of squares against a long-double reference, the same
 * bits for every path and thread count, no drift at scale, and inf/NaN found wherever
 * they are; and the guard it gives zo_adam_step. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <math.h>

#include "test_support.h"

static const zo_dtype dtypes[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16};

static void *random_grads(size_t n, zo_dtype dtype, size_t offset, uint64_t seed)
{
    void *grad = zo_test_alloc(n, zo_dtype_size(dtype), offset);
    zo_test_rng rng = {seed};
    for (size_t i = 0; i < n; i++)
        zo_test_store(grad, dtype, i, zo_test_uniform(&rng, -100.0f, 100.0f));
    return grad;
}

static zo_grad_stats stats_of(zo_adam *ctx, const void *grad, zo_dtype dtype, size_t n)
{
    zo_grad_stats stats = {0};
    cr_assert(eq(int, zo_adam_grad_stats(ctx, grad, dtype, n, &stats), ZO_OK), "%s", zo_last_error());
    return stats;
}

ParameterizedTestParameters(grad_stats, matches_reference_same_bits_for_any_threads)
{
    static zo_cpu_isa isas[] = ZO_TEST_ISAS;
    return cr_make_param_array(zo_cpu_isa, isas, ZO_TEST_ISA_COUNT);
}

/* The sum is accumulated in double over 16 fixed lanes and fixed slices, so every
 * path and every thread count gives the scalar path's bits; against a long-double
 * sum it is good to ~1e-15 relative (we allow 1e-13). */
ParameterizedTest(zo_cpu_isa *isa, grad_stats, matches_reference_same_bits_for_any_threads)
{
    static const size_t lengths[] = {0, 1, 15, 17, 1037, 100003, 3000017};
    zo_adam *scalar = zo_test_context(ZO_CPU_ISA_SCALAR, 1);
    for (size_t d = 0; d < 3; d++)
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            size_t n = lengths[l];
            void *grad = random_grads(n, dtypes[d], 1, 17 + l);
            long double reference = 0;
            for (size_t i = 0; i < n; i++) {
                long double x = zo_test_load(grad, dtypes[d], i);
                reference += x * x;
            }
            zo_grad_stats expected = stats_of(scalar, grad, dtypes[d], n);
            cr_expect(expected.all_finite);
            cr_expect(le(dbl, fabs(expected.sum_squares - (double)reference), 1e-13 * (double)reference),
                      "%s n=%zu: %.17g vs %.17Lg", zo_dtype_name(dtypes[d]), n, expected.sum_squares, reference);
            for (int threads = 1; threads <= 4; threads++) {
                zo_adam *ctx = zo_test_context(*isa, threads);
                zo_grad_stats got = stats_of(ctx, grad, dtypes[d], n);
                cr_expect(eq(dbl, got.sum_squares, expected.sum_squares), "%s %s n=%zu threads=%d",
                          zo_cpu_isa_name(*isa), zo_dtype_name(dtypes[d]), n, threads);
                zo_adam_destroy(&ctx);
            }
            zo_test_free(grad, 1, zo_dtype_size(dtypes[d]));
        }
    zo_adam_destroy(&scalar);
}

/* 2^26 copies of one bf16 value: every partial sum is exact in double (16 significant
 * bits times at most 2^26), so the result must be exact. An fp32 accumulator would be
 * off by percents here. */
Test(grad_stats, does_not_drift_over_64_million_elements)
{
    enum { N = 1 << 26 };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    uint16_t *grad = zo_test_alloc(N, sizeof(uint16_t), 0);
    uint16_t tenth = zo_f32_to_bf16(0.1f);
    for (size_t i = 0; i < N; i++)
        grad[i] = tenth;
    double value = zo_bf16_to_f32(tenth);
    zo_grad_stats stats = stats_of(ctx, grad, ZO_DTYPE_BF16, N);
    cr_expect(eq(dbl, stats.sum_squares, (double)N * value * value));
    zo_test_free(grad, 0, sizeof(uint16_t));
    zo_adam_destroy(&ctx);
}

/* Puts `poison` at grad[at], expects the stats to notice, and puts the value back. */
static void expect_poison_found(zo_adam *ctx, void *grad, zo_dtype dtype, size_t n, size_t at, float poison)
{
    float saved = zo_test_load(grad, dtype, at);
    zo_test_store(grad, dtype, at, poison);
    zo_grad_stats s = stats_of(ctx, grad, dtype, n);
    cr_assert(eq(int, s.all_finite, 0), "%s %s: %g at %zu of %zu missed", zo_cpu_isa_name(zo_adam_isa(ctx)),
              zo_dtype_name(dtype), (double)poison, at, n);
    zo_test_store(grad, dtype, at, saved);
}

ParameterizedTestParameters(grad_stats, finds_inf_and_nan_anywhere)
{
    static zo_cpu_isa isas[] = ZO_TEST_ISAS;
    return cr_make_param_array(zo_cpu_isa, isas, ZO_TEST_ISA_COUNT);
}

/* Every position of a short buffer (vector body and tail), and the first, a slice
 * boundary and the last of a long one, for +inf, -inf and NaN in every dtype. */
ParameterizedTest(zo_cpu_isa *isa, grad_stats, finds_inf_and_nan_anywhere)
{
    static const float poisons[] = {INFINITY, -INFINITY, NAN};
    zo_adam *ctx = zo_test_context(*isa, 3);
    for (size_t d = 0; d < 3; d++) {
        enum { SHORT = 67, LONG = 1000003 };
        void *shortbuf = random_grads(SHORT, dtypes[d], 3, 5);
        void *longbuf = random_grads(LONG, dtypes[d], 0, 6);
        for (size_t p = 0; p < 3; p++) {
            for (size_t at = 0; at < SHORT; at++)
                expect_poison_found(ctx, shortbuf, dtypes[d], SHORT, at, poisons[p]);
            const size_t long_positions[] = {0, 8191, 8192, LONG / 2, LONG - 1};
            for (size_t k = 0; k < 5; k++)
                expect_poison_found(ctx, longbuf, dtypes[d], LONG, long_positions[k], poisons[p]);
        }
        cr_assert(stats_of(ctx, shortbuf, dtypes[d], SHORT).all_finite, "restored buffer is finite");
        zo_test_free(shortbuf, 3, zo_dtype_size(dtypes[d]));
        zo_test_free(longbuf, 0, zo_dtype_size(dtypes[d]));
    }
    zo_adam_destroy(&ctx);
}

Test(grad_stats, the_largest_finite_values_are_finite)
{
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    float f32[40];
    uint16_t f16[40], bf16[40];
    for (size_t i = 0; i < 40; i++) {
        f32[i] = (i % 2) ? 3.4028235e38f : -3.4028235e38f;
        f16[i] = 0x7bffu;  /* 65504 */
        bf16[i] = 0x7f7fu; /* the largest finite bf16 */
    }
    cr_expect(stats_of(ctx, f32, ZO_DTYPE_F32, 40).all_finite);
    cr_expect(stats_of(ctx, f16, ZO_DTYPE_F16, 40).all_finite);
    cr_expect(stats_of(ctx, bf16, ZO_DTYPE_BF16, 40).all_finite);
    zo_grad_stats empty = stats_of(ctx, NULL, ZO_DTYPE_F16, 0);
    cr_expect(empty.all_finite);
    cr_expect(eq(dbl, empty.sum_squares, 0.0));
    zo_grad_stats out;
    cr_expect(eq(int, zo_adam_grad_stats(ctx, NULL, ZO_DTYPE_F16, 3, &out), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_adam_grad_stats(ctx, f16, (zo_dtype)5, 3, &out), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_adam_grad_stats(ctx, f16, ZO_DTYPE_F16, 3, NULL), ZO_ERR_INVALID_ARGUMENT));
    zo_adam_destroy(&ctx);
}

/* The way the engine uses the pair: stats first, step only if finite. A NaN or inf
 * anywhere, in any dtype, must leave master weights and moments untouched; and without
 * the guard the same gradient would have reached them (so the check is not vacuous). */
Test(grad_stats, guarded_step_never_lets_a_non_finite_gradient_into_the_state)
{
    enum { N = 4103 };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    float *master = zo_test_alloc(N, sizeof(float), 1), *m = zo_test_alloc(N, sizeof(float), 0),
          *v = zo_test_alloc(N, sizeof(float), 0), *before = zo_test_alloc(3 * N, sizeof(float), 0);
    uint16_t *out = zo_test_alloc(N, sizeof(uint16_t), 0);
    for (size_t i = 0; i < N; i++)
        master[i] = 0.25f + (float)i * 1e-4f;
    static const float poisons[] = {INFINITY, -INFINITY, NAN};
    for (size_t d = 0; d < 3; d++)
        for (size_t p = 0; p < 3; p++)
            for (size_t at = 0; at < N; at += 997) {
                void *grad = random_grads(N, dtypes[d], 2, at);
                zo_test_store(grad, dtypes[d], at, poisons[p]);
                memcpy(before, master, N * sizeof(float));
                memcpy(before + N, m, N * sizeof(float));
                memcpy(before + 2 * N, v, N * sizeof(float));
                zo_adam_buffers b = {.n = N, .master = master, .exp_avg = m, .exp_avg_sq = v,
                                     .moments_dtype = ZO_DTYPE_F32, .grad = grad, .grad_dtype = dtypes[d],
                                     .grad_scale = 1.0f, .weights_out = out, .weights_out_dtype = ZO_DTYPE_F16};
                if (stats_of(ctx, grad, dtypes[d], N).all_finite)
                    cr_assert(eq(int, zo_adam_step(ctx, &hp, 1, &b), ZO_OK));
                cr_assert(memcmp(before, master, N * sizeof(float)) == 0, "master changed (%s at %zu)",
                          zo_dtype_name(dtypes[d]), at);
                cr_assert(memcmp(before + N, m, N * sizeof(float)) == 0, "exp_avg changed");
                cr_assert(memcmp(before + 2 * N, v, N * sizeof(float)) == 0, "exp_avg_sq changed");
                zo_test_free(grad, 2, zo_dtype_size(dtypes[d]));
            }
    /* the control: unguarded, the NaN lands in the master weights */
    float *grad = random_grads(N, ZO_DTYPE_F32, 0, 1);
    grad[N - 1] = NAN;
    zo_adam_buffers b = {.n = N, .master = master, .exp_avg = m, .exp_avg_sq = v,
                         .moments_dtype = ZO_DTYPE_F32, .grad = grad, .grad_dtype = ZO_DTYPE_F32,
                         .grad_scale = 1.0f};
    cr_assert(eq(int, zo_adam_step(ctx, &hp, 1, &b), ZO_OK));
    cr_expect(isnan(master[N - 1]), "an unguarded NaN gradient reaches the weights");
    zo_test_free(grad, 0, sizeof(float));
    zo_test_free(master, 1, sizeof(float));
    zo_test_free(m, 0, sizeof(float));
    zo_test_free(v, 0, sizeof(float));
    zo_test_free(before, 0, sizeof(float));
    zo_test_free(out, 0, sizeof(uint16_t));
    zo_adam_destroy(&ctx);
}
