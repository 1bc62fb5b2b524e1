/* A custom training loop that embeds the engine: linear regression y = W x + b on
 * synthetic data, with fp16 weights on the "device" (the host backend here), fp32
 * master weights and Adam state in host memory, dynamic loss scaling and clipping from
 * a DeepSpeed-style config. Run: ./engine_loop [config.json] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <zo/zo.h>

enum { IN = 64, OUT = 16, BATCH = 32, STEPS = 300 };

#define CHECK(call)                                                                      \
    do {                                                                                 \
        zo_status status_ = (call);                                                      \
        if (status_ != ZO_OK) {                                                          \
            fprintf(stderr, "%s: %s\n", #call, zo_last_error());                         \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

static const char *default_config =
    "{\"train_micro_batch_size_per_gpu\": 32, \"gradient_accumulation_steps\": 1,"
    " \"gradient_clipping\": 1.0,"
    " \"fp16\": {\"enabled\": true, \"initial_scale_power\": 12},"
    " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.01, \"weight_decay\": 0.0}},"
    " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 512,"
    "                         \"offload_optimizer\": {\"device\": \"cpu\"}},"
    " \"steps_per_print\": 10, \"zo\": {\"device\": \"host\"}}";

static float uniform(uint64_t *state) /* xorshift: the same data everywhere */
{
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
    return (float)(*state >> 40) * 0x1p-24f * 2.0f - 1.0f;
}

int main(int argc, char **argv)
{
    zo_config *config = NULL;
    CHECK(argc > 1 ? zo_config_from_file(argv[1], &config) : zo_config_from_string(default_config, &config));
    for (size_t k = 0; k < zo_config_ignored_count(config); k++) /* never ignored silently */
        printf("note: %s has no meaning for zo and is ignored\n", zo_config_ignored_key(config, k));

    /* 1. register the parameters once, in forward order */
    const zo_param_desc params[] = {{"weight", OUT * IN}, {"bias", OUT}};
    zo_engine *engine = NULL;
    CHECK(zo_engine_create(config, params, 2, &engine));
    zo_config_destroy(&config);
    if (zo_engine_dtype(engine) != ZO_DTYPE_F16) {
        fprintf(stderr, "this example's kernels are written for fp16 weights\n");
        return 1;
    }

    /* 2. initial weights go into the fp32 master copy (and, rounded, to the device) */
    static float w0[OUT * IN], target_w[OUT * IN], target_b[OUT], x[BATCH][IN], y[BATCH][OUT];
    uint64_t rng = 42;
    for (int i = 0; i < OUT * IN; i++)
        w0[i] = 0.01f * uniform(&rng), target_w[i] = uniform(&rng);
    for (int o = 0; o < OUT; o++)
        target_b[o] = uniform(&rng);
    float zeros[OUT] = {0};
    CHECK(zo_engine_set_master(engine, 0, w0));
    CHECK(zo_engine_set_master(engine, 1, zeros));

    double first_loss = 0, loss = 0;
    for (int step = 0; step < STEPS; step++) {
        for (int n = 0; n < BATCH; n++) /* a fresh batch of the task */
            for (int i = 0; i < IN; i++)
                x[n][i] = uniform(&rng);
        for (int n = 0; n < BATCH; n++)
            for (int o = 0; o < OUT; o++) {
                float sum = target_b[o];
                for (int i = 0; i < IN; i++)
                    sum += target_w[o * IN + i] * x[n][i];
                y[n][o] = sum;
            }

        /* 3. forward: wait for each layer's updated weights, then use them */
        CHECK(zo_engine_wait_params(engine, 0, NULL));
        CHECK(zo_engine_wait_params(engine, 1, NULL));
        const uint16_t *w = zo_engine_weights(engine, 0), *b = zo_engine_weights(engine, 1);
        static float error[BATCH][OUT];
        loss = 0;
        for (int n = 0; n < BATCH; n++)
            for (int o = 0; o < OUT; o++) {
                float out = zo_f16_to_f32(b[o]);
                for (int i = 0; i < IN; i++)
                    out += zo_f16_to_f32(w[o * IN + i]) * x[n][i];
                error[n][o] = out - y[n][o];
                loss += 0.5 * error[n][o] * error[n][o] / BATCH;
            }
        if (step == 0)
            first_loss = loss;

        /* 4. backward of loss * loss_scale, written where the engine says; the last
         *    layer's gradient is ready first */
        float scale = zo_engine_loss_scale(engine) / BATCH;
        uint16_t *grad_w = zo_engine_grads(engine, 0), *grad_b = zo_engine_grads(engine, 1);
        for (int o = 0; o < OUT; o++) {
            float sum = 0;
            for (int n = 0; n < BATCH; n++)
                sum += error[n][o];
            grad_b[o] = zo_f32_to_f16(sum * scale);
        }
        CHECK(zo_engine_grad_ready(engine, 1, NULL));
        for (int o = 0; o < OUT; o++)
            for (int i = 0; i < IN; i++) {
                float sum = 0;
                for (int n = 0; n < BATCH; n++)
                    sum += error[n][o] * x[n][i];
                grad_w[o * IN + i] = zo_f32_to_f16(sum * scale);
            }
        CHECK(zo_engine_grad_ready(engine, 0, NULL));

        /* 5. step: overflow -> skipped with a lower scale; else clip + Adam, overlapped */
        zo_step_info info;
        CHECK(zo_engine_step(engine, &info));
        if (step % 50 == 0 || info.skipped)
            printf("step %3d  loss %9.5f  grad norm %8.4f  scale %6.0f%s\n", step, loss, info.grad_norm,
                   info.loss_scale, info.skipped ? "  (skipped: overflow)" : "");
    }
    printf("loss %.5f -> %.5f\n", first_loss, loss);
    zo_engine_destroy(&engine);
    return loss < first_loss / 20 ? 0 : 2; /* the task is learnable: the loss must fall */
}
