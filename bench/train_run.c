/* One timed run of the MLP loop for zo-bench train. */
#include "train_run.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_fail.h"
#include "mlp_loops.h"
#include "mlp_train.h"
#include "train_gpu.h"
#include "train_trace.h"
#include "zo/zo.h"

/* What the step hook keeps between steps. */
typedef struct bench_train_hook_state {
    const bench_train_run_spec *spec;
    const char *trace_path;
    bench_trace_busy warmup_busy; /* the trace's busy times when timing began */
    double timed_started;         /* mlp_seconds() then                       */
    bool trace_failed;
    bool sample_device; /* CUDA: cudaMemGetInfo after every step    */
    uint64_t device_baseline, device_peak;
    uint64_t device_high_water; /* zo_engine_device_high_water at the last step */
} bench_train_hook_state;

static void bench_train_hook(void *user, zo_engine *engine, const mlp_log *log)
{
    bench_train_hook_state *state = user;
    state->device_high_water = zo_engine_device_high_water(engine);
    if (state->sample_device) {
        uint64_t used = 0, free_bytes = 0;
        char reason[256];
        if (bench_gpu_memory(&used, &free_bytes, reason, sizeof reason) == 0 &&
            used > state->device_peak)
            state->device_peak = used;
    }
    if (log->steps != state->spec->warmup_steps)
        return;
    /* the warm-up ends: what the streams did so far is not timed */
    if (zo_engine_write_trace(engine) != ZO_OK ||
        bench_trace_read_busy(state->trace_path, &state->warmup_busy) < 0)
        state->trace_failed = true;
    state->timed_started = mlp_seconds();
}

char *bench_train_config_text(const char *config_path, const char *device,
                              const char *offload_device, const char *trace_path)
{
    json_error_t error;
    json_t *root = json_load_file(config_path, JSON_REJECT_DUPLICATES, &error);
    char *text = NULL;
    if (!json_is_object(root)) {
        bench_fail("%s: %s", config_path, root ? "not a JSON object" : error.text);
        goto done;
    }
    json_t *zo = json_object_get(root, "zo"), *zero = json_object_get(root, "zero_optimization");
    if (!zo)
        json_object_set_new(root, "zo", zo = json_object());
    if (!zero)
        json_object_set_new(root, "zero_optimization", zero = json_object());
    json_t *offload = json_is_object(zero) ? json_object_get(zero, "offload_optimizer") : NULL;
    if (!offload && json_is_object(zero))
        json_object_set_new(zero, "offload_optimizer", offload = json_object());
    if (!json_is_object(zo) || !json_is_object(zero) || !json_is_object(offload)) {
        bench_fail("%s: zo, zero_optimization and its offload_optimizer must be objects",
                   config_path);
        goto done;
    }
    json_object_del(zero, "cpu_offload"); /* offload_optimizer says it now */
    json_object_set_new(zo, "device", json_string(device));
    if (trace_path)
        json_object_set_new(zo, "trace", json_string(trace_path));
    json_object_set_new(offload, "device", json_string(offload_device));
    text = json_dumps(root, JSON_COMPACT);
    if (!text)
        bench_fail("out of memory for the config");
done:
    json_decref(root);
    return text;
}

/* Bytes of a device weight or gradient under this config (it parsed once already),
 * and its stage and device budget into the run. */
static size_t bench_train_dtype_bytes(const char *config_text, bench_train_run *out)
{
    zo_config *config = NULL;
    size_t bytes = 4;
    if (zo_config_from_string(config_text, &config) == ZO_OK) {
        const zo_settings *settings = zo_config_settings(config);
        bytes = settings->fp16_enabled || settings->bf16_enabled ? 2 : 4;
        out->stage3 = settings->stage == 3;
        out->device_budget = settings->device_memory_budget;
    }
    zo_config_destroy(&config);
    return bytes;
}

/* The figures of a finished run from its log and trace. */
static void bench_train_figures(const bench_train_hook_state *state, const mlp_log *log,
                                const bench_trace_busy *total_busy, bench_train_run *out)
{
    size_t warmup = state->spec->warmup_steps, timed = log->steps - warmup;
    double timed_seconds = log->started + log->seconds - state->timed_started;
    out->step_seconds = timed_seconds / (double)timed;
    out->samples_per_second =
        (double)log->samples / (double)log->steps * (double)timed / timed_seconds;
    double compute = 0.0;
    for (size_t step = warmup; step < log->steps; step++)
        compute += log->compute_seconds[step];
    out->compute_seconds = compute / (double)timed;
    out->d2h_seconds = (total_busy->d2h - state->warmup_busy.d2h) / (double)timed;
    out->update_seconds = (total_busy->update - state->warmup_busy.update) / (double)timed;
    out->h2d_seconds = (total_busy->h2d - state->warmup_busy.h2d) / (double)timed;
    double phases[] = {out->compute_seconds, out->d2h_seconds, out->update_seconds,
                       out->h2d_seconds};
    out->largest_phase_seconds = 0.0;
    for (size_t k = 0; k < sizeof phases / sizeof *phases; k++)
        if (phases[k] > out->largest_phase_seconds)
            out->largest_phase_seconds = phases[k];
    out->overlap_efficiency = out->step_seconds / out->largest_phase_seconds;
    out->first_loss = log->loss[0];
    out->final_loss = log->loss[log->steps - 1];
}

int bench_train_run_once(const bench_train_run_spec *spec, bench_train_run *out)
{
    *out = (bench_train_run){.spec = *spec, .params = mlp_total_elems(spec->shape)};
    char trace_path[] = "/tmp/zo-bench-train-trace-XXXXXX";
    int trace_fd = mkstemp(trace_path);
    if (trace_fd < 0)
        return bench_fail("cannot make a temporary file for the engine's trace");
    close(trace_fd);
    char *config_text =
        bench_train_config_text(spec->config_path, spec->device, spec->offload, trace_path);
    mlp_log log = {0};
    bench_train_hook_state state = {.spec = spec, .trace_path = trace_path};
    bool on_cuda = strcmp(spec->device, "cuda") == 0;
    int result = -1;
    if (!config_text)
        goto done;
    if (!mlp_log_init(&log, spec->warmup_steps + spec->timed_steps)) {
        bench_fail("out of memory for the run's log");
        goto done;
    }
    uint64_t free_bytes = 0;
    if (on_cuda)
        state.sample_device =
            bench_gpu_memory(&state.device_baseline, &free_bytes, out->device_peak_note,
                             sizeof out->device_peak_note) == 0;
    else
        snprintf(out->device_peak_note, sizeof out->device_peak_note,
                 "host backend: no device memory");
    log.hook = bench_train_hook;
    log.hook_user = &state;
    mlp_options options = {.shape = spec->shape,
                           .batch = spec->batch,
                           .steps = spec->warmup_steps + spec->timed_steps,
                           .print_every = (size_t)1 << 40,
                           .config_text = config_text,
                           .quiet = true,
                           .seed = 1};
    int trained = on_cuda ? mlp_train_cuda(&options, &log) : mlp_train_host(&options, 0, &log);
    result = 0;
    if (trained != 0 || log.steps != options.steps) {
        snprintf(out->failure, sizeof out->failure, "the %s loop stopped: %s", spec->device,
                 zo_last_error());
        goto done;
    }
    bench_trace_busy total_busy; /* the engine wrote the whole trace when it closed */
    if (state.trace_failed || bench_trace_read_busy(trace_path, &total_busy) < 0) {
        snprintf(out->failure, sizeof out->failure, "the engine's trace could not be read");
        goto done;
    }
    bench_train_figures(&state, &log, &total_busy, out);
    out->bytes_each_way = (uint64_t)out->params * bench_train_dtype_bytes(config_text, out);
    out->device_high_water = state.device_high_water;
    out->micro_steps = log.micro_steps, out->fetches = log.fetches, out->prefetch_hits = log.prefetch_hits;
    out->reuses = log.reuses, out->bytes_fetched = log.bytes_fetched, out->order_mismatches = log.order_mismatches;
    out->has_device_peak = state.sample_device;
    if (state.sample_device)
        out->device_peak_bytes = state.device_peak > state.device_baseline
                                     ? state.device_peak - state.device_baseline
                                     : 0;
    out->ran = true;
done:
    mlp_log_free(&log);
    free(config_text);
    unlink(trace_path);
    return result;
}
