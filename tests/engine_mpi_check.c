/* The engine sharded over real ranks, under `mpirun -np N`: every rank trains its part
 * of each global batch, and the master weights must follow a one-rank engine that sees
 * the whole batch as N micro-steps of gradient accumulation (DeepSpeed's definition of
 * the same global batch). Also: host memory per rank, an overflow on one rank, ranks
 * that call grad_ready in different orders, and a create that fails on one rank only.
 * A plain program, not Criterion: Criterion forks each test, which MPI does not allow. */
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_check_support.h"
#include "zo/zo.h"

const char check_name[] = "engine_mpi_check";
static int world = 0;

/* Sizes that straddle buckets and leave padding at every rank count. */
static const zo_param_desc model[] = {{"embed", 3000}, {"w1", 1237}, {"b1", 17}, {"w2", 5000}, {"head", 901}};
enum { PARAMS = sizeof model / sizeof model[0], STEPS = 8 };

static zo_engine *engine_for(const char *json, bool expect_ok)
{
    zo_config *config = NULL;
    check_ok(zo_config_from_string(json, &config), "config");
    zo_engine *engine = NULL;
    zo_status status = zo_engine_create(config, model, PARAMS, &engine);
    zo_config_destroy(&config);
    if (expect_ok)
        check_ok(status, "zo_engine_create");
    return engine;
}

/* A number in [-0.5, 0.5) from a hash of its arguments. */
static double hashed(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t h = (a * 1000003u + b * 7919u + c * 104729u + d) * 0x9E3779B97F4A7C15ull;
    return (double)(h >> 40) / (double)(1ull << 24) - 0.5;
}

/* A gradient element: a per-step value of magnitude 0.002..0.01, different for each
 * micro-batch by up to +-40%. The micro-batches never cancel out: Adam's first steps
 * move a weight by about lr * sign(g), so a sum near zero would turn a rounding
 * difference (f16/bf16 sums rounded once per reduction) into a full step. */
static float gradient_value(size_t step, size_t micro, size_t param, size_t i)
{
    double base = hashed(step, 0, param, i);
    base = (base < 0 ? -0.002 : 0.002) + 0.016 * base;
    return (float)(base * (1.0 + 0.8 * hashed(step, micro + 1, param, i)));
}

static void write_gradient(zo_engine *e, size_t param, size_t step, size_t micro, float overflow)
{
    void *grad = zo_engine_grads(e, param);
    for (size_t i = 0; i < model[param].elems; i++) {
        float value = i == 5 && overflow != 0.0f ? overflow : gradient_value(step, micro, param, i);
        switch (zo_engine_dtype(e)) {
        case ZO_DTYPE_F16: ((uint16_t *)grad)[i] = zo_f32_to_f16(value); break;
        case ZO_DTYPE_BF16: ((uint16_t *)grad)[i] = zo_f32_to_bf16(value); break;
        default: ((float *)grad)[i] = value; break;
        }
    }
}

/* One micro-step: every gradient written and declared ready, forward order or
 * backward order, then zo_engine_step. `fetch_first`: every parameter is fetched in
 * forward order first, as stage 3 over several ranks needs (its fetches gather the
 * weights from every rank: all ranks fetch in the same order), and only the
 * gradients come in the rank's order. */
static zo_step_info micro_step(zo_engine *e, size_t step, size_t micro, bool reverse, float overflow,
                               bool fetch_first)
{
    for (size_t k = 0; fetch_first && k < PARAMS; k++)
        check_ok(zo_engine_fetch(e, k, NULL), "fetch");
    for (size_t k = 0; k < PARAMS; k++) {
        size_t param = reverse ? PARAMS - 1 - k : k;
        if (!fetch_first)
            check_ok(zo_engine_fetch(e, param, NULL), "fetch"); /* stages 1/2: wait_params */
        write_gradient(e, param, step, micro, k == 0 ? overflow : 0.0f);
        check_ok(zo_engine_grad_ready(e, param, NULL), "grad_ready");
        check_ok(zo_engine_release(e, param, NULL), "release");
    }
    zo_step_info info;
    check_ok(zo_engine_step(e, &info), "zo_engine_step");
    return info;
}

static void set_initial_weights(zo_engine *e)
{
    for (size_t p = 0; p < PARAMS; p++) {
        float *values = malloc(model[p].elems * sizeof *values);
        for (size_t i = 0; i < model[p].elems; i++)
            values[i] = 0.02f * sinf((float)(p * 7 + i));
        check_ok(zo_engine_set_master(e, p, values), "set_master");
        free(values);
    }
}

/* The largest |a - b| over all master weights (get_master is collective on `sharded`). */
static double master_difference(zo_engine *sharded, zo_engine *reference)
{
    double worst = 0.0;
    for (size_t p = 0; p < PARAMS; p++) {
        float *a = malloc(model[p].elems * sizeof *a), *b = malloc(model[p].elems * sizeof *b);
        check_ok(zo_engine_get_master(sharded, p, a), "get_master (sharded)");
        check_ok(zo_engine_get_master(reference, p, b), "get_master (reference)");
        for (size_t i = 0; i < model[p].elems; i++) {
            double d = fabs((double)a[i] - (double)b[i]);
            if (!(d <= worst)) /* NaN counts too */
                worst = d;
        }
        free(a), free(b);
    }
    return worst;
}

/* Stage 3 over several ranks keeps 1/N of the 16-bit weights per rank and gathers a
 * parameter's at its fetch: what the loop gets must be the gathered master weights
 * rounded to 16 bits, bit for bit (the update writes exactly that rounding). */
static void check_fetched_weights(zo_engine *e, const char *name, size_t step)
{
    for (size_t p = 0; p < PARAMS; p++) {
        float *master = malloc(model[p].elems * sizeof *master);
        check_ok(zo_engine_get_master(e, p, master), "get_master");
        check_ok(zo_engine_fetch(e, p, NULL), "fetch (check)");
        const uint16_t *weights = zo_engine_weights(e, p);
        if (!weights)
            failf("%s: step %zu: no weights for fetched parameter %zu: %s", name, step, p, zo_last_error());
        for (size_t i = 0; i < model[p].elems; i++) {
            uint16_t expected = zo_engine_dtype(e) == ZO_DTYPE_F16 ? zo_f32_to_f16(master[i])
                                                                    : zo_f32_to_bf16(master[i]);
            if (weights[i] != expected)
                failf("%s: step %zu: fetched %s[%zu] is 0x%04x, the master weight %.9g rounds to 0x%04x", name,
                      step, model[p].name, i, weights[i], (double)master[i], expected);
        }
        check_ok(zo_engine_release(e, p, NULL), "release (check)");
        free(master);
    }
}

typedef struct trajectory_case {
    const char *name;
    const char *precision; /* a config fragment */
    int stage;
    size_t accumulation;   /* micro-steps per rank per step */
    bool delayed_update;
    double tolerance;      /* on |w_sharded - w_reference| after every step */
    const char *moments;   /* zo.moments_dtype; NULL: "f32" */
} trajectory_case;

/* Trains the same global batches sharded over the world and on one rank, comparing
 * the master weights after every step. Ranks alternate the grad_ready order. */
static void check_trajectory(const trajectory_case *c)
{
    char json[1024];
    const char *format =
        "{%s, \"gradient_clipping\": 1.0, \"gradient_accumulation_steps\": %zu,"
        " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 0.001, \"weight_decay\": 0.01}},"
        " \"zero_optimization\": {\"stage\": %d, \"reduce_bucket_size\": 1000,"
        "   \"offload_optimizer\": {\"device\": \"cpu\"}%s},"
        " \"zo\": {\"device\": \"host\", \"comm\": \"%s\", \"delayed_param_update\": %s, \"threads\": 1,"
        " \"moments_dtype\": \"%s\"}}";
    const char *moments = c->moments ? c->moments : "f32";
    /* stage 3: the small b1 stays on the device, the others stream */
    const char *stage3 = c->stage == 3 ? ", \"offload_param\": {\"device\": \"cpu\"},"
                                         " \"stage3_param_persistence_threshold\": 100" : "";
    snprintf(json, sizeof json, format, c->precision, c->accumulation, c->stage, stage3, "mpi",
             c->delayed_update ? "true" : "false", moments);
    zo_engine *sharded = engine_for(json, true);
    snprintf(json, sizeof json, format, c->precision, c->accumulation * (size_t)world, c->stage, stage3, "single",
             c->delayed_update ? "true" : "false", moments);
    zo_engine *reference = engine_for(json, true);
    if (zo_engine_ranks(sharded) != (size_t)world || zo_engine_rank(sharded) != (size_t)my_rank)
        failf("%s: rank %zu of %zu, expected %d of %d", c->name, zo_engine_rank(sharded),
              zo_engine_ranks(sharded), my_rank, world);
    set_initial_weights(sharded);
    set_initial_weights(reference);
    if (c->stage == 3) /* set_master writes each rank's pieces: gathered whole again */
        check_fetched_weights(sharded, c->name, 0);

    double worst = 0.0;
    for (size_t step = 0; step < STEPS; step++) {
        for (size_t m = 0; m < c->accumulation; m++) /* this rank's micro-batches */
            micro_step(sharded, step, m * (size_t)world + (size_t)my_rank, (my_rank + step) % 2 == 1, 0.0f,
                       c->stage == 3);
        for (size_t m = 0; m < c->accumulation; m++) /* the whole global batch, one rank */
            for (size_t r = 0; r < (size_t)world; r++)
                micro_step(reference, step, m * (size_t)world + r, false, 0.0f, false);
        check_ok(zo_engine_synchronize(sharded), "synchronize");
        double d = master_difference(sharded, reference);
        if (!(d <= c->tolerance))
            failf("%s: step %zu: master weights differ from one rank's by %.3g (tolerance %.3g)", c->name,
                  step + 1, d, c->tolerance);
        worst = d > worst ? d : worst;
        if (c->stage == 3)
            check_fetched_weights(sharded, c->name, step + 1);
    }
    if (my_rank == 0)
        printf("engine_mpi_check: %d ranks: %s: %d steps, largest difference from one rank %.3g (tolerance %.3g)\n",
               world, c->name, STEPS, worst, c->tolerance);
    zo_engine_destroy(&sharded);
    zo_engine_destroy(&reference);
}

static const char fp16_config[] = "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8}";

/* The same fp16 config (`format`: its precision, then its zo.comm) sharded over the
 * world and on one rank, and their memory plans. */
static void engines_to_compare(const char *format, zo_engine **sharded, zo_engine **single, zo_memory_plan *mine,
                               zo_memory_plan *whole)
{
    char json[768];
    snprintf(json, sizeof json, format, fp16_config, "mpi");
    *sharded = engine_for(json, true);
    snprintf(json, sizeof json, format, fp16_config, "single");
    *single = engine_for(json, true);
    check_ok(zo_engine_memory(*sharded, mine), "zo_engine_memory");
    check_ok(zo_engine_memory(*single, whole), "zo_engine_memory");
}

/* Host memory: each rank's shard of master weights and moments is 1/N of one rank's,
 * give or take the padding to whole blocks. */
static void check_memory_per_rank(void)
{
    const char *format = "{%s, \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 1000,"
                         " \"offload_optimizer\": {\"device\": \"cpu\"}}, \"zo\": {\"device\": \"host\", \"comm\": \"%s\"}}";
    zo_engine *sharded, *single;
    zo_memory_plan mine, whole;
    engines_to_compare(format, &sharded, &single, &mine, &whole);
    double ratio = (double)mine.host_bytes * world / (double)whole.host_bytes;
    /* padding: at most one 64-element block per rank per bucket, 12 bytes an element */
    double padding = (double)(zo_engine_bucket_count(sharded) * 64 * (size_t)world * 12) / (double)whole.host_bytes;
    if (ratio < 1.0 || ratio > 1.0 + padding)
        failf("host bytes per rank %llu, one rank %llu: ratio x N = %.4f, expected 1..%.4f",
              (unsigned long long)mine.host_bytes, (unsigned long long)whole.host_bytes, ratio, 1.0 + padding);
    if (my_rank == 0)
        printf("engine_mpi_check: %d ranks: host state per rank %llu bytes, one rank %llu bytes (x%.4f of 1/%d)\n",
               world, (unsigned long long)mine.host_bytes, (unsigned long long)whole.host_bytes, ratio, world);
    zo_engine_destroy(&sharded);
    zo_engine_destroy(&single);
}

/* Stage 3 over several ranks: a fetch of another parameter on one rank fails the step
 * on every rank, naming both, and the next micro-step trains. */
static void check_fetch_differing_between_ranks(zo_engine *e)
{
    check_ok(zo_engine_fetch(e, my_rank == 1 ? 3 : 0, NULL), "fetch (differing between ranks)");
    check_ok(zo_engine_release(e, my_rank == 1 ? 3 : 0, NULL), "release (differing between ranks)");
    for (size_t p = 0; p < PARAMS; p++) {
        check_ok(zo_engine_fetch(e, p, NULL), "fetch");
        write_gradient(e, p, 0, 0, 0.0f);
        check_ok(zo_engine_grad_ready(e, p, NULL), "grad_ready");
        check_ok(zo_engine_release(e, p, NULL), "release");
    }
    zo_step_info info;
    zo_status status = zo_engine_step(e, &info);
    if (status != ZO_ERR_INVALID_ARGUMENT || !strstr(zo_last_error(), "same fetch calls"))
        failf("stage 3: fetches differing between ranks: zo_engine_step gave %s (%s), expected "
              "ZO_ERR_INVALID_ARGUMENT naming the rule",
              zo_status_name(status), zo_last_error());
    if (my_rank == 0)
        printf("engine_mpi_check: %d ranks: stage 3 fetches differing between ranks refused: \"%s\"\n", world,
               zo_last_error());
    micro_step(e, 1, (size_t)my_rank, false, 0.0f, false); /* in the same order on every rank */
}

/* Stage 3: each rank keeps 1/N of the 16-bit weights in pinned memory (the gradients'
 * landing buffer stays whole), plus the host slots fetches gather into and the
 * persistent parameters' whole weights. */
static void check_stage3_weights_per_rank(void)
{
    const char *format = "{%s, \"zero_optimization\": {\"stage\": 3, \"reduce_bucket_size\": 1000,"
                         " \"stage3_max_live_parameters\": 6000, \"stage3_param_persistence_threshold\": 100,"
                         " \"offload_optimizer\": {\"device\": \"cpu\"}, \"offload_param\": {\"device\": \"cpu\"}},"
                         " \"zo\": {\"device\": \"host\", \"comm\": \"%s\"}}";
    zo_engine *sharded, *single;
    zo_memory_plan mine, whole;
    engines_to_compare(format, &sharded, &single, &mine, &whole);
    /* one rank: gradients + weights, 2 bytes each per element */
    double flat = (double)whole.pinned_bytes / 2.0;
    double gathers = (double)(mine.stage3_pool_bytes + mine.stage3_persistent_bytes / 2);
    double weights = (double)mine.pinned_bytes - flat - gathers; /* this rank's shard */
    double padding = (double)(zo_engine_bucket_count(sharded) * 64 * 2);
    if (mine.stage3_pool_bytes != 6016 * 2 || weights < flat / world || weights > flat / world + padding)
        failf("stage 3: pinned bytes per rank %llu (pool %llu), one rank %llu: the weights' shard is %.0f bytes, "
              "expected %.0f..%.0f",
              (unsigned long long)mine.pinned_bytes, (unsigned long long)mine.stage3_pool_bytes,
              (unsigned long long)whole.pinned_bytes, weights, flat / world, flat / world + padding);
    if (my_rank == 0)
        printf("engine_mpi_check: %d ranks: stage 3 pinned per rank %llu bytes (weights' shard %.0f of %.0f), one "
               "rank %llu\n",
               world, (unsigned long long)mine.pinned_bytes, weights, flat, (unsigned long long)whole.pinned_bytes);
    check_fetch_differing_between_ranks(sharded);
    zo_engine_destroy(&sharded);
    zo_engine_destroy(&single);
}

/* An inf in one rank's gradient skips the step on every rank, leaving the weights. */
static void check_overflow_on_one_rank(void)
{
    char json[512];
    snprintf(json, sizeof json,
             "{%s, \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 1000,"
             " \"offload_optimizer\": {\"device\": \"cpu\"}}, \"zo\": {\"device\": \"host\", \"comm\": \"mpi\"}}",
             "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8, \"hysteresis\": 1}");
    zo_engine *e = engine_for(json, true);
    set_initial_weights(e);
    micro_step(e, 0, (size_t)my_rank, false, 0.0f, false);
    float *before = malloc(model[0].elems * sizeof *before), *after = malloc(model[0].elems * sizeof *after);
    check_ok(zo_engine_get_master(e, 0, before), "get_master");
    float scale = zo_engine_loss_scale(e);
    zo_step_info info = micro_step(e, 1, (size_t)my_rank, false, my_rank == world - 1 ? INFINITY : 0.0f, false);
    check_ok(zo_engine_get_master(e, 0, after), "get_master");
    if (!info.skipped || !info.overflow || info.step != 1)
        failf("overflow on rank %d only: skipped %d overflow %d step %llu on this rank", world - 1, info.skipped,
              info.overflow, (unsigned long long)info.step);
    if (memcmp(before, after, model[0].elems * sizeof *before) != 0 || !(zo_engine_loss_scale(e) < scale))
        failf("a skipped step changed the weights or did not lower the loss scale");
    free(before), free(after);
    if (my_rank == 0)
        printf("engine_mpi_check: %d ranks: an inf on rank %d skipped the step on every rank\n", world, world - 1);
    zo_engine_destroy(&e);
}

/* A config only one rank gets wrong: every rank returns an error, none hangs. */
static void check_create_failing_on_one_rank(void)
{
    const char *format = "{\"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": %d,"
                         " \"offload_optimizer\": {\"device\": \"cpu\"}},"
                         " \"zo\": {\"device\": \"host\", \"comm\": \"mpi\", \"max_pinned_bytes\": %d}}";
    char json[512];
    /* rank 1 allows too little pinned memory: its memory plan refuses */
    snprintf(json, sizeof json, format, 1000, my_rank == 1 ? 4096 : 0);
    zo_config *config = NULL;
    check_ok(zo_config_from_string(json, &config), "config");
    zo_engine *engine = NULL;
    zo_status status = zo_engine_create(config, model, PARAMS, &engine);
    zo_config_destroy(&config);
    zo_status expected = my_rank == 1 ? ZO_ERR_OUT_OF_MEMORY : ZO_ERR_PEER;
    if (status != expected || engine)
        failf("create failing on rank 1: this rank got %s (%s), expected %s", zo_status_name(status),
              zo_last_error(), zo_status_name(expected));
    if (my_rank == 0)
        printf("engine_mpi_check: %d ranks: a create failing on rank 1 failed on all: \"%s\"\n", world,
               zo_last_error());

    /* a different bucket size on the last rank: the layouts differ, every rank says so */
    snprintf(json, sizeof json, format, my_rank == world - 1 ? 2000 : 1000, 0);
    check_ok(zo_config_from_string(json, &config), "config");
    status = zo_engine_create(config, model, PARAMS, &engine);
    zo_config_destroy(&config);
    if (status != ZO_ERR_CONFIG || engine || !strstr(zo_last_error(), "differ"))
        failf("layouts differing between ranks: got %s (%s), expected ZO_ERR_CONFIG", zo_status_name(status),
              zo_last_error());
    if (my_rank == 0)
        printf("engine_mpi_check: %d ranks: layouts differing between ranks refused on all: \"%s\"\n", world,
               zo_last_error());
}

int main(int argc, char **argv)
{
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (world < 2)
        failf("run me under mpirun -np 2 or more (got %d rank)", world);

    /* Tolerances, for weights that move up to lr * steps = 8e-3: fp32 sums differ from one
     * rank's only in the order of the additions; f16/bf16 gradients are summed over the
     * ranks in f32 and rounded back once to f16/bf16 (8 significant bits for bf16) where
     * one rank's accumulation keeps the sum in f32. */
    static const trajectory_case cases[] = {
        {"fp32, stage 2", "\"fp16\": {\"enabled\": false}", 2, 1, false, 1e-6, NULL},
        {"fp32, stage 1, accumulation 2", "\"fp16\": {\"enabled\": false}", 1, 2, false, 1e-6, NULL},
        {"fp32, stage 2, accumulation 2, delayed update", "\"fp16\": {\"enabled\": false}", 2, 2, true, 1e-6, NULL},
        {"fp16, stage 2", fp16_config, 2, 1, false, 1e-5, NULL},
        {"bf16, stage 2, delayed update", "\"bf16\": {\"enabled\": true}", 2, 1, true, 5e-5, NULL},
        {"bf16, stage 2, accumulation 3", "\"bf16\": {\"enabled\": true}", 2, 3, false, 5e-5, NULL},
        {"fp16, stage 3", fp16_config, 3, 1, false, 1e-5, NULL},
        {"bf16, stage 3, accumulation 2", "\"bf16\": {\"enabled\": true}", 3, 2, false, 5e-5, NULL},
        /* 8-bit moments: each rank's shard is whole blocks (buckets rounded to 256 per
         * rank), but the blocks group other elements than one rank's do where the
         * buckets differ (the last, or all with 3 ranks), with other scales and other
         * dithers: the stochastic rounding of m (up to one code, 6-12% of a moment)
         * then differs: the largest element's difference reaches 10% of the 8e-3 the
         * weights move (allowed: 25%); a wrong shard or block would be off by all of it */
        {"fp16, stage 2, 8-bit moments", fp16_config, 2, 1, false, 2e-3, "8bit"},
        {"fp32, stage 1, accumulation 2, 8-bit moments", "\"fp16\": {\"enabled\": false}", 1, 2, false, 2e-3,
         "8bit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_trajectory(&cases[i]);
    check_memory_per_rank();
    check_stage3_weights_per_rank();
    check_overflow_on_one_rank();
    check_create_failing_on_one_rank();

    printf("engine_mpi_check: rank %d ok\n", my_rank);
    MPI_Finalize();
    return 0;
}
