/* Soak test of the engine on the host backend, as a plain program (so ThreadSanitizer
 * and valgrind can run it too): rounds of random models, bucket sizes, dtypes,
 * accumulation, delayed update and moments; each micro-step writes and declares the
 * gradients parameter by parameter in a random order (while earlier buckets copy and
 * the worker measures them), sometimes with an inf or NaN; after a random third of the
 * micro-steps (the others overlap the update with the next micro-step) and at the end
 * of each round the master weights must equal cpu_adam run directly on the same
 * gradients, bit for bit, and every weight a forward waits for must be the rounded
 * master it should see.
 * Usage: soak_engine [--steps N] [--seed S] [--threads T] [--nvme 1] (Adam's threads, 0:
 * 1 or 2 at random; TSan runs take 1, as libgomp's team is invisible to it; --nvme 1:
 * the optimizer state on NVMe in a directory under /tmp, with random ring settings, so
 * the ring's own thread runs beside the worker). Exits 1 at the first difference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plain_options.h"
#include "test_values.h"

enum { MAX_PARAMS = 6, MAX_PARAM_ELEMS = 1200, MAX_ELEMS = MAX_PARAMS * MAX_PARAM_ELEMS };

/* One round's random setup. */
typedef struct soak_round {
    zo_param_desc params[MAX_PARAMS];
    size_t param_count, offset[MAX_PARAMS], elems;
    zo_dtype dtype;
    int accumulation;
    bool delayed;
    zo_dtype moments_dtype;
    size_t threads;
} soak_round;

/* What the engine should hold: the reference optimizer state, the weights the device
 * shows to a forward, and (delayed update) the update not yet sent up. */
typedef struct soak_reference {
    float master[MAX_ELEMS], exp_avg[MAX_ELEMS], exp_avg_sq[MAX_ELEMS];
    float device[MAX_ELEMS], unsent[MAX_ELEMS];
    bool has_unsent;
    float grads[MAX_ELEMS], sum[MAX_ELEMS]; /* this micro-step's, and the window's */
    uint64_t step;
} soak_reference;

typedef struct soak_counts {
    unsigned long micro_steps, updates, skipped, injected, rounds;
} soak_counts;

static void fail(const char *what, unsigned long micro_step, const char *detail)
{
    fprintf(stderr, "soak_engine: micro-step %lu: %s%s%s\n", micro_step, what, detail ? ": " : "",
            detail ? detail : "");
    exit(1);
}

static size_t below(zo_test_rng *rng, size_t n) { return (size_t)(zo_test_next(rng) % n); }

static soak_round random_round(zo_test_rng *rng, size_t threads)
{
    static const char *const names[MAX_PARAMS] = {"p0", "p1", "p2", "p3", "p4", "p5"};
    soak_round r = {.param_count = 1 + below(rng, MAX_PARAMS)};
    for (size_t p = 0; p < r.param_count; p++) {
        r.params[p] = (zo_param_desc){names[p], 1 + below(rng, MAX_PARAM_ELEMS)};
        r.offset[p] = r.elems;
        r.elems += r.params[p].elems;
    }
    r.dtype = below(rng, 4) ? ZO_DTYPE_F16 : ZO_DTYPE_BF16;
    r.accumulation = 1 + (int)below(rng, 3);
    r.delayed = below(rng, 2);
    r.moments_dtype = below(rng, 4) ? ZO_DTYPE_F32 : ZO_DTYPE_BF16;
    r.threads = threads ? threads : 1 + below(rng, 2);
    return r;
}

/* --nvme 1: the directory that holds the NVMe state ("" for host RAM). */
static char nvme_dir[64];

/* offload_optimizer's keys for the round, and any "aio" section (root_extra, "" or
 * ", \"aio\": {...}"): host RAM, or NVMe with random ring settings. */
static void offload_keys(zo_test_rng *rng, char *offload, char *root_extra, size_t size)
{
    root_extra[0] = '\0';
    if (!nvme_dir[0]) {
        snprintf(offload, size, "\"device\": \"cpu\"");
        return;
    }
    bool read_ahead = below(rng, 2), write_behind = below(rng, 2);
    snprintf(offload, size,
             "\"device\": \"nvme\", \"nvme_path\": \"%s\", \"buffer_count\": %d,"
             " \"pipeline_read\": %s, \"pipeline_write\": %s, \"fast_init\": %s",
             nvme_dir, 1 + read_ahead + write_behind + (int)below(rng, 3), read_ahead ? "true" : "false",
             write_behind ? "true" : "false", below(rng, 2) ? "true" : "false");
    snprintf(root_extra, size,
             ", \"aio\": {\"block_size\": %d, \"queue_depth\": %d, \"single_submit\": %s,"
             " \"overlap_events\": %s}",
             4096 << below(rng, 3), 1 + (int)below(rng, 16), below(rng, 2) ? "true" : "false",
             below(rng, 2) ? "true" : "false");
}

static zo_engine *create_engine(const soak_round *r, zo_test_rng *rng)
{
    char json[1536], offload[512], root_extra[512];
    offload_keys(rng, offload, root_extra, sizeof offload);
    snprintf(json, sizeof json,
             "{\"%s\": {\"enabled\": true%s}, \"gradient_clipping\": 0,"
             " \"gradient_accumulation_steps\": %d,"
             " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.001, \"weight_decay\": "
             "0.01}},"
             " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": %zu, \"offload_optimizer\": {%s}},"
             " \"zo\": {\"device\": \"host\", \"threads\": %zu, \"delayed_param_update\": %s,"
             " \"moments_dtype\": \"%s\"}%s}",
             r->dtype == ZO_DTYPE_F16 ? "fp16" : "bf16",
             r->dtype == ZO_DTYPE_F16 ? ", \"initial_scale_power\": 10, \"loss_scale_window\": 20"
                                      : "",
             r->accumulation, 16 + below(rng, 2048), offload, r->threads, r->delayed ? "true" : "false",
             r->moments_dtype == ZO_DTYPE_F32 ? "f32" : "bf16", root_extra);
    zo_config *config = NULL;
    zo_engine *e = NULL;
    if (zo_config_from_string(json, &config) != ZO_OK ||
        zo_engine_create(config, r->params, r->param_count, &e))
        fail("cannot create the engine", 0, zo_last_error());
    zo_config_destroy(&config);
    return e;
}

/* A forward: waits for the parameters in a random order, each showing the weights the
 * reference says the device holds. */
static void forward(zo_engine *e, const soak_round *r, const soak_reference *ref, zo_test_rng *rng,
                    unsigned long micro_step)
{
    for (size_t n = 0; n < r->param_count; n++) {
        size_t p = below(rng, r->param_count);
        if (zo_engine_wait_params(e, p, NULL) != ZO_OK)
            fail("zo_engine_wait_params", micro_step, zo_last_error());
        const uint16_t *device = zo_engine_weights(e, p);
        for (size_t i = 0; i < r->params[p].elems; i++) {
            float expected = ref->device[r->offset[p] + i];
            uint16_t bits =
                r->dtype == ZO_DTYPE_F16 ? zo_f32_to_f16(expected) : zo_f32_to_bf16(expected);
            if (device[i] != bits)
                fail("device weights differ from the rounded reference", micro_step,
                     r->params[p].name);
        }
    }
}

/* A backward: each parameter's gradients written, then declared ready, in a random
 * order; one in 30 micro-steps gets an inf or NaN. Returns whether one was injected. */
static bool backward(zo_engine *e, const soak_round *r, soak_reference *ref, zo_test_rng *rng,
                     unsigned long micro_step)
{
    size_t order[MAX_PARAMS];
    for (size_t p = 0; p < r->param_count; p++)
        order[p] = p;
    for (size_t p = r->param_count; p > 1; p--) { /* Fisher-Yates */
        size_t other = below(rng, p), kept = order[p - 1];
        order[p - 1] = order[other];
        order[other] = kept;
    }
    float scale = zo_engine_loss_scale(e), magnitude = ldexpf(1.0f, (int)below(rng, 8) - 6);
    /* an overflow at the minimum scale is an error (the model diverges): keep above it */
    bool inject = below(rng, 30) == 0 && (r->dtype == ZO_DTYPE_BF16 || scale >= 64.0f);
    size_t poisoned = below(rng, r->elems);
    for (size_t n = 0; n < r->param_count; n++) {
        size_t p = order[n];
        void *grads = zo_engine_grads(e, p);
        for (size_t i = 0; i < r->params[p].elems; i++) {
            size_t flat = r->offset[p] + i;
            float g = zo_test_uniform(rng, -magnitude, magnitude) * scale;
            if (inject && flat == poisoned)
                g = below(rng, 2) ? NAN : (below(rng, 2) ? INFINITY : -INFINITY);
            zo_test_store(grads, r->dtype, i, g);
            ref->grads[flat] = zo_test_load(grads, r->dtype, i);
        }
        if (zo_engine_grad_ready(e, p, NULL) != ZO_OK)
            fail("zo_engine_grad_ready", micro_step, zo_last_error());
    }
    return inject;
}

/* The reference's side of one micro-step: the fp32 sum in micro-step order, and at a
 * boundary with finite gradients, cpu_adam on the whole flat model. Returns whether
 * it stepped (the engine must say the same). */
static bool reference_micro_step(soak_reference *ref, const soak_round *r, zo_adam *adam,
                                 int micro_in_window, float loss_scale, unsigned long micro_step)
{
    for (size_t i = 0; i < r->elems; i++)
        ref->sum[i] = micro_in_window == 0 ? ref->grads[i] : ref->sum[i] + ref->grads[i];
    if (micro_in_window + 1 < r->accumulation)
        return false;
    for (size_t i = 0; i < r->elems; i++)
        if (!isfinite(ref->sum[i]))
            return false;
    zo_adam_hparams hp;
    zo_adam_default_hparams(&hp);
    hp.lr = 0.001f;
    hp.weight_decay = 0.01f;
    zo_adam_buffers b = {.n = r->elems,
                         .master = ref->master,
                         .exp_avg = ref->exp_avg,
                         .exp_avg_sq = ref->exp_avg_sq,
                         .moments_dtype = r->moments_dtype,
                         .grad = ref->sum,
                         .grad_dtype = ZO_DTYPE_F32,
                         .grad_scale = (float)(1.0 / ((double)loss_scale * r->accumulation))};
    if (zo_adam_step(adam, &hp, ++ref->step, &b) != ZO_OK)
        fail("reference zo_adam_step", micro_step, zo_last_error());
    return true;
}

/* What the device shows after a step call: without the delayed update, the latest
 * master; with it, the update sent up at this call (the previous one). */
static void reference_device_after_step(soak_reference *ref, const soak_round *r, bool stepped)
{
    size_t bytes = r->elems * sizeof(float);
    if (!r->delayed) {
        if (stepped)
            memcpy(ref->device, ref->master, bytes);
        return;
    }
    if (ref->has_unsent)
        memcpy(ref->device, ref->unsent, bytes);
    ref->has_unsent = stepped;
    if (stepped)
        memcpy(ref->unsent, ref->master, bytes);
}

static void check_master(zo_engine *e, const soak_round *r, const soak_reference *ref,
                         unsigned long micro_step)
{
    static float got[MAX_ELEMS];
    for (size_t p = 0; p < r->param_count; p++)
        if (zo_engine_get_master(e, p, got + r->offset[p]) != ZO_OK)
            fail("zo_engine_get_master", micro_step, zo_last_error());
    if (memcmp(got, ref->master, r->elems * sizeof(float)) != 0)
        fail("master weights differ from cpu_adam's", micro_step, NULL);
}

static void run_round(zo_test_rng *rng, unsigned long micro_steps, size_t threads, zo_adam *adam,
                      soak_counts *counts)
{
    static soak_reference ref;
    soak_round r = random_round(rng, threads);
    zo_engine *e = create_engine(&r, rng);
    memset(&ref, 0, sizeof ref);
    for (size_t i = 0; i < r.elems; i++)
        ref.master[i] = ref.device[i] = zo_test_uniform(rng, -1.0f, 1.0f);
    for (size_t p = 0; p < r.param_count; p++)
        if (zo_engine_set_master(e, p, ref.master + r.offset[p]) != ZO_OK)
            fail("zo_engine_set_master", counts->micro_steps, zo_last_error());

    for (unsigned long m = 0; m < micro_steps; m++, counts->micro_steps++) {
        unsigned long at = counts->micro_steps;
        int micro_in_window = (int)(m % (unsigned long)r.accumulation);
        forward(e, &r, &ref, rng, at);
        counts->injected += backward(e, &r, &ref, rng, at);
        float loss_scale = zo_engine_loss_scale(e);
        bool stepped = reference_micro_step(&ref, &r, adam, micro_in_window, loss_scale, at);
        zo_step_info info;
        if (zo_engine_step(e, &info) != ZO_OK)
            fail("zo_engine_step", at, zo_last_error());
        bool boundary = micro_in_window + 1 == r.accumulation;
        if (info.boundary != boundary || (boundary && info.skipped == stepped))
            fail("the engine's step decision differs from the reference's", at, NULL);
        if (info.skipped && info.loss_scale > loss_scale)
            fail("an overflow raised the loss scale", at, NULL);
        counts->updates += stepped;
        counts->skipped += boundary && !stepped;
        reference_device_after_step(&ref, &r, stepped);
        /* reading the master waits for the worker: one micro-step in three, so that
         * the others overlap the update with the next forward and backward */
        if (below(rng, 3) == 0 || m + 1 == micro_steps)
            check_master(e, &r, &ref, at);
    }
    zo_engine_destroy(&e);
    counts->rounds++;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"steps", "seed", "threads", "nvme"};
    unsigned long options[] = {2000, 1, 0, 0}; /* as named */
    if (!zo_read_plain_options(argc, argv, names, options, 4,
                               "soak_engine [--steps N] [--seed S] [--threads T] [--nvme 1]"))
        return 2;
    unsigned long steps = options[0], seed = options[1], threads = options[2];
    if (options[3]) {
        snprintf(nvme_dir, sizeof nvme_dir, "/tmp/zo-soak-nvme-XXXXXX");
        if (!mkdtemp(nvme_dir))
            fail("mkdtemp", 0, nvme_dir);
    }
    zo_test_rng rng = {0x9E3779B97F4A7C15ULL ^ seed};
    zo_adam *adam = NULL;
    zo_adam_settings settings;
    zo_adam_default_settings(&settings);
    settings.num_threads = 1;
    if (zo_adam_create(&settings, &adam) != ZO_OK)
        fail("zo_adam_create", 0, zo_last_error());
    soak_counts counts = {0};
    while (counts.micro_steps < steps)
        run_round(&rng, 20 + below(&rng, 100), threads, adam, &counts);
    zo_adam_destroy(&adam);
    if (nvme_dir[0])
        rmdir(nvme_dir); /* empty: each engine's file is unlinked when it is made */
    printf("soak_engine%s: seed %lu: %lu micro-steps in %lu rounds (%lu updates, %lu skipped, %lu "
           "inf/NaN "
           "injected): master and device weights equal to cpu_adam's throughout\n",
           nvme_dir[0] ? " (optimizer state on NVMe)" : "", seed, counts.micro_steps, counts.rounds, counts.updates, counts.skipped,
           counts.injected);
    return 0;
}
