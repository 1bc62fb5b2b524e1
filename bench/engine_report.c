/* What the engine benchmark's timings mean: the phases' sum and maximum, the overlap
 * ratios, and the bound the pipeline's dependencies set without a delayed update. */
#include "engine_report.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_fail.h"
#include "engine_config.h"
#include "median.h"
#include "param_count.h"
#include "report.h"
#include "zo/byte_size.h"

/* step / max(phases) at or below this is the overlap the engine aims for */
static const double bench_overlap_goal = 1.15;
/* stage 3: the loop's stall waiting for fetched weights, as a fraction of the step,
 * once prefetch follows the recorded order and the compute outlasts the copies */
static const double bench_stall_goal = 0.10;

typedef struct bench_engine_figures {
    double phase_sum, phase_max;
    const char *longest_phase;
    double step_over_max; /* overlap efficiency: 1.0 is perfect overlap */
    double step_over_sum; /* 1.0 is no overlap at all                   */
    /* The update of step t needs all of step t's gradients (the overflow check and the
     * global norm come first), and the backward of step t+1 needs every updated weight
     * through the forward: without a delayed update the update can hide only behind
     * the forward, so no schedule beats max(forward, Adam step) + backward. */
    double dependency_bound;
    double step_over_bound;
} bench_engine_figures;

static bench_engine_figures bench_engine_figures_of(const bench_engine_result *r)
{
    bench_engine_figures f = {0};
    const struct {
        const char *name;
        double seconds;
    } phases[] = {{"compute", r->compute.total},
                  {"copies", r->copies.both},
                  {"host update", r->update.total}};
    for (size_t k = 0; k < sizeof phases / sizeof phases[0]; k++) {
        f.phase_sum += phases[k].seconds;
        if (phases[k].seconds > f.phase_max) {
            f.phase_max = phases[k].seconds;
            f.longest_phase = phases[k].name;
        }
    }
    f.step_over_max = r->step_seconds / f.phase_max;
    f.step_over_sum = r->step_seconds / f.phase_sum;
    double overlappable = r->compute.forward > r->update.adam ? r->compute.forward : r->update.adam;
    f.dependency_bound = overlappable + r->compute.backward;
    f.step_over_bound = r->step_seconds / f.dependency_bound;
    return f;
}

static const char *bench_dtype_label(zo_dtype dtype)
{
    return dtype == ZO_DTYPE_F16 ? "fp16" : dtype == ZO_DTYPE_BF16 ? "bf16" : "fp32";
}

void report_print_engine_rank_line(const bench_engine_result *r)
{
    char state[32];
    zo_format_byte_size(r->host_state_bytes, state, sizeof state);
    printf("zo-bench engine: rank %zu of %zu: step %.2f ms, host update alone %.2f ms, host state %s\n", r->rank,
           r->ranks, 1e3 * r->step_seconds, 1e3 * r->update.total, state);
    fflush(stdout);
}

static double report_worst(const double *values, int count)
{
    double worst = 0.0;
    for (int k = 0; k < count; k++)
        worst = values[k] > worst ? values[k] : worst;
    return worst;
}

/* The stall as a fraction of each step: its median and worst, and every step's. With
 * stage 3, split into the wait for the last update (stage 1/2's wait_params has it
 * too) and the wait for copies up, which prefetch is there to hide: the goal's. */
static void report_print_stall(const bench_engine_result *r)
{
    int steps = r->options.steps;
    double worst = report_worst(r->stall_fractions, steps);
    if (!r->streams_weights) {
        printf("  stall / step: median %.1f%%, worst %.1f%%\n    per step:", 100 * r->stall_fraction, 100 * worst);
        for (int k = 0; k < steps; k++)
            printf(" %.1f%%", 100 * r->stall_fractions[k]);
        printf("\n");
        return;
    }
    double *copies = malloc((size_t)steps * sizeof *copies);
    if (!copies)
        return;
    for (int k = 0; k < steps; k++)
        copies[k] = r->stall_fractions[k] - r->update_wait_fractions[k];
    double copies_worst = report_worst(copies, steps);
    printf("  stall / step: median %.1f%%, worst %.1f%%, of which\n", 100 * r->stall_fraction, 100 * worst);
    printf("    waiting for the last update:      median %.1f%%, worst %.1f%% (wait_params of stages 1/2 too)\n",
           100 * bench_median(r->update_wait_fractions, (size_t)steps),
           100 * report_worst(r->update_wait_fractions, steps));
    printf("    waiting for copies up:            median %.1f%%, worst %.1f%%; goal <= %.0f%%: %s\n",
           100 * bench_median(copies, (size_t)steps), 100 * copies_worst, 100 * bench_stall_goal,
           copies_worst <= bench_stall_goal ? "reached" : "NOT reached");
    printf("    per step (all / copies):");
    for (int k = 0; k < steps; k++)
        printf(" %.1f/%.1f%%", 100 * r->stall_fractions[k], 100 * copies[k]);
    printf("\n");
    free(copies);
}

/* What stage 3 fetched per timed step, against the compute and the device budget. */
static void report_print_stage3(const bench_engine_result *r)
{
    double steps = r->options.steps;
    char fetched[32], high[32], budget[32], weights[32], device[32];
    zo_format_byte_size((uint64_t)((double)r->bytes_fetched / steps), fetched, sizeof fetched);
    zo_format_byte_size(r->device_high_water, high, sizeof high);
    zo_format_byte_size(r->device_budget, budget, sizeof budget);
    zo_format_byte_size(r->copy_bytes, weights, sizeof weights);
    zo_format_byte_size(r->device_bytes, device, sizeof device);
    double fetches = (double)r->fetches / steps;
    printf("  ZeRO stage 3, per timed step (averages of %d):\n", r->options.steps);
    printf("    fetched           %s in %.1f copies up; prefetch hits %.1f (%.0f%% of the copies); "
           "reuses %.1f\n",
           fetched, fetches, (double)r->prefetch_hits / steps,
           r->fetches ? 100.0 * (double)r->prefetch_hits / (double)r->fetches : 0.0,
           (double)r->reuses / steps);
    printf("    recorded order    followed in %zu of %d steps\n", r->order_matched_steps,
           r->options.steps);
    printf("    copy vs compute   fetch copies %.2f ms (estimate: bytes / the weights-up copy's "
           "bandwidth alone)",
           1e3 * r->fetch_copy_seconds);
    if (r->fetch_busy_seconds >= 0.0)
        printf(", %.2f ms measured on the fetch stream in the drawn step", 1e3 * r->fetch_busy_seconds);
    printf("; compute %.2f ms\n", 1e3 * r->loop_compute_seconds);
    if (r->device_budget)
        printf("    device memory     high-water %s of the %s budget (%.0f%%; plan %s); the 16-bit "
               "weights are %s, %.1fx the budget\n",
               high, budget, 100.0 * (double)r->device_high_water / (double)r->device_budget, device,
               weights, (double)r->copy_bytes / (double)r->device_budget);
    else
        printf("    device memory     high-water %s (no zo.device_memory_budget; plan %s); the "
               "16-bit weights are %s\n",
               high, device, weights);
}

void report_print_engine(const bench_engine_result *r)
{
    const bench_engine_options *o = &r->options;
    bench_engine_figures f = bench_engine_figures_of(r);
    char params[32], copy_bytes[32];
    bench_format_param_count(o->params, params, sizeof params);
    zo_format_byte_size(r->copy_bytes, copy_bytes, sizeof copy_bytes);
    printf("\nEngine pipeline: %s parameters in %zu layers, %s backend, %s weights and "
           "gradients, %zu buckets\n",
           params, o->layers, r->device_name, bench_dtype_label(r->dtype), r->bucket_count);
    if (r->ranks > 1)
        printf("  ZeRO over %zu ranks (this report: rank %zu); the host update and \"update alone\" cover\n"
               "  this rank's shard\n", r->ranks, r->rank);
    printf("  config: %s%s%s; host update: %s kernels, %d threads\n",
           bench_engine_config_name(o->config_path),
           o->trace_path ? ", trace (of every step, probe and warm-up included) written to " : "",
           o->trace_path ? o->trace_path : "", zo_cpu_isa_name(r->machine.isa), r->machine.threads);
    printf("  placement: %s\n", r->placement);
    printf("  compute per layer: %.1f us (sleeps: forward 1/3, backward 2/3)%s\n",
           o->compute_us_per_layer,
           r->compute_matched_to_update ? ", chosen so the compute matches the host update" : "");
    printf("  phases alone: median of %d repeats; pipelined step: median of %d steps after %d "
           "warm-up\n\n",
           o->repeats, o->steps, o->warmup_steps);

    printf("  %-34s %10s\n", "", "[ms]");
    printf("  %-34s %10.2f   forward %.2f, backward %.2f\n", "compute alone (sleeps)",
           1e3 * r->compute.total, 1e3 * r->compute.forward, 1e3 * r->compute.backward);
    printf("  %-34s %10.2f   gradients down %.2f, weights up %.2f (%s each way)\n",
           "copies alone (1 thread each way)", 1e3 * r->copies.both, 1e3 * r->copies.gradients_down,
           1e3 * r->copies.weights_up, copy_bytes);
    printf("  %-34s %10.2f   grad stats %.2f, Adam step %.2f\n", "host update alone",
           1e3 * r->update.total, 1e3 * r->update.stats, 1e3 * r->update.adam);
    printf("  %-34s %10.2f\n", "sum of phases", 1e3 * f.phase_sum);
    printf("  %-34s %10.2f   (%s)\n", "max of phases", 1e3 * f.phase_max, f.longest_phase);
    printf("  %-34s %10.2f\n\n", "pipelined step", 1e3 * r->step_seconds);

    printf("  overlap efficiency, step / max     %10.3f   goal <= %.2f: %s\n", f.step_over_max,
           bench_overlap_goal, f.step_over_max <= bench_overlap_goal ? "reached" : "NOT reached");
    printf("  step / sum                         %10.3f   (1.0 = no overlap)\n", f.step_over_sum);
    printf("  bound without a delayed update:    %10.2f   ms = max(forward, Adam step) + "
           "backward;\n"
           "  step / bound                       %10.3f\n",
           1e3 * f.dependency_bound, f.step_over_bound);
    if (r->bucket_count == 1)
        printf("  one bucket: its update cannot overlap the forward at all (the bound above\n"
               "  assumes it can, bucket by bucket); lower reduce_bucket_size or add parameters\n");
    printf("  zo_step_info medians [ms]: wait %.2f, stats %.2f, update %.2f\n",
           1e3 * r->info_wait_seconds, 1e3 * r->info_stats_seconds, 1e3 * r->info_update_seconds);
    printf("  loop per step [ms]: compute (sleeps) %.2f, stall in zo_engine_fetch %.2f, in "
           "grad_ready %.2f (medians)\n",
           1e3 * r->loop_compute_seconds, 1e3 * r->fetch_seconds, 1e3 * r->grad_ready_seconds);
    report_print_stall(r);
    if (r->streams_weights)
        report_print_stage3(r);
    if (r->timeline_note[0])
        printf("  timeline: %s\n", r->timeline_note);
    printf("  skipped steps %zu of %d; loss scale %g\n", r->skipped_steps, o->steps,
           (double)r->loss_scale);
    fflush(stdout);
}

static json_t *bench_json_reals(const double *values, size_t count)
{
    json_t *array = json_array();
    for (size_t k = 0; array && k < count; k++)
        if (json_array_append_new(array, json_real(values[k])) != 0) {
            json_decref(array);
            array = NULL;
        }
    return array;
}

json_t *report_engine_json(const bench_engine_result *r)
{
    const bench_engine_options *o = &r->options;
    bench_engine_figures f = bench_engine_figures_of(r);
    json_t *phases = json_pack(
        "{s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:f, s:f, s:f}", "compute", r->compute.total,
        "forward", r->compute.forward, "backward", r->compute.backward, "copies", r->copies.both,
        "gradients_down", r->copies.gradients_down, "weights_up", r->copies.weights_up,
        "copy_bytes_each_way", (json_int_t)r->copy_bytes, "host_update", r->update.total,
        "grad_stats", r->update.stats, "adam_step", r->update.adam);
    json_t *step_info = json_pack("{s:f, s:f, s:f}", "wait", r->info_wait_seconds, "stats",
                                  r->info_stats_seconds, "update", r->info_update_seconds);
    json_t *loop = json_pack("{s:f, s:f, s:f, s:f, s:o, s:o}", "fetch", r->fetch_seconds, "grad_ready",
                             r->grad_ready_seconds, "compute", r->loop_compute_seconds,
                             "stall_fraction", r->stall_fraction, "stall_fraction_per_step",
                             bench_json_reals(r->stall_fractions, (size_t)o->steps),
                             "update_wait_fraction_per_step",
                             bench_json_reals(r->update_wait_fractions, (size_t)o->steps));
    json_t *samples = bench_json_reals(r->step_samples, (size_t)o->steps);
    json_t *stage3 = r->streams_weights
        ? json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}", "fetches",
                    (json_int_t)r->fetches, "prefetch_hits", (json_int_t)r->prefetch_hits, "reuses",
                    (json_int_t)r->reuses, "bytes_fetched", (json_int_t)r->bytes_fetched,
                    "order_matched_steps", (json_int_t)r->order_matched_steps,
                    "device_high_water_bytes", (json_int_t)r->device_high_water,
                    "device_memory_budget_bytes", (json_int_t)r->device_budget,
                    "device_plan_bytes", (json_int_t)r->device_bytes,
                    "fetch_copy_seconds_estimate", r->fetch_copy_seconds,
                    "fetch_busy_seconds_drawn_step", r->fetch_busy_seconds)
        : json_null();
    if (!phases || !step_info || !loop || !samples || !stage3) {
        json_decref(phases), json_decref(step_info), json_decref(loop), json_decref(samples);
        json_decref(stage3);
        return NULL;
    }
    /* "o" hands each sub-object's reference to the new one, even on failure */
    return json_pack(
        "{s:I, s:I, s:s, s:s, s:I, s:s, s:s?, s:s, s:i, s:f, s:b, s:i, s:i, s:i, s:o, s:f, s:f, "
        "s:s, s:f, s:f, s:f, s:f, s:f, s:o, s:o, s:I, s:f, s:o, s:I, s:I, s:I, s:s, s:o}",
        "params", (json_int_t)o->params, "layers", (json_int_t)o->layers, "dtype",
        zo_dtype_name(r->dtype), "device", r->device_name, "buckets", (json_int_t)r->bucket_count,
        "config", bench_engine_config_name(o->config_path), "trace", o->trace_path, "isa",
        zo_cpu_isa_name(r->machine.isa), "update_threads", r->machine.threads,
        "compute_us_per_layer", o->compute_us_per_layer, "compute_matched_to_update",
        r->compute_matched_to_update, "steps", o->steps, "warmup_steps", o->warmup_steps, "repeats",
        o->repeats, "phases_seconds", phases, "phase_sum_seconds", f.phase_sum, "phase_max_seconds",
        f.phase_max, "longest_phase", f.longest_phase, "step_seconds", r->step_seconds,
        "step_over_max", f.step_over_max, "step_over_sum", f.step_over_sum,
        "bound_without_delayed_update_seconds", f.dependency_bound, "step_over_bound",
        f.step_over_bound, "step_info_median_seconds", step_info, "loop_blocked_median_seconds",
        loop, "skipped_steps", (json_int_t)r->skipped_steps, "loss_scale", (double)r->loss_scale,
        "step_samples_seconds", samples, "ranks", (json_int_t)r->ranks, "rank", (json_int_t)r->rank,
        "host_state_bytes", (json_int_t)r->host_state_bytes, "placement", r->placement,
        "stage3", stage3);
}

int report_write_engine_json(const char *path, const bench_engine_result *result)
{
    json_t *root = json_object();
    /* json_object_set_new refuses a NULL value (a part that could not be built) */
    bool ok = root &&
              json_object_set_new(root, "machine", report_machine_json(&result->machine)) == 0 &&
              json_object_set_new(root, "engine", report_engine_json(result)) == 0;
    int status = -1;
    if (!ok)
        bench_fail("cannot build the JSON report (out of memory, or a non-finite timing)");
    else if (json_dump_file(root, path, JSON_INDENT(2)) != 0)
        bench_fail("cannot write the JSON report to %s", path);
    else
        status = 0;
    json_decref(root);
    return status;
}
