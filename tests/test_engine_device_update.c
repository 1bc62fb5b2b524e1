/* offload_optimizer.device "none" (engine/device_update.c), run where CI can: a
 * host-backend engine given cpu_adam as its device's optimizer operations
 * (zo_device_host_add_optimizer) and switched to the device update against
 * one on the offloaded path, fed the same gradients. The device path computes the same
 * things in other places (stats on the device gradients, Adam on device master and
 * moments, weights written in place), so every loss-scale decision, gradient norm,
 * master weight and device weight must be the same bits, and no gradient may land in
 * the pinned staging. On CUDA the same strategy drives adam.cu's kernels instead. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/host/backend.h"
#include "device_update.h"
#include "engine_internal.h"
#include "test_support.h"
#include "zo/zo.h"

static const zo_param_desc model[] = {{"embedding", 3000}, {"bias", 37}, {"head", 5000}};
enum { PARAMS = 3, MODEL_ELEMS = 3000 + 37 + 5000, STEPS = 25, OVERFLOW_STEP = 7 };

/* fp16, dynamic loss scale, AdamW with decay, clipping that bites, several buckets. */
static const char config_json[] =
    "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12},"
    " \"gradient_clipping\": 0.5,"
    " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.01, \"weight_decay\": 0.01}},"
    " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 1024},"
    " \"zo\": {\"device\": \"host\"}}";

static zo_engine *new_engine(const char *json)
{
    zo_config *config = NULL;
    zo_engine *engine = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &config), ZO_OK), "%s", zo_last_error());
    zo_status status = zo_engine_create(config, model, PARAMS, &engine);
    zo_config_destroy(&config);
    cr_assert(eq(int, status, ZO_OK), "%s", zo_last_error());
    return engine;
}

/* The host backend lacks the optional optimizer operations until given cpu_adam's. */
static zo_status start_device_update(zo_engine *e)
{
    zo_status status = zo_device_host_add_optimizer(&e->device);
    return status ? status : zo_device_update_start(e);
}

static size_t offset_of(size_t param) { return param == 0 ? 0 : param == 1 ? 3000 : 3037; }

/* The same loss-scaled gradients into both engines; step OVERFLOW_STEP has an inf. */
static void backward_both(zo_engine *engines[2], uint64_t step)
{
    zo_test_rng rng = {1000 + step};
    float scale = zo_engine_loss_scale(engines[0]);
    for (size_t p = PARAMS; p-- > 0;) {
        for (size_t i = 0; i < model[p].elems; i++) {
            float g = zo_test_uniform(&rng, -1.0f, 1.0f) * scale * 1e-3f;
            if (step == OVERFLOW_STEP && p == 2 && i == 4321)
                g = INFINITY;
            for (int k = 0; k < 2; k++)
                zo_test_store(zo_engine_grads(engines[k], p), ZO_DTYPE_F16, i, g);
        }
        for (int k = 0; k < 2; k++)
            cr_assert(eq(int, zo_engine_grad_ready(engines[k], p, NULL), ZO_OK), "%s",
                      zo_last_error());
    }
}

Test(engine_device_update, trains_to_the_same_bits_as_the_offloaded_path_without_copies)
{
    zo_engine *engines[2] = {new_engine(config_json),
                             new_engine(config_json)}; /* offloaded, device */
    cr_assert(eq(int, start_device_update(engines[1]), ZO_OK), "%s", zo_last_error());
    cr_assert(engines[0]->device_update == NULL);
    float *initial = malloc(MODEL_ELEMS * sizeof(float));
    zo_test_rng rng = {77};
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        initial[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
    for (int k = 0; k < 2; k++)
        for (size_t p = 0; p < PARAMS; p++)
            cr_assert(eq(int, zo_engine_set_master(engines[k], p, initial + offset_of(p)), ZO_OK));

    size_t skipped = 0;
    for (uint64_t step = 1; step <= STEPS; step++) {
        for (int k = 0; k < 2; k++) /* the forward: every bucket of the last update */
            for (size_t p = 0; p < PARAMS; p++)
                cr_assert(eq(int, zo_engine_wait_params(engines[k], p, NULL), ZO_OK), "%s",
                          zo_last_error());
        backward_both(engines, step);
        zo_step_info info[2];
        for (int k = 0; k < 2; k++)
            cr_assert(eq(int, zo_engine_step(engines[k], &info[k]), ZO_OK), "%s", zo_last_error());
        cr_expect(eq(int, info[0].skipped, info[1].skipped), "step %llu", (unsigned long long)step);
        bool same_norm = memcmp(&info[0].grad_norm, &info[1].grad_norm, sizeof(double)) == 0;
        cr_expect(same_norm, "step %llu: grad norm %.17g offloaded, %.17g on the device",
                  (unsigned long long)step, info[0].grad_norm, info[1].grad_norm);
        cr_expect(eq(flt, info[0].loss_scale, info[1].loss_scale));
        skipped += info[1].skipped;
    }
    cr_expect(eq(sz, skipped, 1), "the inf of step %d must skip exactly that step", OVERFLOW_STEP);

    float *master[2] = {malloc(MODEL_ELEMS * sizeof(float)), malloc(MODEL_ELEMS * sizeof(float))};
    for (int k = 0; k < 2; k++) {
        cr_assert(eq(int, zo_engine_synchronize(engines[k]), ZO_OK));
        for (size_t p = 0; p < PARAMS; p++)
            cr_assert(
                eq(int, zo_engine_get_master(engines[k], p, master[k] + offset_of(p)), ZO_OK));
    }
    cr_expect(eq(int, memcmp(master[0], master[1], MODEL_ELEMS * sizeof(float)), 0),
              "master weights differ");
    cr_expect(eq(int, memcmp(initial, master[1], MODEL_ELEMS * sizeof(float)) != 0, 1),
              "nothing was trained");
    cr_expect(eq(int,
                 memcmp(zo_engine_weights(engines[0], 0), zo_engine_weights(engines[1], 0),
                        MODEL_ELEMS * 2),
                 0),
              "device weights differ");
    /* no gradient went down: the device path's landing buffer is still all zeros */
    const uint16_t *landing = engines[1]->pinned_grads;
    size_t landed = 0;
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        landed += landing[i] != 0;
    cr_expect(eq(sz, landed, 0), "%zu gradients were copied to the host", landed);

    free(master[0]), free(master[1]), free(initial);
    zo_engine_destroy(&engines[0]);
    zo_engine_destroy(&engines[1]);
}

/* One step of the device-path engine `e` with the gradients of step `step`. */
static void train_one_step(zo_engine *e, uint64_t step)
{
    zo_test_rng rng = {1000 + step};
    float scale = zo_engine_loss_scale(e);
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_wait_params(e, p, NULL), ZO_OK), "%s", zo_last_error());
    for (size_t p = PARAMS; p-- > 0;) {
        for (size_t i = 0; i < model[p].elems; i++)
            zo_test_store(zo_engine_grads(e, p), ZO_DTYPE_F16, i, zo_test_uniform(&rng, -1.0f, 1.0f) * scale * 1e-3f);
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
    cr_assert(eq(int, zo_engine_step(e, NULL), ZO_OK), "%s", zo_last_error());
}

static zo_engine *new_device_path_engine(void)
{
    zo_engine *e = new_engine(config_json);
    cr_assert(eq(int, start_device_update(e), ZO_OK), "%s", zo_last_error());
    return e;
}

/* The optimizer's state lives in device memory on this path: a checkpoint must save
 * that state (not the host copies) and a load must put it back there, so 5 steps, save,
 * 5 steps equal a fresh engine that loads the save and takes the same 5 steps. */
Test(engine_device_update, a_checkpoint_saves_and_restores_the_device_state)
{
    char dir[] = "/tmp/zo-test-device-update-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    char ckpt[sizeof dir + 8];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
    zo_engine *straight = new_device_path_engine(), *resumed = new_device_path_engine();
    float initial[MODEL_ELEMS];
    zo_test_rng rng = {77};
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        initial[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_set_master(straight, p, initial + offset_of(p)), ZO_OK));
    for (uint64_t step = 1; step <= 5; step++)
        train_one_step(straight, step);
    cr_assert(eq(int, zo_engine_save(straight, ckpt), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(int, zo_engine_load(resumed, ckpt), ZO_OK), "%s", zo_last_error());
    for (uint64_t step = 6; step <= 10; step++) {
        train_one_step(straight, step);
        train_one_step(resumed, step);
    }
    float a[MODEL_ELEMS], b[MODEL_ELEMS];
    for (size_t p = 0; p < PARAMS; p++) {
        cr_assert(eq(int, zo_engine_get_master(straight, p, a + offset_of(p)), ZO_OK));
        cr_assert(eq(int, zo_engine_get_master(resumed, p, b + offset_of(p)), ZO_OK));
    }
    cr_expect(eq(int, memcmp(a, b, sizeof a), 0), "resumed master weights differ from 10 straight steps");
    cr_expect(eq(int, memcmp(zo_engine_weights(straight, 0), zo_engine_weights(resumed, 0), MODEL_ELEMS * 2), 0),
              "resumed device weights differ");
    zo_engine_destroy(&straight);
    zo_engine_destroy(&resumed);
    char command[sizeof dir + 16];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_expect(eq(int, system(command), 0));
}

Test(engine_device_update, refuses_accumulation_the_delayed_update_and_8bit_moments_by_name)
{
    struct {
        const char *json, *named;
    } cases[] = {
        {"{\"fp16\": {\"enabled\": true}, \"gradient_accumulation_steps\": 2, \"zo\": {\"device\": "
         "\"host\"}}",
         "gradient accumulation"},
        {"{\"fp16\": {\"enabled\": true}, \"zo\": {\"device\": \"host\", \"delayed_param_update\": "
         "true}}",
         "zo.delayed_param_update"},
        {"{\"fp16\": {\"enabled\": true}, \"zo\": {\"device\": \"host\", \"moments_dtype\": \"8bit\"}}",
         "zo.moments_dtype \"8bit\""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        zo_engine *engine = new_engine(cases[c].json);
        cr_expect(eq(int, start_device_update(engine), ZO_ERR_NOT_SUPPORTED), "%s",
                  cases[c].named);
        bool named = strstr(zo_last_error(), cases[c].named) != NULL;
        cr_expect(named, "message: %s", zo_last_error());
        zo_engine_destroy(&engine);
    }
}

Test(engine_device_update, the_plan_puts_the_optimizer_state_on_the_gpu_without_offload)
{
    /* zo.device "cuda": planned for a GPU whether or not this machine has one */
    const char *json[2] = {"{\"fp16\": {\"enabled\": true}, \"zero_optimization\": "
                           "{\"offload_optimizer\": {\"device\": \"cpu\"}},"
                           " \"zo\": {\"device\": \"cuda\"}}",
                           "{\"fp16\": {\"enabled\": true}, \"zero_optimization\": "
                           "{\"offload_optimizer\": {\"device\": \"none\"}},"
                           " \"zo\": {\"device\": \"cuda\"}}"};
    zo_memory_plan plan[2];
    for (int k = 0; k < 2; k++) {
        zo_config *config = NULL;
        cr_assert(eq(int, zo_config_from_string(json[k], &config), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_plan(config, model, PARAMS, 1, &plan[k]), ZO_OK), "%s",
                  zo_last_error());
        zo_config_destroy(&config);
    }
    cr_expect(eq(u64, plan[0].device_bytes, plan[0].param_elems * 4), "fp16 weights + gradients");
    cr_expect(eq(u64, plan[1].device_bytes, plan[1].param_elems * (4 + 4 + 8)),
              "+ fp32 master and moments");
    cr_expect(eq(u64, plan[1].host_bytes, plan[0].host_bytes),
              "the host copies stay (engine.c keeps them)");
}

/* ---- on a GPU: adam_cuda.cu behind the same hooks ----------------------------------- */

#ifdef ZO_TEST_WITH_CUDA
#include <cuda_runtime.h>

/* Without clipping the GPU's gradient norm (another summation order than cpu_adam's)
 * changes nothing the update reads, and the GPU Adam is cpu_adam's bits: offload "none"
 * on the GPU and "cpu" must train to the same master and device weights. */
Test(engine_device_update, on_a_gpu_trains_to_the_same_bits_as_the_offloaded_path_without_clipping)
{
    int gpus = 0;
    if (zo_cuda_device_count(&gpus) != ZO_OK || gpus == 0)
        cr_skip_test("no GPU: %s", gpus == 0 && zo_last_error()[0] ? zo_last_error() : "no CUDA device");
    const char *json[2] = {
        "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12},"
        " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.01, \"weight_decay\": 0.01}},"
        " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 1024,"
        "                         \"offload_optimizer\": {\"device\": \"cpu\"}}, \"zo\": {\"device\": \"cuda\"}}",
        "{\"fp16\": {\"enabled\": true, \"initial_scale_power\": 12},"
        " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.01, \"weight_decay\": 0.01}},"
        " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 1024,"
        "                         \"offload_optimizer\": {\"device\": \"none\"}}, \"zo\": {\"device\": \"cuda\"}}"};
    zo_engine *engines[2] = {new_engine(json[0]), new_engine(json[1])};
    cr_assert(engines[1]->device_update != NULL, "offload \"none\" on CUDA must update on the device");
    float *initial = malloc(MODEL_ELEMS * sizeof(float));
    uint16_t *grads = malloc(MODEL_ELEMS * sizeof(uint16_t));
    zo_test_rng rng = {77};
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        initial[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
    for (int k = 0; k < 2; k++)
        for (size_t p = 0; p < PARAMS; p++)
            cr_assert(eq(int, zo_engine_set_master(engines[k], p, initial + offset_of(p)), ZO_OK), "%s",
                      zo_last_error());
    for (uint64_t step = 1; step <= STEPS; step++) {
        zo_test_rng step_rng = {1000 + step};
        float scale = zo_engine_loss_scale(engines[0]);
        for (size_t i = 0; i < MODEL_ELEMS; i++) {
            float g = zo_test_uniform(&step_rng, -1.0f, 1.0f) * scale * 1e-3f;
            grads[i] = zo_f32_to_f16(step == OVERFLOW_STEP && i == 4321 ? INFINITY : g);
        }
        zo_step_info info[2];
        for (int k = 0; k < 2; k++) {
            for (size_t p = 0; p < PARAMS; p++)
                cr_assert(eq(int, zo_engine_wait_params(engines[k], p, NULL), ZO_OK), "%s", zo_last_error());
            for (size_t p = PARAMS; p-- > 0;) {
                cr_assert(eq(int,
                             cudaMemcpy(zo_engine_grads(engines[k], p), grads + offset_of(p), model[p].elems * 2,
                                        cudaMemcpyHostToDevice),
                             cudaSuccess));
                cr_assert(eq(int, zo_engine_grad_ready(engines[k], p, NULL), ZO_OK), "%s", zo_last_error());
            }
            cr_assert(eq(int, zo_engine_step(engines[k], &info[k]), ZO_OK), "%s", zo_last_error());
        }
        cr_expect(eq(int, info[0].skipped, info[1].skipped), "step %llu", (unsigned long long)step);
        cr_expect(eq(flt, info[0].loss_scale, info[1].loss_scale), "step %llu", (unsigned long long)step);
    }
    float *master[2] = {malloc(MODEL_ELEMS * sizeof(float)), malloc(MODEL_ELEMS * sizeof(float))};
    uint16_t *weights[2] = {malloc(MODEL_ELEMS * 2), malloc(MODEL_ELEMS * 2)};
    for (int k = 0; k < 2; k++) {
        cr_assert(eq(int, zo_engine_synchronize(engines[k]), ZO_OK), "%s", zo_last_error());
        for (size_t p = 0; p < PARAMS; p++)
            cr_assert(eq(int, zo_engine_get_master(engines[k], p, master[k] + offset_of(p)), ZO_OK));
        cr_assert(eq(int, cudaMemcpy(weights[k], zo_engine_weights(engines[k], 0), MODEL_ELEMS * 2,
                                     cudaMemcpyDeviceToHost),
                     cudaSuccess));
    }
    cr_expect(eq(int, memcmp(master[0], master[1], MODEL_ELEMS * sizeof(float)), 0), "master weights differ");
    cr_expect(eq(int, memcmp(weights[0], weights[1], MODEL_ELEMS * 2), 0), "device weights differ");
    cr_expect(eq(int, memcmp(initial, master[1], MODEL_ELEMS * sizeof(float)) != 0, 1), "nothing was trained");
    free(master[0]), free(master[1]), free(weights[0]), free(weights[1]), free(initial), free(grads);
    zo_engine_destroy(&engines[0]);
    zo_engine_destroy(&engines[1]);
}
#endif
