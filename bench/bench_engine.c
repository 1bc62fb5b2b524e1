/* The engine benchmark's order of work: config and model, the memory check, the
 * engine (created first, so a refused setting fails before minutes of measuring), one
 * probe step, the phases alone, then the pipelined steps. */
#include "bench_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "bench_fail.h"
#include "bind_variants.h"
#include "engine_config.h"
#include "engine_loop.h"
#include "median.h"
#include "options.h"
#include "synthetic_model.h"
#include "timeline_svg.h"
#include "zo/byte_size.h"
#include "zo/zo.h"

/* The backward of a layer costs about twice its forward (two matrix products, the
 * gradients of the input and of the weights, against one). */
static const double bench_forward_share = 1.0 / 3.0;

/* Refuses a model whose engine, plus the largest phase's own buffers, would not fit
 * the memory available now: past that the run would swap and time the disk. */
static int bench_engine_check_memory(const zo_config *config, const bench_model *model,
                                     const bench_engine_options *options)
{
    zo_memory_plan plan;
    zo_status status = zo_engine_plan(config, model->params, model->layers, 1, &plan);
    if (status != ZO_OK)
        return bench_fail("zo_engine_plan: %s: %s", zo_status_name(status), zo_last_error());
    if (!plan.fits)
        return bench_fail("%zu parameters do not fit: %s", options->params, plan.verdict);
    const zo_settings *settings = zo_config_settings(config);
    zo_dtype dtype = settings->fp16_enabled   ? ZO_DTYPE_F16
                     : settings->bf16_enabled ? ZO_DTYPE_BF16
                                              : ZO_DTYPE_F32;
    uint64_t engine_bytes =
        plan.host_bytes + plan.pinned_bytes + (plan.device_is_host ? plan.device_bytes : 0);
    uint64_t phase_bytes = bench_phases_bytes(settings, dtype, options->params);
    if (plan.host_available_bytes && engine_bytes + phase_bytes > plan.host_available_bytes) {
        char engine_text[32], phase_text[32], available_text[32];
        zo_format_byte_size(engine_bytes, engine_text, sizeof engine_text);
        zo_format_byte_size(phase_bytes, phase_text, sizeof phase_text);
        zo_format_byte_size(plan.host_available_bytes, available_text, sizeof available_text);
        return bench_fail("%zu parameters need %s for the engine and %s more for the phases "
                          "measured alone, but %s is available; choose fewer --params",
                          options->params, engine_text, phase_text, available_text);
    }
    return 0;
}

/* Says why zo_engine_create refused, and whether the input (2) or the run (1) is at
 * fault. */
static int bench_engine_create_failed(zo_status status, const bench_engine_options *options)
{
    if (status == ZO_ERR_NOT_SUPPORTED && options->trace_path)
        bench_fail("--trace %s: zo_engine_create refused the config: %s: %s\n"
                   "zo-bench: this build of the engine cannot write traces yet; run without "
                   "--trace",
                   options->trace_path, zo_status_name(status), zo_last_error());
    else
        bench_fail("zo_engine_create(%s): %s: %s", bench_engine_config_name(options->config_path),
                   zo_status_name(status), zo_last_error());
    return status == ZO_ERR_DEVICE || status == ZO_ERR_INTERNAL ? BENCH_FAILED : BENCH_REFUSED;
}

/* One step without compute: touches every buffer of the pipeline once, and checks that
 * each zo_engine_step is an optimizer step (the timed loop has no accumulation). */
static int bench_engine_probe_step(zo_engine *engine, size_t layers)
{
    bench_loop_sample probe;
    if (bench_loop_step(engine, layers, 0.0, 0.0, &probe, NULL) < 0)
        return BENCH_FAILED;
    if (!probe.info.boundary) {
        bench_fail("the config accumulates gradients over several micro-steps; the engine "
                   "benchmark times one optimizer step per iteration: set "
                   "gradient_accumulation_steps to 1 (and train_batch_size to match)");
        return BENCH_REFUSED;
    }
    zo_status status = zo_engine_synchronize(engine);
    if (status != ZO_OK) {
        bench_fail("zo_engine_synchronize: %s: %s", zo_status_name(status), zo_last_error());
        return BENCH_FAILED;
    }
    return BENCH_DONE;
}

/* The phases alone; picks the compute per layer first when it was not given. */
static int bench_engine_measure_phases(zo_adam *adam, const zo_settings *settings,
                                       bench_engine_result *r)
{
    bench_engine_options *o = &r->options;
    /* each rank updates its shard only */
    if (bench_measure_update_alone(adam, settings, r->dtype, o->params / r->ranks, o->repeats, &r->update) < 0)
        return -1;
    if (o->compute_us_per_layer == 0.0) {
        /* the balanced case: the GPU's work per step as long as the host's */
        o->compute_us_per_layer = 1e6 * r->update.total / (double)o->layers;
        r->compute_matched_to_update = true;
    }
    double layer_seconds = 1e-6 * o->compute_us_per_layer;
    if (bench_measure_compute_alone(o->layers, bench_forward_share * layer_seconds,
                                    (1.0 - bench_forward_share) * layer_seconds, o->repeats,
                                    &r->compute) < 0)
        return -1;
    return bench_measure_copies_alone(r->copy_bytes, o->repeats, &r->copies);
}

/* Adds a timed step's stage-3 figures to the sums. */
static void bench_engine_add_fetches(bench_engine_result *r, const zo_step_info *info)
{
    r->fetches += info->fetches;
    r->prefetch_hits += info->prefetch_hits;
    r->reuses += info->reuses;
    r->bytes_fetched += info->bytes_fetched;
    r->order_matched_steps += info->prefetch_order_matched;
}

/* Warm-up steps, then the timed ones (the last with its timeline when one is asked
 * for), then the medians. */
static int bench_engine_measure_pipeline(zo_engine *engine, bench_engine_result *r,
                                         bench_loop_timeline *timeline)
{
    const bench_engine_options *o = &r->options;
    size_t steps = (size_t)o->steps;
    double layer_seconds = 1e-6 * o->compute_us_per_layer;
    double forward = bench_forward_share * layer_seconds, backward = layer_seconds - forward;
    bench_loop_sample sample;
    for (int k = 0; k < o->warmup_steps; k++)
        if (bench_loop_step(engine, o->layers, forward, backward, &sample, NULL) < 0)
            return -1;

    r->step_samples = calloc(steps, sizeof *r->step_samples);
    r->stall_fractions = calloc(steps, sizeof *r->stall_fractions);
    r->update_wait_fractions = calloc(steps, sizeof *r->update_wait_fractions);
    double *series = calloc(6 * steps, sizeof *series); /* the other per-step figures */
    if (!r->step_samples || !r->stall_fractions || !r->update_wait_fractions || !series) {
        free(series);
        return bench_fail("cannot allocate the timing samples");
    }
    double *fetch = series, *grad_ready = series + steps, *info_wait = series + 2 * steps,
           *info_stats = series + 3 * steps, *info_update = series + 4 * steps,
           *compute = series + 5 * steps;
    int result = -1;
    for (size_t k = 0; k < steps; k++) {
        bench_loop_timeline *drawn = k + 1 == steps ? timeline : NULL;
        if (bench_loop_step(engine, o->layers, forward, backward, &sample, drawn) < 0)
            goto done;
        r->step_samples[k] = sample.step_seconds;
        r->stall_fractions[k] = sample.fetch_seconds / sample.step_seconds;
        r->update_wait_fractions[k] = sample.info.fetch_update_wait_seconds / sample.step_seconds;
        fetch[k] = sample.fetch_seconds;
        grad_ready[k] = sample.grad_ready_seconds;
        compute[k] = sample.compute_seconds;
        info_wait[k] = sample.info.wait_seconds;
        info_stats[k] = sample.info.stats_seconds;
        info_update[k] = sample.info.update_seconds;
        r->skipped_steps += sample.info.skipped;
        r->loss_scale = sample.info.loss_scale;
        bench_engine_add_fetches(r, &sample.info);
    }
    zo_status status = zo_engine_synchronize(engine);
    if (status != ZO_OK) {
        bench_fail("zo_engine_synchronize: %s: %s", zo_status_name(status), zo_last_error());
        goto done;
    }
    r->stall_fraction = bench_median(r->stall_fractions, steps);
    r->step_seconds = bench_median(r->step_samples, steps);
    r->fetch_seconds = bench_median(fetch, steps);
    r->grad_ready_seconds = bench_median(grad_ready, steps);
    r->loop_compute_seconds = bench_median(compute, steps);
    r->info_wait_seconds = bench_median(info_wait, steps);
    r->info_stats_seconds = bench_median(info_stats, steps);
    r->info_update_seconds = bench_median(info_update, steps);
    result = 0;
done:
    free(series);
    return result;
}

/* Linux lets a sleep overrun by the thread's timer slack, 50 us by default: more than
 * a tenth of a small layer's forward. The sleeps stand for compute of a known length,
 * so ask for the least slack (threads started later inherit it; they never sleep with
 * a timeout, so nothing else changes). */
static void bench_engine_tighten_sleeps(void)
{
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

int bench_engine_run(const bench_engine_options *options, bench_engine_result *r)
{
    *r = (bench_engine_result){.options = *options};
    const char *problem = bench_engine_options_check(options);
    if (problem) {
        bench_fail("engine: %s (--params %zu, --layers %zu)", problem, options->params,
                   options->layers);
        return BENCH_REFUSED;
    }
    bench_engine_tighten_sleeps();
    int outcome = BENCH_REFUSED;
    zo_config *config = NULL;
    zo_engine *engine = NULL;
    zo_adam *adam = NULL;
    bench_binding binding = {0};
    bench_model model = {0};
    bench_loop_timeline timeline = {0};
    /* the timeline reads the engine's trace: the user's, or one of its own */
    char own_trace[] = "/tmp/zo-bench-engine-trace-XXXXXX";
    const char *trace_path = options->trace_path;
    if (options->timeline_svg_path && !trace_path) {
        int fd = mkstemp(own_trace);
        if (fd < 0) {
            bench_fail("--timeline-svg: cannot make a temporary file for the engine's trace");
            goto done;
        }
        close(fd);
        trace_path = own_trace;
    }
    if (bench_engine_config_create(options->config_path, trace_path, &config) < 0)
        goto done;
    const zo_settings *settings = zo_config_settings(config);
    if (bench_model_create(&model, options->params, options->layers) < 0 ||
        bench_engine_check_memory(config, &model, options) < 0)
        goto done;
    zo_status status = zo_engine_create(config, model.params, model.layers, &engine);
    if (status != ZO_OK) {
        outcome = bench_engine_create_failed(status, options);
        goto done;
    }
    snprintf(r->device_name, sizeof r->device_name, "%s", zo_engine_device_name(engine));
    if (strcmp(r->device_name, "host") != 0) {
        /* a GPU's streams would need the loop to pass its cudaStream_t */
        bench_fail("the engine chose the %s backend; the engine benchmark drives the host "
                   "backend only: set zo.device to \"host\"",
                   r->device_name);
        goto done;
    }
    outcome = BENCH_FAILED;
    r->dtype = zo_engine_dtype(engine);
    r->bucket_count = zo_engine_bucket_count(engine);
    r->rank = zo_engine_rank(engine);
    r->ranks = zo_engine_ranks(engine);
    zo_memory_plan memory;
    if (zo_engine_memory(engine, &memory) == ZO_OK) {
        r->host_state_bytes = memory.host_bytes;
        r->device_bytes = memory.device_bytes;
    }
    r->streams_weights = bench_engine_streams_weights(engine);
    r->device_budget = settings->device_memory_budget;
    r->fetch_busy_seconds = -1.0;
    r->copy_bytes = options->params * zo_dtype_size(r->dtype);
    snprintf(r->placement, sizeof r->placement, "%s", zo_engine_placement(engine));
    /* the update alone runs with the engine's placement: its threads, on its CPUs */
    bench_plan engine_placement = {.threads = settings->threads, .bind_count = 1};
    engine_placement.binds[0].mode = settings->bind;
    snprintf(engine_placement.binds[0].cpus, sizeof engine_placement.binds[0].cpus, "%s",
             settings->bind_cpus);
    if (bench_binding_prepare(&binding, &engine_placement) < 0)
        goto done;
    zo_adam_settings adam_settings = {.isa = ZO_CPU_ISA_AUTO, .num_threads = settings->threads};
    bench_binding_apply(&binding, 0, &adam_settings);
    status = zo_adam_create(&adam_settings, &adam);
    if (status != ZO_OK) {
        bench_fail("zo_adam_create: %s: %s", zo_status_name(status), zo_last_error());
        goto done;
    }
    bench_machine_describe(adam, &r->machine);

    if (bench_loop_prepare(engine, &model, zo_adam_num_threads(adam)) < 0)
        goto done;
    if ((outcome = bench_engine_probe_step(engine, model.layers)) != BENCH_DONE)
        goto done;
    outcome = BENCH_FAILED;
    if (options->timeline_svg_path) {
        /* two spans per layer and direction */
        timeline.capacity = 4 * model.layers;
        if (!(timeline.spans = calloc(timeline.capacity, sizeof *timeline.spans))) {
            bench_fail("cannot allocate the timeline's spans");
            goto done;
        }
    }
    if (bench_engine_measure_phases(adam, settings, r) < 0 ||
        bench_engine_measure_pipeline(engine, r, options->timeline_svg_path ? &timeline : NULL) < 0)
        goto done;
    r->device_high_water = zo_engine_device_high_water(engine);
    if (r->copies.weights_up > 0.0) /* the bandwidth of the weights-up copy alone */
        r->fetch_copy_seconds = (double)r->bytes_fetched / (double)options->steps /
                                ((double)r->copy_bytes / r->copies.weights_up);
    /* written at destroy too, but only here can a failure to write be reported */
    if (trace_path && (status = zo_engine_write_trace(engine)) != ZO_OK) {
        bench_fail("zo_engine_write_trace(%s): %s: %s", trace_path, zo_status_name(status),
                   zo_last_error());
        goto done;
    }
    if (options->timeline_svg_path &&
        bench_timeline_svg_write(options->timeline_svg_path, trace_path, &timeline,
                                 &r->fetch_busy_seconds) < 0)
        goto done;
    if (options->timeline_svg_path)
        snprintf(r->timeline_note, sizeof r->timeline_note, "the last timed step drawn to %s",
                 options->timeline_svg_path);
    outcome = BENCH_DONE;
done:
    zo_engine_destroy(&engine);
    if (trace_path == own_trace)
        unlink(own_trace);
    free(timeline.spans);
    zo_adam_destroy(&adam);
    bench_binding_release(&binding);
    bench_model_free(&model);
    zo_config_destroy(&config);
    if (outcome != BENCH_DONE)
        bench_engine_result_release(r);
    return outcome;
}

void bench_engine_result_release(bench_engine_result *result)
{
    free(result->step_samples);
    free(result->stall_fractions);
    free(result->update_wait_fractions);
    result->step_samples = NULL;
    result->stall_fractions = NULL;
}
