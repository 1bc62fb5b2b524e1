/* zo_adam_step on every path and dtype combination: against a double-precision
 * reference over many steps, bit for bit against the scalar path, and bit for bit
 * across thread counts; plus its argument checks. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>

#include "test_support.h"

/* The hyper-parameter settings every combination is run under. */
typedef enum hp_mode { ADAM_NO_DECAY, ADAM_L2_DECAY, ADAMW_DECAY, ADAMW_NO_BIAS_CORRECTION, HP_MODES } hp_mode;

static zo_adam_hparams hparams_for(hp_mode mode)
{
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    hp.lr = 1e-3f;
    hp.adamw = mode == ADAMW_DECAY || mode == ADAMW_NO_BIAS_CORRECTION;
    hp.weight_decay = mode == ADAM_NO_DECAY ? 0.0f : 0.05f;
    hp.bias_correction = mode != ADAMW_NO_BIAS_CORRECTION;
    return hp;
}

static const char *mode_name(hp_mode mode)
{
    static const char *names[] = {"adam", "adam+l2", "adamw", "adamw-no-bias-correction"};
    return names[mode];
}

/* One (grad, moments, out) combination; out_dtype < 0 means no fused output. */
typedef struct combo {
    zo_dtype grad, moments;
    int out;
} combo;

static const combo all_combos[] = {
#define C(g, m)                                                                          \
    {ZO_DTYPE_##g, ZO_DTYPE_##m, -1}, {ZO_DTYPE_##g, ZO_DTYPE_##m, ZO_DTYPE_F32},         \
        {ZO_DTYPE_##g, ZO_DTYPE_##m, ZO_DTYPE_F16}, {ZO_DTYPE_##g, ZO_DTYPE_##m, ZO_DTYPE_BF16}
    C(F32, F32), C(F32, BF16), C(F16, F32), C(F16, BF16), C(BF16, F32), C(BF16, BF16),
#undef C
};
enum { COMBO_COUNT = sizeof all_combos / sizeof all_combos[0] };

/* The arrays of one combination, each at its own odd offset from alignment. */
typedef struct arrays {
    size_t n;
    combo types;
    float *master;
    void *m, *v, *grad, *out;
    size_t out_offset; /* in elements, from 64-byte alignment */
} arrays;

enum { OFF_MASTER = 1, OFF_M = 3, OFF_V = 0, OFF_GRAD = 5, OFF_OUT = 2 };

/* Gradients are stored times GRAD_LOSS_SCALE and unscaled by grad_scale, as a loss-scaled
 * fp16 gradient would be; a power of two, so the reference sees the same values. */
#define GRAD_LOSS_SCALE 128.0f

static arrays arrays_create_out_at(size_t n, combo types, uint64_t seed, size_t out_offset)
{
    arrays a = {.n = n, .types = types, .out_offset = out_offset};
    size_t msize = zo_dtype_size(types.moments);
    a.master = zo_test_alloc(n, sizeof(float), OFF_MASTER);
    a.m = zo_test_alloc(n, msize, OFF_M);
    a.v = zo_test_alloc(n, msize, OFF_V);
    a.grad = zo_test_alloc(n, zo_dtype_size(types.grad), OFF_GRAD);
    a.out = types.out >= 0 ? zo_test_alloc(n, zo_dtype_size((zo_dtype)types.out), out_offset) : NULL;
    zo_test_rng rng = {seed};
    for (size_t i = 0; i < n; i++) {
        /* weights away from zero so relative errors mean something */
        float magnitude = zo_test_uniform(&rng, 0.5f, 1.5f);
        a.master[i] = (zo_test_next(&rng) & 1) ? magnitude : -magnitude;
    }
    return a;
}

static void arrays_destroy(arrays *a)
{
    size_t msize = zo_dtype_size(a->types.moments);
    zo_test_free(a->master, OFF_MASTER, sizeof(float));
    zo_test_free(a->m, OFF_M, msize);
    zo_test_free(a->v, OFF_V, msize);
    zo_test_free(a->grad, OFF_GRAD, zo_dtype_size(a->types.grad));
    if (a->out)
        zo_test_free(a->out, a->out_offset, zo_dtype_size((zo_dtype)a->types.out));
}

static arrays arrays_create(size_t n, combo types, uint64_t seed) { return arrays_create_out_at(n, types, seed, OFF_OUT); }

/* New gradients for a step: random sign, magnitude in [0.01, 1), loss-scaled. */
static void arrays_fill_grad(arrays *a, zo_test_rng *rng)
{
    for (size_t i = 0; i < a->n; i++) {
        float magnitude = zo_test_uniform(rng, 0.01f, 1.0f);
        zo_test_store(a->grad, a->types.grad, i,
                      GRAD_LOSS_SCALE * ((zo_test_next(rng) & 1) ? magnitude : -magnitude));
    }
}

static zo_adam_buffers buffers_of(const arrays *a)
{
    return (zo_adam_buffers){.n = a->n,
                             .master = a->master,
                             .exp_avg = a->m,
                             .exp_avg_sq = a->v,
                             .moments_dtype = a->types.moments,
                             .grad = a->grad,
                             .grad_dtype = a->types.grad,
                             .grad_scale = 1.0f / GRAD_LOSS_SCALE,
                             .weights_out = a->out,
                             .weights_out_dtype = a->types.out >= 0 ? (zo_dtype)a->types.out : ZO_DTYPE_F32};
}

/* Adam/AdamW in double from the same (rounded) gradient values. */
typedef struct reference {
    double *w, *m, *v;
} reference;

static reference reference_create(const arrays *a)
{
    reference r = {calloc(a->n, sizeof(double)), calloc(a->n, sizeof(double)),
                   calloc(a->n, sizeof(double))};
    for (size_t i = 0; i < a->n; i++)
        r.w[i] = a->master[i];
    return r;
}

static void reference_destroy(reference *r)
{
    free(r->w);
    free(r->m);
    free(r->v);
}

static void reference_step(reference *r, const arrays *a, const zo_adam_hparams *hp, uint64_t step)
{
    double beta1 = hp->beta1, beta2 = hp->beta2, lr = hp->lr, wd = hp->weight_decay;
    double bc1 = hp->bias_correction ? 1.0 - pow(beta1, (double)step) : 1.0;
    double bc2 = hp->bias_correction ? 1.0 - pow(beta2, (double)step) : 1.0;
    for (size_t i = 0; i < a->n; i++) {
        double g = (double)zo_test_load(a->grad, a->types.grad, i) / GRAD_LOSS_SCALE;
        if (!hp->adamw)
            g += wd * r->w[i];
        r->m[i] = beta1 * r->m[i] + (1.0 - beta1) * g;
        r->v[i] = beta2 * r->v[i] + (1.0 - beta2) * g * g;
        double denom = sqrt(r->v[i]) / sqrt(bc2) + hp->eps;
        if (hp->adamw)
            r->w[i] -= lr * wd * r->w[i];
        r->w[i] -= lr / bc1 * r->m[i] / denom;
    }
}

/* Tolerances. fp32 moments: every step rounds w, m and v once or twice (2^-24 relative
 * each), so after STEPS steps the error is below STEPS * 2^-23 ~ 3e-6 relative; we
 * allow 4e-6 (seen: 6e-7). bf16 moments are rounded to 8 bits (2^-9 relative) every step: m's error
 * stays below 2^-9 / (1 - beta1) ~ 2e-2 of its size, v's grows at most STEPS * 2^-9
 * ~ 5e-2, and each step's update inherits ~5% of lr, so w may drift 5e-3 relative
 * (seen: 1.3e-4, 3e-3, 2e-2). */
enum { STEPS = 25 };
typedef struct tolerance {
    double master_rel, m_abs, v_rel;
} tolerance;
static const tolerance fp32_moments = {4e-6, 1e-6, 4e-6};
static const tolerance bf16_moments = {5e-3, 2e-2, 6e-2};

typedef struct max_error {
    double master_rel, m_abs, v_rel;
} max_error;

static max_error compare_with_reference(const arrays *a, const reference *r)
{
    max_error e = {0};
    for (size_t i = 0; i < a->n; i++) {
        double m = zo_test_load(a->m, a->types.moments, i);
        double v = zo_test_load(a->v, a->types.moments, i);
        e.master_rel = fmax(e.master_rel, fabs(a->master[i] - r->w[i]) / fabs(r->w[i]));
        e.m_abs = fmax(e.m_abs, fabs(m - r->m[i]));
        e.v_rel = fmax(e.v_rel, fabs(v - r->v[i]) / r->v[i]);
    }
    return e;
}

/* The fused output must be exactly the master weight rounded to nearest even. */
static void expect_out_is_rounded_master(const arrays *a, const char *label)
{
    if (!a->out)
        return;
    for (size_t i = 0; i < a->n; i++) {
        float master = a->master[i];
        switch (a->types.out) {
        case ZO_DTYPE_F16:
            cr_assert(eq(u16, ((uint16_t *)a->out)[i], zo_f32_to_f16(master)), "%s: out[%zu]", label, i);
            break;
        case ZO_DTYPE_BF16:
            cr_assert(eq(u16, ((uint16_t *)a->out)[i], zo_f32_to_bf16(master)), "%s: out[%zu]", label, i);
            break;
        default:
            cr_assert(eq(flt, ((float *)a->out)[i], master), "%s: out[%zu]", label, i);
            break;
        }
    }
}

static void describe(char *label, size_t size, zo_cpu_isa isa, hp_mode mode, combo t)
{
    snprintf(label, size, "%s %s grad=%s moments=%s out=%s", zo_cpu_isa_name(isa), mode_name(mode),
             zo_dtype_name(t.grad), zo_dtype_name(t.moments),
             t.out >= 0 ? zo_dtype_name((zo_dtype)t.out) : "none");
}

typedef struct path_and_mode {
    zo_cpu_isa isa;
    hp_mode mode;
} path_and_mode;

static struct criterion_test_params every_path_and_mode(void)
{
    static path_and_mode cases[ZO_TEST_ISA_COUNT * HP_MODES];
    static const zo_cpu_isa isas[] = ZO_TEST_ISAS;
    for (int k = 0; k < ZO_TEST_ISA_COUNT; k++)
        for (int mode = 0; mode < HP_MODES; mode++)
            cases[k * HP_MODES + mode] = (path_and_mode){isas[k], (hp_mode)mode};
    return cr_make_param_array(path_and_mode, cases, ZO_TEST_ISA_COUNT * HP_MODES);
}

ParameterizedTestParameters(adam, matches_double_reference_over_many_steps) { return every_path_and_mode(); }

ParameterizedTest(path_and_mode *p, adam, matches_double_reference_over_many_steps)
{
    enum { N = 1037 }; /* odd: every path ends in a partial vector */
    zo_adam *ctx = zo_test_context(p->isa, 3);
    zo_adam_hparams hp = hparams_for(p->mode);
    for (int c = 0; c < COMBO_COUNT; c++) {
        char label[128];
        describe(label, sizeof label, p->isa, p->mode, all_combos[c]);
        arrays a = arrays_create(N, all_combos[c], 42 + (uint64_t)c);
        reference r = reference_create(&a);
        zo_test_rng rng = {7 + (uint64_t)c};
        zo_adam_buffers b = buffers_of(&a);
        for (uint64_t step = 1; step <= STEPS; step++) {
            arrays_fill_grad(&a, &rng);
            cr_assert(eq(int, zo_adam_step(ctx, &hp, step, &b), ZO_OK), "%s: %s", label, zo_last_error());
            reference_step(&r, &a, &hp, step);
        }
        tolerance tol = a.types.moments == ZO_DTYPE_BF16 ? bf16_moments : fp32_moments;
        max_error e = compare_with_reference(&a, &r);
        cr_expect(le(dbl, e.master_rel, tol.master_rel), "%s: master rel error %g", label, e.master_rel);
        cr_expect(le(dbl, e.m_abs, tol.m_abs), "%s: m abs error %g", label, e.m_abs);
        cr_expect(le(dbl, e.v_rel, tol.v_rel), "%s: v rel error %g", label, e.v_rel);
        expect_out_is_rounded_master(&a, label);
        reference_destroy(&r);
        arrays_destroy(&a);
    }
    zo_adam_destroy(&ctx);
}

/* Runs `steps` steps on fresh arrays from the same seed, the weights out `out_offset`
 * elements from alignment, and returns them. */
static arrays run_steps_out_at(zo_adam *ctx, size_t n, combo types, hp_mode mode, uint64_t first_step, int steps,
                               size_t out_offset)
{
    zo_adam_hparams hp = hparams_for(mode);
    arrays a = arrays_create_out_at(n, types, 1234, out_offset);
    zo_test_rng rng = {99};
    zo_adam_buffers b = buffers_of(&a);
    for (int s = 0; s < steps; s++) {
        arrays_fill_grad(&a, &rng);
        cr_assert(eq(int, zo_adam_step(ctx, &hp, first_step + (uint64_t)s, &b), ZO_OK), "%s", zo_last_error());
    }
    return a;
}

static arrays run_steps(zo_adam *ctx, size_t n, combo types, hp_mode mode, uint64_t first_step, int steps)
{
    return run_steps_out_at(ctx, n, types, mode, first_step, steps, OFF_OUT);
}

static bool same_bits(const void *x, const void *y, size_t bytes) { return bytes == 0 || memcmp(x, y, bytes) == 0; }

static void expect_identical(const arrays *x, const arrays *y, const char *label)
{
    size_t msize = zo_dtype_size(x->types.moments);
    cr_expect(same_bits(x->master, y->master, x->n * sizeof(float)), "%s: master differs", label);
    cr_expect(same_bits(x->m, y->m, x->n * msize), "%s: exp_avg differs", label);
    cr_expect(same_bits(x->v, y->v, x->n * msize), "%s: exp_avg_sq differs", label);
    if (x->out)
        cr_expect(same_bits(x->out, y->out, x->n * zo_dtype_size((zo_dtype)x->types.out)),
                  "%s: weights_out differs", label);
}

ParameterizedTestParameters(adam, every_path_gives_the_scalar_bits)
{
    static zo_cpu_isa isas[] = {ZO_CPU_ISA_AVX2, ZO_CPU_ISA_AVX512, ZO_CPU_ISA_AVX512_BF16};
    return cr_make_param_array(zo_cpu_isa, isas, 3);
}

/* The SIMD paths run the scalar path's operations in the same order without fused
 * multiply-adds, so they must agree to the bit, for every length around the vector
 * widths, including 0. */
ParameterizedTest(zo_cpu_isa *isa, adam, every_path_gives_the_scalar_bits)
{
    static const size_t lengths[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 1037};
    zo_adam *simd = zo_test_context(*isa, 2);
    zo_adam *scalar = zo_test_context(ZO_CPU_ISA_SCALAR, 1);
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
        for (int mode = 0; mode < HP_MODES; mode++)
            for (int c = 0; c < COMBO_COUNT; c++) {
                char label[160];
                describe(label, sizeof label, *isa, (hp_mode)mode, all_combos[c]);
                snprintf(label + strlen(label), sizeof label - strlen(label), " n=%zu", lengths[l]);
                arrays x = run_steps(simd, lengths[l], all_combos[c], (hp_mode)mode, 1, 3);
                arrays y = run_steps(scalar, lengths[l], all_combos[c], (hp_mode)mode, 1, 3);
                expect_identical(&x, &y, label);
                arrays_destroy(&x);
                arrays_destroy(&y);
            }
    zo_adam_destroy(&simd);
    zo_adam_destroy(&scalar);
}

ParameterizedTestParameters(adam, big_steps_stream_weights_out_with_the_same_bits)
{
    static zo_cpu_isa isas[] = {ZO_CPU_ISA_AVX2, ZO_CPU_ISA_AVX512, ZO_CPU_ISA_AVX512_BF16};
    return cr_make_param_array(zo_cpu_isa, isas, 3);
}

/* Weights out of 16 MiB or more are written past the caches (adam.c): when aligned to
 * the vector, with the stores of the normal path otherwise; both give the scalar bits.
 * 16-bit outputs of 8M elements and a fp32 one of 4M, plus a tail. */
ParameterizedTest(zo_cpu_isa *isa, adam, big_steps_stream_weights_out_with_the_same_bits)
{
    static const combo combos[] = {{ZO_DTYPE_F16, ZO_DTYPE_F32, ZO_DTYPE_F16},
                                   {ZO_DTYPE_BF16, ZO_DTYPE_BF16, ZO_DTYPE_BF16},
                                   {ZO_DTYPE_F32, ZO_DTYPE_F32, ZO_DTYPE_F32}};
    static const size_t out_offsets[] = {0, 1}; /* aligned (streamed), and not */
    zo_adam *simd = zo_test_context(*isa, 2);
    zo_adam *scalar = zo_test_context(ZO_CPU_ISA_SCALAR, 1);
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++)
        for (size_t o = 0; o < 2; o++) {
            size_t n = ((size_t)16 << 20) / zo_dtype_size((zo_dtype)combos[c].out) + 37;
            char label[160];
            describe(label, sizeof label, *isa, ADAMW_DECAY, combos[c]);
            snprintf(label + strlen(label), sizeof label - strlen(label), " n=%zu out offset %zu", n, out_offsets[o]);
            arrays x = run_steps_out_at(simd, n, combos[c], ADAMW_DECAY, 1, 2, out_offsets[o]);
            arrays y = run_steps_out_at(scalar, n, combos[c], ADAMW_DECAY, 1, 2, out_offsets[o]);
            expect_identical(&x, &y, label);
            arrays_destroy(&x);
            arrays_destroy(&y);
        }
    zo_adam_destroy(&simd);
    zo_adam_destroy(&scalar);
}

ParameterizedTestParameters(adam, thread_count_does_not_change_a_bit)
{
    static zo_cpu_isa isas[] = ZO_TEST_ISAS;
    return cr_make_param_array(zo_cpu_isa, isas, ZO_TEST_ISA_COUNT);
}

ParameterizedTest(zo_cpu_isa *isa, adam, thread_count_does_not_change_a_bit)
{
    enum { N = 100003 }; /* enough for four threads, not a multiple of any block */
    static const combo combos[] = {{ZO_DTYPE_F16, ZO_DTYPE_F32, ZO_DTYPE_F16},
                                   {ZO_DTYPE_BF16, ZO_DTYPE_BF16, ZO_DTYPE_BF16},
                                   {ZO_DTYPE_F32, ZO_DTYPE_F32, -1}};
    zo_adam *one = zo_test_context(*isa, 1);
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        arrays expected = run_steps(one, N, combos[c], ADAMW_DECAY, 1, 4);
        for (int threads = 2; threads <= 4; threads++) {
            char label[160];
            describe(label, sizeof label, *isa, ADAMW_DECAY, combos[c]);
            snprintf(label + strlen(label), sizeof label - strlen(label), " threads=%d", threads);
            zo_adam *many = zo_test_context(*isa, threads);
            arrays got = run_steps(many, N, combos[c], ADAMW_DECAY, 1, 4);
            expect_identical(&got, &expected, label);
            arrays_destroy(&got);
            zo_adam_destroy(&many);
        }
        arrays_destroy(&expected);
    }
    zo_adam_destroy(&one);
}

Test(adam, adam_and_adamw_agree_without_decay_and_differ_with_it)
{
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    combo t = {ZO_DTYPE_F16, ZO_DTYPE_F32, ZO_DTYPE_F16};
    zo_adam_hparams adam = hparams_for(ADAM_NO_DECAY), adamw = adam;
    adamw.adamw = true;
    adam.adamw = false;
    arrays x = arrays_create(4099, t, 5), y = arrays_create(4099, t, 5);
    zo_test_rng rx = {3}, ry = {3};
    arrays_fill_grad(&x, &rx);
    arrays_fill_grad(&y, &ry);
    zo_adam_buffers bx = buffers_of(&x), by = buffers_of(&y);
    cr_assert(eq(int, zo_adam_step(ctx, &adam, 1, &bx), ZO_OK));
    cr_assert(eq(int, zo_adam_step(ctx, &adamw, 1, &by), ZO_OK));
    expect_identical(&x, &y, "weight_decay 0");

    adam.weight_decay = adamw.weight_decay = 0.1f;
    cr_assert(eq(int, zo_adam_step(ctx, &adam, 2, &bx), ZO_OK));
    cr_assert(eq(int, zo_adam_step(ctx, &adamw, 2, &by), ZO_OK));
    cr_expect(same_bits(x.master, y.master, x.n * sizeof(float)) == false,
              "L2 and decoupled weight decay must give different weights");
    arrays_destroy(&x);
    arrays_destroy(&y);
    zo_adam_destroy(&ctx);
}

/* Bias corrections come from the step number alone: a run resumed at step 6 gives the
 * bits of an uninterrupted one, and a step far out (bias corrections ~1) still matches
 * the reference. */
Test(adam, a_resumed_run_matches_an_uninterrupted_one)
{
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    combo t = {ZO_DTYPE_BF16, ZO_DTYPE_F32, ZO_DTYPE_BF16};
    zo_adam_hparams hp = hparams_for(ADAMW_DECAY);
    arrays whole = arrays_create(777, t, 11), resumed = arrays_create(777, t, 11);
    zo_test_rng rw = {5}, rr = {5};
    zo_adam_buffers bw = buffers_of(&whole), br = buffers_of(&resumed);
    for (uint64_t step = 1; step <= 10; step++) {
        arrays_fill_grad(&whole, &rw);
        cr_assert(eq(int, zo_adam_step(ctx, &hp, step, &bw), ZO_OK));
    }
    for (uint64_t step = 1; step <= 10; step++) {
        if (step == 6) { /* "restart": a new context, state carried over in the arrays */
            zo_adam_destroy(&ctx);
            ctx = zo_test_context(ZO_CPU_ISA_AUTO, 1);
        }
        arrays_fill_grad(&resumed, &rr);
        cr_assert(eq(int, zo_adam_step(ctx, &hp, step, &br), ZO_OK));
    }
    expect_identical(&whole, &resumed, "resumed at step 6");

    reference r = reference_create(&whole);
    for (size_t i = 0; i < whole.n; i++) {
        r.m[i] = whole.m ? ((float *)whole.m)[i] : 0;
        r.v[i] = ((float *)whole.v)[i];
    }
    arrays_fill_grad(&whole, &rw);
    reference_step(&r, &whole, &hp, 1000000);
    cr_assert(eq(int, zo_adam_step(ctx, &hp, 1000000, &bw), ZO_OK));
    max_error e = compare_with_reference(&whole, &r);
    cr_expect(le(dbl, e.master_rel, 1e-6), "step 1e6: master rel error %g", e.master_rel);
    reference_destroy(&r);
    arrays_destroy(&whole);
    arrays_destroy(&resumed);
    zo_adam_destroy(&ctx);
}

Test(adam, zero_elements_is_a_no_op)
{
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 4);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    zo_adam_buffers empty = {.n = 0, .grad_scale = 1.0f};
    cr_expect(eq(int, zo_adam_step(ctx, &hp, 1, &empty), ZO_OK), "%s", zo_last_error());
    zo_adam_destroy(&ctx);
}

/* Each bad argument gets ZO_ERR_INVALID_ARGUMENT, a message naming it, and no write. */
typedef struct bad_argument {
    const char *name; /* what the message must mention */
    void (*spoil)(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b);
} bad_argument;

static void spoil_step(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)b; *step = 0; }
static void spoil_lr(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)step; (void)b; hp->lr = -1.0f; }
static void spoil_lr_nan(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)step; (void)b; hp->lr = NAN; }
static void spoil_beta1(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)step; (void)b; hp->beta1 = 1.0f; }
static void spoil_beta2(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)step; (void)b; hp->beta2 = -0.1f; }
static void spoil_eps(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)step; (void)b; hp->eps = 0.0f; }
static void spoil_decay(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)step; (void)b; hp->weight_decay = -0.01f; }
static void spoil_master(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->master = NULL; }
static void spoil_exp_avg(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->exp_avg = NULL; }
static void spoil_exp_avg_sq(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->exp_avg_sq = NULL; }
static void spoil_grad(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->grad = NULL; }
static void spoil_grad_dtype(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->grad_dtype = (zo_dtype)9; }
static void spoil_moments_dtype(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->moments_dtype = ZO_DTYPE_F16; }
static void spoil_out_dtype(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->weights_out_dtype = (zo_dtype)-2; }
static void spoil_grad_scale(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->grad_scale = INFINITY; }
static void spoil_grad_scale_zero(zo_adam_hparams *hp, uint64_t *step, zo_adam_buffers *b) { (void)hp; (void)step; b->grad_scale = 0.0f; }

Test(adam, bad_arguments_are_named_and_change_nothing)
{
    static const bad_argument cases[] = {
        {"step", spoil_step},           {"lr", spoil_lr},
        {"lr", spoil_lr_nan},           {"beta1", spoil_beta1},
        {"beta2", spoil_beta2},         {"eps", spoil_eps},
        {"weight_decay", spoil_decay},  {"master", spoil_master},
        {"exp_avg", spoil_exp_avg},     {"exp_avg_sq", spoil_exp_avg_sq},
        {"grad", spoil_grad},           {"grad_dtype", spoil_grad_dtype},
        {"moments_dtype", spoil_moments_dtype}, {"weights_out_dtype", spoil_out_dtype},
        {"grad_scale", spoil_grad_scale}, {"grad_scale", spoil_grad_scale_zero},
    };
    zo_adam *ctx = zo_test_context(ZO_CPU_ISA_AUTO, 2);
    combo t = {ZO_DTYPE_F16, ZO_DTYPE_F32, ZO_DTYPE_F16};
    arrays a = arrays_create(100, t, 3);
    zo_test_rng rng = {1};
    arrays_fill_grad(&a, &rng);
    float before[100];
    memcpy(before, a.master, sizeof before);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        zo_adam_hparams hp = hparams_for(ADAMW_DECAY);
        uint64_t step = 1;
        zo_adam_buffers b = buffers_of(&a);
        cases[k].spoil(&hp, &step, &b);
        cr_expect(eq(int, zo_adam_step(ctx, &hp, step, &b), ZO_ERR_INVALID_ARGUMENT), "case %s", cases[k].name);
        cr_expect(strstr(zo_last_error(), cases[k].name) != NULL, "message \"%s\" should name %s",
                  zo_last_error(), cases[k].name);
    }
    cr_expect(same_bits(before, a.master, sizeof before), "a refused step must not write");
    zo_adam_hparams hp = hparams_for(ADAMW_DECAY);
    zo_adam_buffers b = buffers_of(&a);
    cr_expect(eq(int, zo_adam_step(NULL, &hp, 1, &b), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_adam_step(ctx, NULL, 1, &b), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_adam_step(ctx, &hp, 1, NULL), ZO_ERR_INVALID_ARGUMENT));
    arrays_destroy(&a);
    zo_adam_destroy(&ctx);
}

ParameterizedTestParameters(adam, accumulate_adds_in_fp32_on_every_path)
{
    static zo_cpu_isa isas[] = ZO_TEST_ISAS;
    return cr_make_param_array(zo_cpu_isa, isas, ZO_TEST_ISA_COUNT);
}

/* acc += grad must be exactly the float sum, element by element, for every dtype. */
ParameterizedTest(zo_cpu_isa *isa, adam, accumulate_adds_in_fp32_on_every_path)
{
    enum { N = 100003 };
    static const zo_dtype dtypes[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16};
    zo_adam *ctx = zo_test_context(*isa, 3);
    for (size_t d = 0; d < 3; d++) {
        float *acc = zo_test_alloc(N, sizeof(float), 1), *expected = zo_test_alloc(N, sizeof(float), 0);
        void *grad = zo_test_alloc(N, zo_dtype_size(dtypes[d]), 3);
        zo_test_rng rng = {77};
        for (int round = 0; round < 3; round++) {
            for (size_t i = 0; i < N; i++) {
                zo_test_store(grad, dtypes[d], i, zo_test_uniform(&rng, -3.0f, 3.0f));
                expected[i] += zo_test_load(grad, dtypes[d], i);
            }
            cr_assert(eq(int, zo_adam_accumulate(ctx, acc, grad, dtypes[d], N), ZO_OK), "%s", zo_last_error());
        }
        cr_expect(memcmp(acc, expected, N * sizeof(float)) == 0, "%s %s: sums differ",
                  zo_cpu_isa_name(*isa), zo_dtype_name(dtypes[d]));
        zo_test_free(acc, 1, sizeof(float));
        zo_test_free(expected, 0, sizeof(float));
        zo_test_free(grad, 3, zo_dtype_size(dtypes[d]));
    }
    cr_expect(eq(int, zo_adam_accumulate(ctx, NULL, NULL, ZO_DTYPE_F16, 0), ZO_OK));
    cr_expect(eq(int, zo_adam_accumulate(ctx, NULL, NULL, ZO_DTYPE_F16, 5), ZO_ERR_INVALID_ARGUMENT));
    zo_adam_destroy(&ctx);
}
