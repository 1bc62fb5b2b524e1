/* ZeRO stage 3 through the public API: a loop that fetches each parameter before it
 * uses it and releases it after takes the very same steps as stage 2, bit for bit;
 * misuse is refused by name; prefetch follows the first micro-step's order. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "three_param_model.h"


/* stage 3 with the host backend; `extra` goes inside zero_optimization */
#define STAGE3(precision, live, extra)                                                                                       \
    "{" precision ", \"zo\": {\"device\": \"host\"}, \"gradient_clipping\": 0.5,"                                      \
    " \"zero_optimization\": {\"stage\": 3, \"reduce_bucket_size\": 512, \"offload_optimizer\": {\"device\": "      \
    "\"cpu\"}, \"offload_param\": {\"device\": \"cpu\"}, \"stage3_param_persistence_threshold\": 100,"               \
    " \"stage3_max_live_parameters\": " live ", \"stage3_prefetch_bucket_size\": 4000" extra "}}"
#define STAGE2(precision)                                                                                              \
    "{" precision ", \"zo\": {\"device\": \"host\"}, \"gradient_clipping\": 0.5,"                                      \
    " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 512}}"
#define FP16 "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12, \"loss_scale_window\": 4}"
#define BF16 "\"bf16\": {\"enabled\": true}"
#define ACCUMULATE ", \"gradient_accumulation_steps\": 2"

static zo_engine *engine_from(const char *json)
{
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &config), ZO_OK), "config: %s", zo_last_error());
    zo_engine *engine = NULL;
    zo_status status = zo_engine_create(config, model, PARAMS, &engine);
    zo_config_destroy(&config);
    cr_assert(eq(int, status, ZO_OK), "zo_engine_create: %s", zo_last_error());
    float w[MODEL_ELEMS];
    zo_test_rng rng = {2024};
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        w[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_set_master(engine, p, w + model_offset(p)), ZO_OK), "%s", zo_last_error());
    return engine;
}

/* What one micro-step saw of the weights, for comparing runs. */
typedef struct trajectory {
    float seen[MODEL_ELEMS];
    zo_step_info info;
} trajectory;

/* One micro-step of a loop that runs in every stage: the forward fetches, reads and
 * releases each parameter; the backward fetches it again, writes the gradient of
 * 0.5 * |w - target|^2 (times `scale`, plus noise) from the weights it read, declares
 * it ready and releases it. `overflow` puts an inf into the head's gradient. */
static void micro_step(zo_engine *e, uint64_t seed, float scale, bool overflow, trajectory *out)
{
    zo_dtype dtype = zo_engine_dtype(e);
    for (size_t p = 0; p < PARAMS; p++) {
        cr_assert(eq(int, zo_engine_fetch(e, p, NULL), ZO_OK), "fetch %zu: %s", p, zo_last_error());
        const void *w = zo_engine_weights(e, p);
        cr_assert(w != NULL, "%s", zo_last_error());
        for (size_t i = 0; i < model[p].elems; i++)
            out->seen[model_offset(p) + i] = zo_test_load(w, dtype, i);
        cr_assert(eq(int, zo_engine_release(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
    zo_test_rng rng = {seed};
    for (size_t p = PARAMS; p-- > 0;) {
        cr_assert(eq(int, zo_engine_fetch(e, p, NULL), ZO_OK), "%s", zo_last_error());
        void *g = zo_engine_grads(e, p);
        cr_assert(g != NULL, "%s", zo_last_error());
        for (size_t i = 0; i < model[p].elems; i++) {
            size_t k = model_offset(p) + i;
            float value = (out->seen[k] - 0.5f * sinf((float)k) + zo_test_uniform(&rng, -0.1f, 0.1f)) * scale;
            zo_test_store(g, dtype, i, overflow && p == 2 && i == 7 ? INFINITY : value);
        }
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_release(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
    cr_assert(eq(int, zo_engine_step(e, &out->info), ZO_OK), "%s", zo_last_error());
}

static void master_of(zo_engine *e, float *w)
{
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_get_master(e, p, w + model_offset(p)), ZO_OK), "%s", zo_last_error());
}

/* Runs `micro_steps` in a stage-2 and a stage-3 engine side by side and requires the
 * same weights seen, the same step decisions and the same master weights, bit for bit. */
static void expect_same_trajectory(const char *stage2_json, const char *stage3_json, int micro_steps)
{
    zo_engine *two = engine_from(stage2_json), *three = engine_from(stage3_json);
    float scale = zo_engine_loss_scale(two);
    static trajectory a, b;
    static float master_two[MODEL_ELEMS], master_three[MODEL_ELEMS];
    for (int k = 0; k < micro_steps; k++) {
        bool overflow = k == 3;
        scale = zo_engine_loss_scale(two);
        micro_step(two, 100 + (uint64_t)k, scale, overflow, &a);
        micro_step(three, 100 + (uint64_t)k, scale, overflow, &b);
        cr_assert(eq(int, memcmp(a.seen, b.seen, sizeof a.seen), 0), "micro-step %d: the weights differ", k);
        cr_assert(eq(int, a.info.skipped, b.info.skipped), "micro-step %d", k);
        cr_assert(eq(u64, a.info.step, b.info.step), "micro-step %d", k);
        cr_assert(eq(flt, a.info.loss_scale, b.info.loss_scale), "micro-step %d", k);
        cr_assert(a.info.grad_norm == b.info.grad_norm || (isinf(a.info.grad_norm) && isinf(b.info.grad_norm)),
                  "micro-step %d: grad norm %g vs %g", k, a.info.grad_norm, b.info.grad_norm);
        master_of(two, master_two);
        master_of(three, master_three);
        cr_assert(eq(int, memcmp(master_two, master_three, sizeof master_two), 0), "micro-step %d: masters differ", k);
    }
    cr_expect(b.info.fetches > 0, "stage 3 fetched nothing");
    zo_engine_destroy(&two);
    zo_engine_destroy(&three);
}

Test(stage3, fp16_with_an_overflow_and_clipping_equals_stage_2_bit_for_bit)
{
    expect_same_trajectory(STAGE2(FP16), STAGE3(FP16, "3000", ""), 12);
}

Test(stage3, bf16_equals_stage_2_bit_for_bit)
{
    expect_same_trajectory(STAGE2(BF16), STAGE3(BF16, "3000", ""), 8);
}

Test(stage3, gradient_accumulation_equals_stage_2_bit_for_bit)
{
    expect_same_trajectory("{" FP16 ACCUMULATE ", \"zo\": {\"device\": \"host\"}, \"gradient_clipping\": 0.5,"
                           " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 512}}",
                           "{" FP16 ACCUMULATE ", \"zo\": {\"device\": \"host\"}, \"gradient_clipping\": 0.5,"
                           " \"zero_optimization\": {\"stage\": 3, \"reduce_bucket_size\": 512,"
                           " \"offload_param\": {\"device\": \"cpu\"}, \"stage3_param_persistence_threshold\": 100,"
                           " \"stage3_max_live_parameters\": 3000}}",
                           10);
}

/* From the second micro-step on, each fetch copies ahead along the first one's order:
 * the loop's later fetches find their weights already there. Another order still
 * trains, and says it lost the prefetch. */
Test(stage3, prefetch_follows_the_recorded_order_and_reports_a_different_one)
{
    /* room for both streamed parameters at once: the head can be copied ahead */
    zo_engine *e = engine_from(STAGE3(FP16, "8000", ""));
    static trajectory t;
    micro_step(e, 1, zo_engine_loss_scale(e), false, &t);
    cr_expect(eq(int, t.info.prefetch_order_matched, 0), "the first micro-step records the order");
    cr_expect(eq(u64, t.info.prefetch_hits, 0));
    /* prefetch never waits for an update still running: let it finish, so what is
     * copied ahead does not depend on the machine's load */
    cr_assert(eq(int, zo_engine_synchronize(e), ZO_OK), "%s", zo_last_error());
    micro_step(e, 2, zo_engine_loss_scale(e), false, &t);
    cr_expect(t.info.prefetch_order_matched, "same loop, same order");
    /* the forward's embedding is copied, the head copied ahead as the embedding is
     * fetched; the backward finds both still in their released slots */
    cr_expect(eq(u64, t.info.prefetch_hits, 1), "hits %llu of %llu copies", (unsigned long long)t.info.prefetch_hits,
              (unsigned long long)t.info.fetches);
    cr_expect(eq(u64, t.info.fetches, 2));
    cr_expect(eq(u64, t.info.reuses, 2));
    /* another order: the head first */
    for (size_t p = PARAMS; p-- > 0;) {
        cr_assert(eq(int, zo_engine_fetch(e, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_release(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
    for (size_t p = PARAMS; p-- > 0;) {
        cr_assert(zo_engine_grads(e, p) != NULL, "%s", zo_last_error());
        memset(zo_engine_grads(e, p), 0, model[p].elems * 2);
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
    zo_step_info info;
    cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, info.prefetch_order_matched, 0), "the order differed");
    zo_engine_destroy(&e);
}

/* A pointer to weights that are not fetched, a release without a fetch, and a fetch
 * that does not fit beside what the loop holds: each refused by name, nothing changed. */
Test(stage3, misuse_is_refused_by_name_and_changes_nothing)
{
    zo_engine *e = engine_from(STAGE3(FP16, "3000", ""));
    cr_expect(zo_engine_weights(e, 0) == NULL);
    cr_expect(strstr(zo_last_error(), "embedding") != NULL && strstr(zo_last_error(), "not fetched") != NULL, "%s",
              zo_last_error());
    cr_expect(zo_engine_weights(e, 1) != NULL, "a persistent parameter is always there");
    cr_expect(eq(int, zo_engine_release(e, 2, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(strstr(zo_last_error(), "head") != NULL && strstr(zo_last_error(), "not fetched") != NULL, "%s",
              zo_last_error());
    /* embedding (1024 aligned) and head (2560) together exceed the 3008-element pool */
    cr_assert(eq(int, zo_engine_fetch(e, 2, NULL), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, zo_engine_fetch(e, 0, NULL), ZO_ERR_OUT_OF_MEMORY));
    cr_expect(strstr(zo_last_error(), "stage3_max_live_parameters") != NULL, "%s", zo_last_error());
    cr_expect(zo_engine_weights(e, 2) != NULL, "the head stays fetched");
    cr_expect(zo_engine_weights(e, 0) == NULL, "the embedding was not fetched");
    /* once released, it fits */
    cr_assert(eq(int, zo_engine_release(e, 2, NULL), ZO_OK), "%s", zo_last_error());
    cr_expect(eq(int, zo_engine_fetch(e, 0, NULL), ZO_OK), "%s", zo_last_error());
    zo_engine_destroy(&e);
}

/* A pool that cannot hold the largest streamed parameter is refused at create. */
Test(stage3, a_live_budget_below_the_largest_parameter_is_refused_at_create)
{
    zo_config *config = NULL;
    cr_assert(eq(int,
                 zo_config_from_string("{\"zo\": {\"device\": \"host\"}, \"zero_optimization\": {\"stage\": 3,"
                                       " \"offload_param\": {\"device\": \"cpu\"}, \"stage3_max_live_parameters\": 2000,"
                                       " \"stage3_param_persistence_threshold\": 100}}",
                                       &config),
                 ZO_OK),
              "%s", zo_last_error());
    zo_engine *e = NULL;
    cr_expect(eq(int, zo_engine_create(config, model, PARAMS, &e), ZO_ERR_CONFIG));
    cr_expect(strstr(zo_last_error(), "stage3_max_live_parameters 2000") != NULL &&
                  strstr(zo_last_error(), "head") != NULL,
              "%s", zo_last_error());
    cr_expect(e == NULL);
    zo_config_destroy(&config);
}

/* Checkpoints: N stage-3 steps, save, load into a fresh engine, M more steps give the
 * bits of N + M uninterrupted steps. */
Test(stage3, a_checkpoint_resumes_bit_for_bit)
{
    char dir[] = "/tmp/zo-stage3-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    char ckpt[64];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    zo_engine *straight = engine_from(STAGE3(FP16, "3000", "")), *first = engine_from(STAGE3(FP16, "3000", ""));
    static trajectory a, b;
    for (int k = 0; k < 4; k++) {
        micro_step(straight, 10 + (uint64_t)k, zo_engine_loss_scale(straight), k == 1, &a);
        micro_step(first, 10 + (uint64_t)k, zo_engine_loss_scale(first), k == 1, &b);
    }
    cr_assert(eq(int, zo_engine_save(first, ckpt), ZO_OK), "%s", zo_last_error());
    zo_engine_destroy(&first);
    zo_engine *resumed = engine_from(STAGE3(FP16, "3000", ""));
    cr_assert(eq(int, zo_engine_load(resumed, ckpt), ZO_OK), "%s", zo_last_error());
    for (int k = 4; k < 8; k++) {
        micro_step(straight, 10 + (uint64_t)k, zo_engine_loss_scale(straight), false, &a);
        micro_step(resumed, 10 + (uint64_t)k, zo_engine_loss_scale(resumed), false, &b);
        cr_assert(eq(int, memcmp(a.seen, b.seen, sizeof a.seen), 0), "micro-step %d: the weights differ", k);
    }
    static float m1[MODEL_ELEMS], m2[MODEL_ELEMS];
    master_of(straight, m1);
    master_of(resumed, m2);
    cr_expect(eq(int, memcmp(m1, m2, sizeof m1), 0), "the masters differ after resuming");
    cr_expect(eq(u64, zo_engine_step_count(straight), zo_engine_step_count(resumed)));
    zo_engine_destroy(&straight);
    zo_engine_destroy(&resumed);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_expect(eq(int, system(command), 0));
}

/* "RAM as VRAM" on a machine without a GPU: 17 parameters of 4096 fp16 elements (136
 * KiB of 16-bit weights) train on a host backend whose device memory is held to 16 KiB
 * (the two 4096-element slot pools), over 8x less than the weights, and the most
 * device memory ever held stays within it. */
Test(stage3, a_model_eight_times_the_device_budget_trains_within_it)
{
    enum { LAYERS = 17, ELEMS = 4096, BUDGET = 2 * ELEMS * 2 };
    static zo_param_desc layers[LAYERS];
    static char names[LAYERS][16];
    for (size_t p = 0; p < LAYERS; p++) {
        snprintf(names[p], sizeof names[p], "layer%zu", p);
        layers[p] = (zo_param_desc){names[p], ELEMS};
    }
    char json[640];
    snprintf(json, sizeof json,
             "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8}, \"optimizer\": {\"type\": \"AdamW\","
             " \"params\": {\"lr\": 0.02}}, \"zo\": {\"device\": \"host\", \"device_memory_budget\": %d},"
             " \"zero_optimization\": {\"stage\": 3, \"offload_param\": {\"device\": \"cpu\"},"
             " \"stage3_max_live_parameters\": %d, \"stage3_param_persistence_threshold\": 0}}",
             BUDGET, ELEMS);
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &config), ZO_OK), "%s", zo_last_error());
    zo_engine *e = NULL;
    cr_assert(eq(int, zo_engine_create(config, layers, LAYERS, &e), ZO_OK), "%s", zo_last_error());
    zo_config_destroy(&config);
    cr_assert(LAYERS * ELEMS * 2 >= 8 * BUDGET, "the weights are 8x the budget");
    static float w[ELEMS], start_distance, distance;
    for (size_t p = 0; p < LAYERS; p++) {
        for (size_t i = 0; i < ELEMS; i++)
            w[i] = 1.0f;
        cr_assert(eq(int, zo_engine_set_master(e, p, w), ZO_OK), "%s", zo_last_error());
    }
    for (int step = 0; step < 20; step++) {
        float scale = zo_engine_loss_scale(e);
        distance = 0.0f;
        for (size_t p = 0; p < LAYERS; p++) { /* forward: the distance to a target of 0 */
            cr_assert(eq(int, zo_engine_fetch(e, p, NULL), ZO_OK), "%s", zo_last_error());
            const void *weights = zo_engine_weights(e, p);
            for (size_t i = 0; i < ELEMS; i++)
                distance += fabsf(zo_test_load(weights, ZO_DTYPE_F16, i));
            cr_assert(eq(int, zo_engine_release(e, p, NULL), ZO_OK), "%s", zo_last_error());
        }
        if (step == 0)
            start_distance = distance;
        for (size_t p = LAYERS; p-- > 0;) { /* backward: gradient = w */
            cr_assert(eq(int, zo_engine_fetch(e, p, NULL), ZO_OK), "%s", zo_last_error());
            const void *weights = zo_engine_weights(e, p);
            void *grads = zo_engine_grads(e, p);
            cr_assert(grads != NULL, "%s", zo_last_error());
            for (size_t i = 0; i < ELEMS; i++)
                zo_test_store(grads, ZO_DTYPE_F16, i, zo_test_load(weights, ZO_DTYPE_F16, i) * scale);
            cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
            cr_assert(eq(int, zo_engine_release(e, p, NULL), ZO_OK), "%s", zo_last_error());
        }
        zo_step_info info;
        cr_assert(eq(int, zo_engine_step(e, &info), ZO_OK), "%s", zo_last_error());
    }
    uint64_t high_water = zo_engine_device_high_water(e);
    cr_expect(high_water > 0 && high_water <= BUDGET, "high-water mark %llu bytes, budget %d",
              (unsigned long long)high_water, BUDGET);
    cr_expect(distance < 0.9f * start_distance, "it trained: distance %g from %g", distance, start_distance);
    zo_engine_destroy(&e);
}
