/* The offload engine on the host backend: trained for many steps against cpu_adam run
 * directly and against a double-precision Adam; overflow skipping and loss scaling;
 * clipping; gradient accumulation; and the misuse errors of the pipeline API. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_support.h"
#include "three_param_model.h"


/* These tests play the GPU on the CPU (they write gradients through plain pointers):
 * a config that does not name a device gets "zo": {"device": "host"}, or on a machine
 * with a GPU "auto" would hand them device memory. */
static zo_config *host_config_from(const char *json)
{
    json_error_t error;
    json_t *root = json_loads(json, 0, &error);
    cr_assert(root != NULL, "test config: %s", error.text);
    json_t *zo = json_object_get(root, "zo");
    if (!zo)
        json_object_set_new(root, "zo", zo = json_object());
    if (!json_object_get(zo, "device"))
        json_object_set_new(zo, "device", json_string("host"));
    char *text = json_dumps(root, 0);
    json_decref(root);
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(text, &config), ZO_OK), "config: %s", zo_last_error());
    free(text);
    return config;
}

static zo_engine *engine_from(const char *json)
{
    zo_config *config = host_config_from(json);
    zo_engine *engine = NULL;
    zo_status status = zo_engine_create(config, model, PARAMS, &engine);
    zo_config_destroy(&config);
    cr_assert(eq(int, status, ZO_OK), "zo_engine_create: %s", zo_last_error());
    return engine;
}

/* Initial weights: the same for the engine and the references. */
static void initial_weights(float *w)
{
    zo_test_rng rng = {2024};
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        w[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
}

static void set_all_master(zo_engine *e, const float *w)
{
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_set_master(e, p, w + model_offset(p)), ZO_OK), "%s", zo_last_error());
}

static void get_all_master(zo_engine *e, float *w)
{
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_get_master(e, p, w + model_offset(p)), ZO_OK), "%s", zo_last_error());
}

static void mark_all_ready(zo_engine *e)
{
    for (size_t p = PARAMS; p-- > 0;) /* backward order: last layer first */
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
}

/* The gradient of 0.5 * |w - target|^2 plus noise, times scale, written in the
 * engine's dtype where the engine says; the values as stored go to `stored`. */
static void write_grads(zo_engine *e, const float *w, uint64_t seed, float scale, float *stored)
{
    zo_test_rng rng = {seed};
    zo_dtype dtype = zo_engine_dtype(e);
    for (size_t p = 0; p < PARAMS; p++) {
        void *grads = zo_engine_grads(e, p);
        size_t base = model_offset(p);
        for (size_t i = 0; i < model[p].elems; i++) {
            float target = 0.5f * sinf((float)(base + i));
            float g = (w[base + i] - target + zo_test_uniform(&rng, -0.1f, 0.1f)) * scale;
            zo_test_store(grads, dtype, i, g);
            stored[base + i] = zo_test_load(grads, dtype, i);
        }
    }
}

/* The "backward": gradients written, then each declared ready. */
static void backward(zo_engine *e, const float *w, uint64_t seed, float scale, float *stored)
{
    write_grads(e, w, seed, scale, stored);
    mark_all_ready(e);
}

static void forward_wait_all(zo_engine *e)
{
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_wait_params(e, p, NULL), ZO_OK), "%s", zo_last_error());
}

/* AdamW in double, fed the same gradient values. */
static void double_adamw_step(double *w, double *m, double *v, const float *grads, double grad_scale,
                              const zo_adam_hparams *hp, uint64_t step)
{
    double bc1 = 1.0 - pow(hp->beta1, (double)step), bc2 = 1.0 - pow(hp->beta2, (double)step);
    for (size_t i = 0; i < MODEL_ELEMS; i++) {
        double g = grads[i] * grad_scale;
        m[i] = hp->beta1 * m[i] + (1.0 - hp->beta1) * g;
        v[i] = hp->beta2 * v[i] + (1.0 - hp->beta2) * g * g;
        w[i] -= (double)hp->lr * hp->weight_decay * w[i];
        w[i] -= hp->lr / bc1 * m[i] / (sqrt(v[i] / bc2) + hp->eps);
    }
}

/* 60 fp16 steps through the engine equal, to the bit, cpu_adam run directly on the whole
 * flat model with the same (rounded) gradients and grad_scale: the engine's buckets,
 * threads and copies change nothing. Against a double-precision AdamW the weights
 * (|w| < 2) stay within 1e-5: fp16 gradients are exact inputs to both, and each fp32
 * step rounds w by at most 2^-24 * 2 = 1.2e-7, 60 steps 7e-6 at worst. */
Test(engine, sixty_fp16_steps_match_cpu_adam_bit_for_bit)
{
    zo_engine *e = engine_from("{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 10},"
                               " \"gradient_clipping\": 0,"
                               " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.001, \"weight_decay\": 0.01}},"
                               " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 512},"
                               " \"zo\": {\"device\": \"host\", \"threads\": 2}}");
    cr_assert(eq(int, zo_engine_dtype(e), ZO_DTYPE_F16));
    cr_assert(ge(sz, zo_engine_bucket_count(e), 7), "parameters must straddle buckets");
    static float w[MODEL_ELEMS], ref_w[MODEL_ELEMS], ref_m[MODEL_ELEMS], ref_v[MODEL_ELEMS], grads[MODEL_ELEMS],
        got[MODEL_ELEMS];
    initial_weights(w);
    memcpy(ref_w, w, sizeof w);
    set_all_master(e, w);
    zo_adam *direct = zo_test_context(ZO_CPU_ISA_AUTO, 1);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    hp.weight_decay = 0.01f;
    static double dw[MODEL_ELEMS], dm[MODEL_ELEMS], dv[MODEL_ELEMS];
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        dw[i] = w[i];

    for (uint64_t step = 1; step <= 60; step++) {
        float scale = zo_engine_loss_scale(e);
        cr_assert(eq(flt, scale, 1024.0f), "no overflow, window 1000: the scale stays");
        forward_wait_all(e);
        backward(e, ref_w, step, scale, grads);
        zo_step_info info;
        cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
        cr_assert(info.boundary && !info.skipped && info.step == step);
        cr_assert(eq(dbl, info.clip_coefficient, 1.0));
        zo_adam_buffers b = {.n = MODEL_ELEMS, .master = ref_w, .exp_avg = ref_m, .exp_avg_sq = ref_v,
                             .moments_dtype = ZO_DTYPE_F32, .grad = grads, .grad_dtype = ZO_DTYPE_F32,
                             .grad_scale = 1.0f / scale};
        cr_assert(eq(int, zo_adam_step(direct, &hp, step, &b), ZO_OK));
        double_adamw_step(dw, dm, dv, grads, 1.0 / scale, &hp, step);
    }
    get_all_master(e, got);
    cr_expect(memcmp(got, ref_w, sizeof got) == 0, "master weights differ from cpu_adam's");
    double worst = 0;
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        worst = fmax(worst, fabs(got[i] - dw[i]));
    cr_expect(le(dbl, worst, 1e-5), "max abs error against double-precision AdamW: %g", worst);
    forward_wait_all(e);
    for (size_t p = 0; p < PARAMS; p++) { /* device weights are the rounded masters */
        const uint16_t *device = zo_engine_weights(e, p);
        for (size_t i = 0; i < model[p].elems; i++)
            cr_assert(eq(u16, device[i], zo_f32_to_f16(ref_w[model_offset(p) + i])), "%s[%zu]", model[p].name, i);
    }
    zo_adam_destroy(&direct);
    zo_engine_destroy(&e);
    cr_expect(eq(ptr, e, NULL));
}

/* Where parameter p starts in the engine's flat space: on a multiple of 64 elements
 * (partition.h), which 8-bit moments' blocks are counted in. */
static size_t flat_offset(size_t param)
{
    size_t offset = 0;
    for (size_t i = 0; i < param; i++)
        offset = (offset + model[i].elems + 63) / 64 * 64;
    return offset;
}

/* 8-bit moments through the engine equal cpu_adam run directly on the engine's flat
 * layout (block scales cover the same elements: buckets are rounded to whole blocks,
 * 300 -> 512), to the bit; and the memory plan counts 4 + 2 bytes per parameter plus
 * the block scales. */
Test(engine, eight_bit_moments_match_cpu_adam_on_the_flat_layout)
{
    zo_engine *e = engine_from("{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 10},"
                               " \"gradient_clipping\": 0,"
                               " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.001, \"weight_decay\": 0.01}},"
                               " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 300},"
                               " \"zo\": {\"device\": \"host\", \"threads\": 2, \"moments_dtype\": \"8bit\"}}");
    enum { FLAT = 3588 }; /* 1000 -> 1024, + 37 = 1061 -> 1088, + 2500 */
    cr_assert(eq(sz, flat_offset(2) + model[2].elems, (size_t)FLAT));
    cr_assert(eq(sz, zo_engine_bucket_count(e), (size_t)8), "buckets of 512: 300 rounded to whole blocks");
    zo_memory_plan plan;
    cr_assert(eq(int, zo_engine_memory(e, &plan), ZO_OK));
    cr_expect(eq(u64, plan.host_bytes, (uint64_t)FLAT * 6 + 2 * 4 * zo_q8_block_count(FLAT)),
              "master 4 + codes 2 bytes per parameter, plus a scale per block and moment");
    static float w[MODEL_ELEMS], grads[MODEL_ELEMS], got[MODEL_ELEMS];
    static float ref_w[FLAT], ref_g[FLAT], m_scale[FLAT / 256 + 1], v_scale[FLAT / 256 + 1];
    static int8_t ref_m[FLAT];
    static uint8_t ref_v[FLAT];
    initial_weights(w);
    set_all_master(e, w);
    for (size_t p = 0; p < PARAMS; p++)
        memcpy(ref_w + flat_offset(p), w + model_offset(p), model[p].elems * sizeof(float));
    zo_adam *direct = zo_test_context(ZO_CPU_ISA_AUTO, 1);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    hp.weight_decay = 0.01f;
    for (uint64_t step = 1; step <= 30; step++) {
        float scale = zo_engine_loss_scale(e);
        forward_wait_all(e);
        get_all_master(e, w);
        backward(e, w, step, scale, grads);
        cr_assert(eq(int, zo_engine_step(e, NULL), ZO_OK), "%s", zo_last_error());
        for (size_t p = 0; p < PARAMS; p++)
            memcpy(ref_g + flat_offset(p), grads + model_offset(p), model[p].elems * sizeof(float));
        zo_adam_buffers b = {.n = FLAT, .master = ref_w, .exp_avg = ref_m, .exp_avg_sq = ref_v,
                             .moments_dtype = ZO_DTYPE_Q8, .grad = ref_g, .grad_dtype = ZO_DTYPE_F32,
                             .grad_scale = 1.0f / scale, .exp_avg_scale = m_scale, .exp_avg_sq_scale = v_scale};
        cr_assert(eq(int, zo_adam_step(direct, &hp, step, &b), ZO_OK), "%s", zo_last_error());
    }
    get_all_master(e, got);
    for (size_t p = 0; p < PARAMS; p++)
        cr_expect(memcmp(got + model_offset(p), ref_w + flat_offset(p), model[p].elems * sizeof(float)) == 0,
                  "%s: master weights differ from cpu_adam's on the flat layout", model[p].name);
    zo_adam_destroy(&direct);
    zo_engine_destroy(&e);
}

/* An inf in one gradient skips exactly that step: master weights unchanged, step count
 * and scheduler not advanced, the scale halved (hysteresis 1); then training goes on. */
Test(engine, an_overflow_skips_that_step_and_lowers_the_scale)
{
    zo_engine *e = engine_from("{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12, \"hysteresis\": 1},"
                               " \"zero_optimization\": {\"reduce_bucket_size\": 700}}");
    static float w[MODEL_ELEMS], before[MODEL_ELEMS], after[MODEL_ELEMS], grads[MODEL_ELEMS];
    initial_weights(w);
    set_all_master(e, w);
    zo_step_info info;
    for (uint64_t step = 1; step <= 3; step++) {
        backward(e, w, step, zo_engine_loss_scale(e), grads);
        cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK));
    }
    get_all_master(e, before);
    for (size_t p = 0; p < PARAMS; p++) {
        uint16_t *g = zo_engine_grads(e, p);
        for (size_t i = 0; i < model[p].elems; i++)
            g[i] = zo_f32_to_f16(0.01f);
    }
    ((uint16_t *)zo_engine_grads(e, 2))[1234] = 0x7c00; /* +inf */
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK));
    cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
    cr_expect(info.skipped && info.overflow);
    cr_expect(eq(u64, info.step, 3), "a skipped step is not counted");
    cr_expect(eq(flt, info.loss_scale, 2048.0f), "4096 halves to 2048");
    get_all_master(e, after);
    cr_expect(memcmp(before, after, sizeof before) == 0, "a skipped step must not touch the weights");

    backward(e, w, 99, zo_engine_loss_scale(e), grads);
    cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK));
    cr_expect(info.skipped == false && info.step == 4, "training goes on");
    zo_engine_destroy(&e);
}

Test(engine, the_scale_grows_after_a_window_of_good_steps_and_hysteresis_delays_the_drop)
{
    zo_engine *e = engine_from("{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8,"
                               " \"loss_scale_window\": 3, \"hysteresis\": 2}}");
    static float w[MODEL_ELEMS], grads[MODEL_ELEMS];
    initial_weights(w);
    set_all_master(e, w);
    zo_step_info info;
    float expected[] = {256, 256, 512, 512, 512, 1024};
    for (size_t s = 0; s < 6; s++) {
        backward(e, w, s, zo_engine_loss_scale(e), grads);
        cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK));
        cr_expect(eq(flt, info.loss_scale, expected[s]), "after good step %zu", s + 1);
    }
    /* two overflows: the first is absorbed by hysteresis 2, the second halves */
    for (int k = 0; k < 2; k++) {
        write_grads(e, w, 50, zo_engine_loss_scale(e), grads);
        ((uint16_t *)zo_engine_grads(e, 0))[0] = 0x7e00; /* NaN */
        mark_all_ready(e);
        cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK));
        cr_expect(info.skipped);
    }
    cr_expect(eq(flt, info.loss_scale, 512.0f));
    zo_engine_destroy(&e);
}

/* Clipping: with a large gradient the engine multiplies by DeepSpeed's
 * clip / (norm + 1e-6); the same step by cpu_adam with that factor gives the same bits. */
Test(engine, clipping_folds_the_global_norm_into_grad_scale)
{
    zo_engine *e = engine_from("{\"gradient_clipping\": 0.5, \"zo\": {\"threads\": 1}}");
    cr_assert(eq(int, zo_engine_dtype(e), ZO_DTYPE_F32));
    static float w[MODEL_ELEMS], ref_w[MODEL_ELEMS], ref_m[MODEL_ELEMS], ref_v[MODEL_ELEMS], grads[MODEL_ELEMS],
        got[MODEL_ELEMS];
    initial_weights(w);
    memcpy(ref_w, w, sizeof w);
    set_all_master(e, w);
    backward(e, w, 1, 1.0f, grads);
    zo_step_info info;
    cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
    double sum = 0;
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        sum += (double)grads[i] * grads[i];
    double norm = sqrt(sum), coefficient = 0.5 / (norm + 1e-6);
    cr_expect(ieee_ulp_eq(dbl, info.grad_norm, norm, 64), "norm %.17g vs %.17g", info.grad_norm, norm);
    cr_expect(ieee_ulp_eq(dbl, info.clip_coefficient, coefficient, 64));
    cr_expect(lt(dbl, info.clip_coefficient, 1.0));

    zo_adam *direct = zo_test_context(ZO_CPU_ISA_AUTO, 1);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    zo_adam_buffers b = {.n = MODEL_ELEMS, .master = ref_w, .exp_avg = ref_m, .exp_avg_sq = ref_v,
                         .moments_dtype = ZO_DTYPE_F32, .grad = grads, .grad_dtype = ZO_DTYPE_F32,
                         .grad_scale = (float)info.clip_coefficient};
    cr_assert(eq(int, zo_adam_step(direct, &hp, 1, &b), ZO_OK));
    get_all_master(e, got);
    cr_expect(memcmp(got, ref_w, sizeof got) == 0, "clipped update differs from cpu_adam's");
    zo_adam_destroy(&direct);
    zo_engine_destroy(&e);
}

/* Four accumulated micro-steps equal one step on their mean gradient, to the bit:
 * the engine sums in fp32 in micro-step order and scales by 1/4 (a power of two, so
 * exact), the reference is fed that very mean. */
Test(engine, accumulating_micro_steps_equals_one_step_on_the_mean)
{
    zo_engine *acc = engine_from("{\"train_batch_size\": 32, \"train_micro_batch_size_per_gpu\": 8,"
                                 " \"gradient_clipping\": 0, \"zero_optimization\": {\"reduce_bucket_size\": 300}}");
    zo_engine *one = engine_from("{\"gradient_clipping\": 0, \"zero_optimization\": {\"reduce_bucket_size\": 300}}");
    static float w[MODEL_ELEMS], grads[MODEL_ELEMS], sum[MODEL_ELEMS], got_acc[MODEL_ELEMS], got_one[MODEL_ELEMS];
    initial_weights(w);
    set_all_master(acc, w);
    set_all_master(one, w);
    zo_step_info info;
    memset(sum, 0, sizeof sum);
    for (int micro = 0; micro < 4; micro++) {
        backward(acc, w, 10 + (uint64_t)micro, 1.0f, grads);
        for (size_t i = 0; i < MODEL_ELEMS; i++)
            sum[i] += grads[i];
        cr_assert(eq(int, zo_engine_step(acc, &info), ZO_OK), "%s", zo_last_error());
        cr_expect(eq(int, info.boundary, micro == 3), "micro-step %d", micro);
    }
    cr_expect(eq(u64, info.step, 1));
    for (size_t p = 0; p < PARAMS; p++) {
        float *g = zo_engine_grads(one, p);
        for (size_t i = 0; i < model[p].elems; i++)
            g[i] = sum[model_offset(p) + i] * 0.25f;
    }
    mark_all_ready(one);
    cr_assert(eq(int, zo_engine_step(one, &info), ZO_OK));
    get_all_master(acc, got_acc);
    get_all_master(one, got_one);
    cr_expect(memcmp(got_acc, got_one, sizeof got_acc) == 0, "accumulated step differs");
    zo_engine_destroy(&acc);
    zo_engine_destroy(&one);
}

Test(engine, misuse_of_grad_ready_and_step_gets_a_clear_error)
{
    zo_engine *e = engine_from("{}");
    cr_expect(eq(int, zo_engine_grad_ready(e, 3, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "parameter 3 does not exist") != NULL, "%s", zo_last_error());
    cr_assert(eq(int, zo_engine_grad_ready(e, 1, NULL), ZO_OK));
    cr_expect(eq(int, zo_engine_grad_ready(e, 1, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "bias") != NULL && strstr(zo_last_error(), "already ready") != NULL,
              "%s", zo_last_error());
    zo_step_info info;
    cr_expect(eq(int, zo_engine_step(e, &info), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "embedding, head") != NULL, "%s", zo_last_error());
    /* nothing changed: finish the micro-step and step */
    cr_assert(eq(int, zo_engine_grad_ready(e, 2, NULL), ZO_OK));
    cr_assert(eq(int, zo_engine_grad_ready(e, 0, NULL), ZO_OK));
    cr_expect(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(u64, info.step, 1));
    int not_a_stream;
    cr_expect(eq(int, zo_engine_wait_params(e, 0, &not_a_stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_engine_wait_params(e, 9, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(ptr, zo_engine_grads(e, 3), NULL));
    cr_expect(eq(int, zo_engine_set_master(e, 0, NULL), ZO_ERR_INVALID_ARGUMENT));
    zo_engine_destroy(&e);
    zo_engine_destroy(&e);
    zo_engine_destroy(NULL);
}

/* A NaN or inf master weight would poison every later step: refused by name, and the
 * master weights stay as they were. */
Test(engine, set_master_refuses_non_finite_values_and_changes_nothing)
{
    zo_engine *e = engine_from("{\"fp16\": {\"enabled\": true}}");
    float w[MODEL_ELEMS], before[MODEL_ELEMS], after[MODEL_ELEMS];
    initial_weights(w);
    set_all_master(e, w);
    get_all_master(e, before);
    const float poison[] = {NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < sizeof poison / sizeof poison[0]; k++) {
        float values[MODEL_ELEMS];
        memcpy(values, w, sizeof values);
        size_t last = model_offset(1) + model[1].elems - 1; /* the last element of param 1 */
        values[last] = poison[k];
        cr_expect(eq(int, zo_engine_set_master(e, 1, values + model_offset(1)), ZO_ERR_NON_FINITE));
        char where[64];
        snprintf(where, sizeof where, "at element %zu of %zu", model[1].elems - 1, model[1].elems);
        cr_expect(strstr(zo_last_error(), where) != NULL && strstr(zo_last_error(), model[1].name) != NULL, "%s",
                  zo_last_error());
    }
    get_all_master(e, after);
    cr_expect(eq(int, memcmp(before, after, sizeof before), 0), "the master weights changed");
    zo_engine_destroy(&e);
}

typedef struct create_case {
    const char *json;
    zo_status status;
    const char *message;
} create_case;

Test(engine, settings_it_cannot_honour_are_refused_by_name)
{
    static const create_case cases[] = {
        {"{\"train_batch_size\": 30, \"train_micro_batch_size_per_gpu\": 8}", ZO_ERR_CONFIG, "not a multiple"},
        {"{\"train_batch_size\": 32, \"train_micro_batch_size_per_gpu\": 8, \"gradient_accumulation_steps\": 2}",
         ZO_ERR_CONFIG, "train_batch_size 32 != "},
        {"{\"zo\": {\"trace\": \"/nonexistent-dir/t.json\"}}", ZO_ERR_IO, "/nonexistent-dir/t.json"},
        {"{\"zo\": {\"max_pinned_bytes\": 1024}}", ZO_ERR_OUT_OF_MEMORY, "zo.max_pinned_bytes"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        zo_config *config = host_config_from(cases[k].json);
        zo_engine *e = NULL;
        cr_expect(eq(int, zo_engine_create(config, model, PARAMS, &e), cases[k].status), "%s", cases[k].json);
        cr_expect(strstr(zo_last_error(), cases[k].message) != NULL, "%s: \"%s\"", cases[k].json, zo_last_error());
        cr_expect(eq(ptr, e, NULL));
        zo_config_destroy(&config);
    }
    zo_config *config = host_config_from("{}");
    zo_engine *e = NULL;
    zo_param_desc bad[] = {{"ok", 10}, {"empty", 0}};
    cr_expect(eq(int, zo_engine_create(config, bad, 2, &e), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "empty") != NULL, "%s", zo_last_error());
    cr_expect(eq(int, zo_engine_create(config, model, 0, &e), ZO_ERR_INVALID_ARGUMENT));
    zo_config_destroy(&config);
}

/* The plan is computed without allocating: a model far beyond this machine is
 * refused with the keys that would help, and a small one fits. */
Test(engine, the_memory_plan_refuses_what_does_not_fit_before_allocating)
{
    zo_config *config = host_config_from("{\"fp16\": {\"enabled\": true}}");
    zo_param_desc huge[] = {{"a trillion", (size_t)1 << 40}};
    zo_memory_plan plan;
    cr_assert(eq(int, zo_engine_plan(config, huge, 1, 1, &plan), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, plan.fits, 0));
    cr_expect(eq(u64, plan.device_bytes, (uint64_t)4 << 40), "fp16 weights + grads: 4 bytes/param");
    cr_expect(eq(u64, plan.host_bytes, (uint64_t)12 << 40), "master + two fp32 moments: 12 bytes/param");
    cr_expect(strstr(plan.verdict, "moments_dtype") != NULL, "%s", plan.verdict);
    zo_engine *e = NULL;
    cr_expect(eq(int, zo_engine_create(config, huge, 1, &e), ZO_ERR_OUT_OF_MEMORY));
    cr_expect(strstr(zo_last_error(), "GiB") != NULL, "%s", zo_last_error());
    cr_assert(eq(int, zo_engine_plan(config, model, PARAMS, 2, &plan), ZO_OK));
    cr_expect(plan.fits, "%s", plan.verdict);
    zo_config_destroy(&config);
}

/* 2^60 bf16 parameters with bf16 moments need 16 B each on the host backend: 2^64
 * bytes, which wrapped to 0 and "fit" before the plan's sums saturated. */
Test(engine, the_memory_plan_never_wraps_around_to_fits)
{
    zo_config *config = host_config_from("{\"bf16\": {\"enabled\": true}, \"zo\": {\"moments_dtype\": \"bf16\"},"
                                         " \"zero_optimization\": {\"reduce_bucket_size\": 1152921504606846976}}");
    zo_param_desc absurd[] = {{"2^60", (size_t)1 << 60}};
    zo_memory_plan plan;
    cr_assert(eq(int, zo_engine_plan(config, absurd, 1, 1, &plan), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, plan.fits, 0), "%s", plan.verdict);
    cr_expect(eq(u64, plan.host_bytes, (uint64_t)8 << 60), "master 4 + two bf16 moments 4 bytes/param");
    cr_expect(strstr(plan.verdict, "host memory needed") != NULL, "%s", plan.verdict);
    zo_config_destroy(&config);
}

/* 4 * (2^62 + 2) wraps to 8 in 64 bits: a batch of 8 must not pass for it. */
Test(engine, the_batch_arithmetic_never_wraps_around_to_agree)
{
    zo_config *config = host_config_from("{\"train_batch_size\": 8, \"train_micro_batch_size_per_gpu\": 4,"
                                         " \"gradient_accumulation_steps\": 4611686018427387906}");
    zo_memory_plan plan;
    cr_expect(eq(int, zo_engine_plan(config, model, PARAMS, 1, &plan), ZO_ERR_CONFIG));
    cr_expect(strstr(zo_last_error(), "overflows 64 bits") != NULL, "%s", zo_last_error());
    zo_config_destroy(&config);
}

/* The pinned limit in bytes, not in GiB rounded to 0.00. */
Test(engine, a_small_pinned_limit_is_refused_in_readable_bytes)
{
    zo_config *config = host_config_from("{\"fp16\": {\"enabled\": true}, \"zo\": {\"max_pinned_bytes\": \"4KiB\"}}");
    zo_param_desc small[] = {{"w", 4096}};
    zo_memory_plan plan;
    cr_assert(eq(int, zo_engine_plan(config, small, 1, 1, &plan), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, plan.fits, 0), "%s", plan.verdict);
    cr_expect(strstr(plan.verdict, "needs 16.00 KiB (16384 bytes) but zo.max_pinned_bytes allows 4.00 KiB (4096 bytes)") != NULL,
              "%s", plan.verdict);
    zo_config_destroy(&config);
}

static size_t count_spans(json_t *events, int tid)
{
    size_t count = 0, index;
    json_t *event;
    json_array_foreach(events, index, event) {
        const char *phase = json_string_value(json_object_get(event, "ph"));
        if (phase && strcmp(phase, "X") == 0 && json_integer_value(json_object_get(event, "tid")) == tid)
            count++;
    }
    return count;
}

/* With zo.trace the engine writes a Chrome trace: a span per bucket and phase on one
 * track per stream and worker role. */
Test(engine, the_trace_has_a_span_per_bucket_and_phase)
{
    char path[] = "/tmp/zo-trace-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    char json[512];
    snprintf(json, sizeof json, "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 10}, \"zero_optimization\": {\"reduce_bucket_size\": 1000},"
             " \"zo\": {\"trace\": \"%s\"}}", path);
    zo_engine *e = engine_from(json);
    size_t buckets = zo_engine_bucket_count(e);
    static float w[MODEL_ELEMS], grads[MODEL_ELEMS];
    initial_weights(w);
    set_all_master(e, w);
    for (uint64_t step = 1; step <= 3; step++) {
        forward_wait_all(e);
        backward(e, w, step, zo_engine_loss_scale(e), grads);
        cr_assert(eq(int, zo_engine_step(e, NULL), ZO_OK), "%s", zo_last_error());
    }
    cr_assert(eq(int, zo_engine_write_trace(e), ZO_OK), "%s", zo_last_error());
    zo_engine_destroy(&e);

    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    cr_assert(root != NULL, "%s: %s", path, error.text);
    json_t *events = json_object_get(root, "traceEvents");
    bool is_array = json_is_array(events);
    cr_assert(is_array, "traceEvents is an array");
    cr_expect(eq(sz, count_spans(events, 2), 3 * buckets), "gradients down: one per bucket and step");
    cr_expect(eq(sz, count_spans(events, 3), 3 * buckets), "stats: one per bucket and step");
    cr_expect(eq(sz, count_spans(events, 4), 3 * buckets), "updates: one per bucket and step");
    cr_expect(eq(sz, count_spans(events, 5), 3 * buckets), "weights up: one per bucket and step");
    cr_expect(ge(sz, count_spans(events, 1), 3 * PARAMS), "the loop's waits");
    json_decref(root);
    unlink(path);
}

/* The delayed update (DeepSpeed's DPU): the update of step t runs during the next
 * forward and backward, which still see the weights of step t - 1; the new weights go
 * up at the next step call. The master weights follow cpu_adam fed the same gradients
 * bit for bit; the device weights lag by exactly one step. */
Test(engine, delayed_param_update_lags_the_device_weights_by_one_step)
{
    zo_engine *e = engine_from("{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 10},"
                               " \"gradient_clipping\": 0, \"zero_optimization\": {\"reduce_bucket_size\": 512},"
                               " \"zo\": {\"delayed_param_update\": true}}");
    static float w[MODEL_ELEMS], ref_w[MODEL_ELEMS], ref_m[MODEL_ELEMS], ref_v[MODEL_ELEMS], grads[MODEL_ELEMS],
        got[MODEL_ELEMS], previous[MODEL_ELEMS];
    initial_weights(w);
    memcpy(ref_w, w, sizeof w);
    set_all_master(e, w);
    zo_adam *direct = zo_test_context(ZO_CPU_ISA_AUTO, 1);
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    for (uint64_t step = 1; step <= 12; step++) {
        forward_wait_all(e);
        /* the device holds the weights of two updates ago: ref_w before the last one */
        const float *expected = step == 1 ? w : previous;
        for (size_t p = 0; p < PARAMS; p++) {
            const uint16_t *device = zo_engine_weights(e, p);
            for (size_t i = 0; i < model[p].elems; i += 97)
                cr_assert(eq(u16, device[i], zo_f32_to_f16(expected[model_offset(p) + i])),
                          "step %llu: %s[%zu] is not one step behind", (unsigned long long)step, model[p].name, i);
        }
        float scale = zo_engine_loss_scale(e);
        backward(e, ref_w, step, scale, grads);
        zo_step_info info;
        cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
        cr_assert(info.skipped == false);
        memcpy(previous, ref_w, sizeof previous);
        zo_adam_buffers b = {.n = MODEL_ELEMS, .master = ref_w, .exp_avg = ref_m, .exp_avg_sq = ref_v,
                             .moments_dtype = ZO_DTYPE_F32, .grad = grads, .grad_dtype = ZO_DTYPE_F32,
                             .grad_scale = 1.0f / scale};
        cr_assert(eq(int, zo_adam_step(direct, &hp, step, &b), ZO_OK));
    }
    get_all_master(e, got);
    cr_expect(memcmp(got, ref_w, sizeof got) == 0, "master weights differ from cpu_adam's");
    zo_adam_destroy(&direct);
    zo_engine_destroy(&e);
}

/* zo.device without a GPU: "cuda" is an error that says why, "auto" falls back to the
 * host backend and says so in zo_engine_notice, "host" has nothing to say. */
Test(engine, device_choice_without_a_gpu_is_explained)
{
    int gpus = 0;
    if (zo_cuda_device_count(&gpus) == ZO_OK)
        cr_skip_test("%d GPU(s) here: the fallback is not exercised", gpus);
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string("{\"zo\": {\"device\": \"cuda\"}}", &config), ZO_OK));
    zo_engine *e = NULL;
    zo_status status = zo_engine_create(config, model, PARAMS, &e);
    zo_config_destroy(&config);
    cr_expect(status == ZO_ERR_DEVICE || status == ZO_ERR_NOT_SUPPORTED, "status %s", zo_status_name(status));
    cr_expect(strstr(zo_last_error(), "CUDA") != NULL, "%s", zo_last_error());
    cr_expect(eq(ptr, e, NULL));

    e = engine_from("{\"zo\": {\"device\": \"auto\"}}");
    cr_expect(eq(str, (char *)zo_engine_device_name(e), "host"));
    cr_expect(strstr(zo_engine_notice(e), "using the host backend") != NULL, "notice: %s", zo_engine_notice(e));
    zo_engine_destroy(&e);
    e = engine_from("{\"zo\": {\"device\": \"host\"}}");
    cr_expect(eq(str, (char *)zo_engine_notice(e), ""));
    int not_a_stream;
    cr_expect(eq(int, zo_engine_grad_ready(e, 1, &not_a_stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "takes no stream") != NULL, "%s", zo_last_error());
    zo_engine_destroy(&e);
}

/* offload_optimizer.pin_memory false: the staging is ordinary memory, counted as such
 * in the plan (so zo.max_pinned_bytes does not apply), and training works the same. */
Test(engine, unpinned_staging_is_planned_as_pageable_and_trains)
{
    const char *json = "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 10},"
                       " \"zero_optimization\": {\"offload_optimizer\": {\"device\": \"cpu\", \"pin_memory\": false}},"
                       " \"zo\": {\"max_pinned_bytes\": 1024}}";
    zo_config *config = host_config_from(json);
    zo_memory_plan plan;
    cr_assert(eq(int, zo_engine_plan(config, model, PARAMS, 1, &plan), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(u64, plan.pinned_bytes, 0));
    cr_expect(plan.fits, "%s", plan.verdict);
    zo_config_destroy(&config);
    zo_engine *e = engine_from(json);
    static float w[MODEL_ELEMS], grads[MODEL_ELEMS], got[MODEL_ELEMS];
    initial_weights(w);
    set_all_master(e, w);
    backward(e, w, 1, zo_engine_loss_scale(e), grads);
    zo_step_info info;
    cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(u64, info.step, 1));
    get_all_master(e, got);
    cr_expect(memcmp(got, w, sizeof got) != 0, "the step moved the weights");
    zo_engine_destroy(&e);
}
