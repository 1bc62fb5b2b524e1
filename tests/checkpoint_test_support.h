/* What the checkpoint tests share: a small model whose parameters straddle buckets, a
 * deterministic training loop that computes its gradients from the device weights (as
 * a real loop does, so a resumed run that saw other weights would diverge), and
 * snapshots of an engine's whole state (master, moments, device weights, step, loss
 * scaler) compared bit for bit. They see the engine's internals: the moments have no
 * public accessor. */
#ifndef ZO_CHECKPOINT_TEST_SUPPORT_H
#define ZO_CHECKPOINT_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "test_support.h"
#include "zo/zo.h"

static const zo_param_desc ckpt_model[] = {{"embedding", 1000}, {"bias", 37}, {"head", 2500}};
enum {
    CKPT_PARAMS = 3,
    CKPT_MODEL_ELEMS = 1000 + 37 + 2500,
    CKPT_MAX_FLAT_ELEMS = 4096 /* with alignment */
};

/* A stage-2 config on the host backend with 512-element buckets; `extra` is more
 * top-level JSON members ("" for none), e.g. "\"bf16\": {\"enabled\": true},", and
 * `zo_extra` more members of the "zo" section, e.g. "\"moments_dtype\": \"bf16\",". */
#define CKPT_CONFIG_ZO(extra, zo_extra)                                                            \
    "{" extra                                                                                      \
    " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.01, \"weight_decay\": 0.01}},"   \
    " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 512},"                         \
    " \"gradient_clipping\": 1.0,"                                                                 \
    " \"zo\": {" zo_extra " \"device\": \"host\", \"threads\": 2}}"
#define CKPT_CONFIG(extra) CKPT_CONFIG_ZO(extra, "")
#define CKPT_FP16                                                                                  \
    "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 4, \"loss_scale_window\": 2, "         \
    "\"hysteresis\": 2},"

static inline zo_engine *ckpt_engine_for(const char *json, const zo_param_desc *params,
                                         size_t count)
{
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &config), ZO_OK), "config: %s", zo_last_error());
    zo_engine *engine = NULL;
    zo_status status = zo_engine_create(config, params, count, &engine);
    zo_config_destroy(&config);
    cr_assert(eq(int, status, ZO_OK), "zo_engine_create: %s", zo_last_error());
    return engine;
}

static inline zo_engine *ckpt_engine(const char *json)
{
    return ckpt_engine_for(json, ckpt_model, CKPT_PARAMS);
}

static inline size_t ckpt_offset(size_t param)
{
    size_t offset = 0;
    for (size_t i = 0; i < param; i++)
        offset += ckpt_model[i].elems;
    return offset;
}

/* Random initial master weights, the same in every run. */
static inline void ckpt_initialize(zo_engine *e)
{
    static float w[CKPT_MODEL_ELEMS];
    zo_test_rng rng = {2024};
    for (size_t i = 0; i < CKPT_MODEL_ELEMS; i++)
        w[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t p = 0; p < CKPT_PARAMS; p++)
        cr_assert(eq(int, zo_engine_set_master(e, p, w + ckpt_offset(p)), ZO_OK), "%s",
                  zo_last_error());
}

/* `micro_steps` micro-steps of a loop that pulls the weights towards a target: each
 * gradient is (weight on the device - target + noise) * loss scale, the noise seeded
 * by the global micro-step number (so a resumed run gets the same stream). Micro-step
 * 5 writes an inf (with fp16 it is skipped and the loss scale drops). */
static inline void ckpt_train(zo_engine *e, uint64_t micro_steps)
{
    zo_dtype dtype = zo_engine_dtype(e);
    for (uint64_t k = 0; k < micro_steps; k++) {
        uint64_t micro = e->micro_steps;
        float scale = zo_engine_loss_scale(e);
        for (size_t p = 0; p < CKPT_PARAMS; p++)
            cr_assert(eq(int, zo_engine_wait_params(e, p, NULL), ZO_OK), "%s", zo_last_error());
        for (size_t p = 0; p < CKPT_PARAMS; p++) {
            zo_test_rng rng = {1000 + 17 * micro + p};
            const void *weights = zo_engine_weights(e, p);
            void *grads = zo_engine_grads(e, p);
            for (size_t i = 0; i < ckpt_model[p].elems; i++) {
                float target = 0.5f * sinf((float)(ckpt_offset(p) + i));
                float g =
                    zo_test_load(weights, dtype, i) - target + zo_test_uniform(&rng, -0.3f, 0.3f);
                zo_test_store(grads, dtype, i, g * scale);
            }
        }
        if (micro == 5)
            zo_test_store(zo_engine_grads(e, 1), dtype, 5, INFINITY);
        for (size_t p = CKPT_PARAMS; p-- > 0;)
            cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
        cr_assert(eq(int, zo_engine_step(e, NULL), ZO_OK), "step: %s", zo_last_error());
    }
    cr_assert(eq(int, zo_engine_synchronize(e), ZO_OK), "%s", zo_last_error());
}

/* Parameters 0..count-1 for a table of cases: an index, not the case itself, so
 * nothing that points into this process's memory crosses to the test's own process. */
static inline struct criterion_test_params ckpt_case_indices(int *indices, int count)
{
    for (int i = 0; i < count; i++)
        indices[i] = i;
    return cr_make_param_array(int, indices, (size_t)count);
}

/* Everything a resumed run depends on. */
typedef struct ckpt_snapshot {
    float master[CKPT_MODEL_ELEMS];
    unsigned char exp_avg[CKPT_MAX_FLAT_ELEMS * 4], exp_avg_sq[CKPT_MAX_FLAT_ELEMS * 4];
    unsigned char device_weights[CKPT_MAX_FLAT_ELEMS * 4];
    float exp_avg_scale[CKPT_MAX_FLAT_ELEMS / ZO_Q8_BLOCK_ELEMS + 1]; /* 8-bit moments */
    float exp_avg_sq_scale[CKPT_MAX_FLAT_ELEMS / ZO_Q8_BLOCK_ELEMS + 1];
    size_t moment_bytes, weight_bytes, scale_bytes;
    uint64_t steps, micro_steps;
    zo_loss_scaler scaler;
} ckpt_snapshot;

static inline void ckpt_snapshot_of(zo_engine *e, ckpt_snapshot *s)
{
    memset(s, 0, sizeof *s);
    cr_assert(eq(int, zo_engine_synchronize(e), ZO_OK), "%s", zo_last_error());
    for (size_t p = 0; p < CKPT_PARAMS; p++)
        cr_assert(eq(int, zo_engine_get_master(e, p, s->master + ckpt_offset(p)), ZO_OK), "%s",
                  zo_last_error());
    s->moment_bytes = zo_shard_elems(&e->layout) * zo_dtype_size(e->settings.moments_dtype);
    s->weight_bytes = e->layout.padded_elems * zo_dtype_size(zo_engine_dtype(e));
    cr_assert(le(sz, s->moment_bytes, sizeof s->exp_avg));
    memcpy(s->exp_avg, e->exp_avg, s->moment_bytes);
    memcpy(s->exp_avg_sq, e->exp_avg_sq, s->moment_bytes);
    if (e->settings.moments_dtype == ZO_DTYPE_Q8) {
        s->scale_bytes = zo_q8_block_count(zo_shard_elems(&e->layout)) * sizeof(float);
        cr_assert(le(sz, s->scale_bytes, sizeof s->exp_avg_scale));
        memcpy(s->exp_avg_scale, e->exp_avg_scale, s->scale_bytes);
        memcpy(s->exp_avg_sq_scale, e->exp_avg_sq_scale, s->scale_bytes);
    }
    memcpy(s->device_weights, zo_engine_weights(e, 0), s->weight_bytes);
    s->steps = e->steps;
    s->micro_steps = e->micro_steps;
    s->scaler = e->scaler;
}

/* Bit for bit, with the first difference named. */
static inline void ckpt_assert_same(const ckpt_snapshot *a, const ckpt_snapshot *b,
                                    const char *what)
{
    cr_assert(eq(u64, a->steps, b->steps), "%s: step count", what);
    cr_assert(eq(u64, a->micro_steps, b->micro_steps), "%s: micro-step count", what);
    cr_assert(eq(dbl, a->scaler.scale, b->scaler.scale), "%s: loss scale", what);
    cr_assert(eq(int, a->scaler.hysteresis_left, b->scaler.hysteresis_left), "%s: hysteresis",
              what);
    cr_assert(eq(u64, a->scaler.iteration, b->scaler.iteration), "%s: scaler iteration", what);
    cr_assert(eq(i64, a->scaler.last_overflow_iteration, b->scaler.last_overflow_iteration),
              "%s: last overflow", what);
    for (size_t i = 0; i < CKPT_MODEL_ELEMS; i++)
        cr_assert(eq(int, memcmp(&a->master[i], &b->master[i], sizeof(float)), 0),
                  "%s: master weight %zu: %.9g vs %.9g", what, i, a->master[i], b->master[i]);
    cr_assert(eq(int, memcmp(a->exp_avg, b->exp_avg, a->moment_bytes), 0), "%s: exp_avg differs",
              what);
    cr_assert(eq(int, memcmp(a->exp_avg_sq, b->exp_avg_sq, a->moment_bytes), 0),
              "%s: exp_avg_sq differs", what);
    cr_assert(eq(int, memcmp(a->device_weights, b->device_weights, a->weight_bytes), 0),
              "%s: device weights differ", what);
    cr_assert(eq(sz, a->scale_bytes, b->scale_bytes), "%s: 8-bit moments in one only", what);
    cr_assert(eq(int, memcmp(a->exp_avg_scale, b->exp_avg_scale, a->scale_bytes), 0),
              "%s: exp_avg scales differ", what);
    cr_assert(eq(int, memcmp(a->exp_avg_sq_scale, b->exp_avg_sq_scale, a->scale_bytes), 0),
              "%s: exp_avg_sq scales differ", what);
}

/* A fresh directory under /tmp for this test; ckpt_remove_scratch deletes it. */
static inline void ckpt_scratch_dir(char *out, size_t size)
{
    snprintf(out, size, "/tmp/zo-ckpt-test-XXXXXX");
    cr_assert(mkdtemp(out) != NULL, "mkdtemp failed");
}

static inline void ckpt_remove_scratch(const char *dir)
{
    char command[512];
    cr_assert(eq(int, strncmp(dir, "/tmp/zo-ckpt-test-", 18), 0));
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    cr_expect(eq(int, system(command), 0));
}

/* A checkpoint `ckpt` saved by an engine of CKPT_CONFIG(CKPT_FP16) after `micro_steps`
 * micro-steps of ckpt_train, in a scratch directory `dir`, with its files' paths. */
typedef struct ckpt_saved {
    char dir[64], ckpt[128], shard[192], manifest[192];
} ckpt_saved;

static inline void ckpt_save_trained(ckpt_saved *s, uint64_t micro_steps)
{
    ckpt_scratch_dir(s->dir, sizeof s->dir);
    snprintf(s->ckpt, sizeof s->ckpt, "%s/ckpt", s->dir);
    snprintf(s->shard, sizeof s->shard, "%s/rank0-of-1.safetensors", s->ckpt);
    snprintf(s->manifest, sizeof s->manifest, "%s/manifest.json", s->ckpt);
    zo_engine *e = ckpt_engine(CKPT_CONFIG(CKPT_FP16));
    ckpt_initialize(e);
    ckpt_train(e, micro_steps);
    cr_assert(eq(int, zo_engine_save(e, s->ckpt), ZO_OK), "%s", zo_last_error());
    zo_engine_destroy(&e);
}

/* Whole-file helpers for tampering with a checkpoint. */
static inline size_t ckpt_file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    return (size_t)size;
}

static inline void ckpt_flip_byte(const char *path, size_t offset)
{
    FILE *f = fopen(path, "r+b");
    cr_assert(f != NULL, "cannot open %s", path);
    fseek(f, (long)offset, SEEK_SET);
    int byte = fgetc(f);
    fseek(f, (long)offset, SEEK_SET);
    fputc(byte ^ 0x10, f);
    fclose(f);
}

#endif
