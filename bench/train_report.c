/* zo-bench train's table and JSON. GB = 1e9 bytes; memory in binary units. */
#include "train_report.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bench_fail.h"
#include "machine.h"
#include "report.h"
#include "zo/byte_size.h"
#include "zo/zo.h"

/* A figure that may be missing: its value, or why not. */
typedef struct bench_figure {
    bool known;
    double value;
    char missing[640]; /* "n/a (...)" */
} bench_figure;

static bench_figure bench_known(double value)
{
    return (bench_figure){.known = true, .value = value};
}

static bench_figure bench_missing(const char *reason)
{
    bench_figure figure = {0};
    snprintf(figure.missing, sizeof figure.missing, "%s", reason);
    return figure;
}

/* The GPU figure's reason when there was no GPU run. */
static bench_figure bench_no_gpu(const bench_train_report *report)
{
    char reason[300];
    snprintf(reason, sizeof reason, "n/a (%s)", report->gpu_missing);
    return bench_missing(reason);
}

static double bench_gbps(uint64_t bytes, double seconds) { return (double)bytes / seconds / 1e9; }

/* Achieved PCIe GB/s of a run, each way: bytes per step over the stream's busy time. */
static bench_figure bench_achieved(const bench_train_report *report, bool down)
{
    const bench_train_run *run = &report->offload;
    if (report->gpu_missing[0])
        return bench_no_gpu(report);
    return bench_known(bench_gbps(run->bytes_each_way, down ? run->d2h_seconds : run->h2d_seconds));
}

static bench_figure bench_peak(const bench_train_report *report, bool down)
{
    if (report->gpu_missing[0])
        return bench_no_gpu(report);
    if (!report->has_copy_peak)
        return bench_missing("n/a (the pinned copy could not be timed)");
    return bench_known(down ? report->copy_peak.d2h_gbps : report->copy_peak.h2d_gbps);
}

static bench_figure bench_device_peak(const bench_train_report *report, const bench_train_run *run,
                                      bool present)
{
    char reason[600];
    if (report->gpu_missing[0])
        return bench_no_gpu(report);
    if (!present || !run->ran) {
        snprintf(reason, sizeof reason, "n/a (%s)", present ? run->failure : "not run");
        return bench_missing(reason);
    }
    if (!run->has_device_peak) {
        snprintf(reason, sizeof reason, "n/a (%s)", run->device_peak_note);
        return bench_missing(reason);
    }
    return bench_known((double)run->device_peak_bytes);
}

/* GPU with offload over host-only samples/s. */
static bench_figure bench_speed_ratio(const bench_train_report *report)
{
    if (report->gpu_missing[0])
        return bench_no_gpu(report);
    if (!report->has_host_only || !report->host_only.ran) {
        char reason[600];
        snprintf(reason, sizeof reason, "n/a (host-only run: %s)",
                 report->has_host_only ? report->host_only.failure : report->host_only_note);
        return bench_missing(reason);
    }
    return bench_known(report->offload.samples_per_second / report->host_only.samples_per_second);
}

static void bench_print_figure(const char *label, const bench_figure *figure, const char *format,
                               double scale, const char *unit)
{
    printf("  %-34s ", label);
    if (figure->known) {
        printf(format, figure->value * scale);
        printf("%s\n", unit);
    } else {
        printf("%s\n", figure->missing);
    }
}

static json_t *bench_figure_json(const bench_figure *figure)
{
    return figure->known ? json_real(figure->value) : json_string(figure->missing);
}

static void bench_print_run(const char *title, const bench_train_run *run)
{
    printf("%s (%s backend, offload_optimizer.device \"%s\"):\n", title, run->spec.device,
           run->spec.offload);
    if (!run->ran) {
        printf("  n/a (%s)\n", run->failure);
        return;
    }
    printf("  %-34s %.1f samples/s, %.2f ms/step (%zu timed steps after %zu warm-up)\n",
           "throughput", run->samples_per_second, 1e3 * run->step_seconds, run->spec.timed_steps,
           run->spec.warmup_steps);
    printf("  %-34s compute %.2f | D2H %.2f | host update %.2f | H2D %.2f ms\n",
           "step split (per step)", 1e3 * run->compute_seconds, 1e3 * run->d2h_seconds,
           1e3 * run->update_seconds, 1e3 * run->h2d_seconds);
    printf("  %-34s %.2f (step %.2f ms / largest phase %.2f ms; 1 = perfect overlap)\n",
           "overlap efficiency", run->overlap_efficiency, 1e3 * run->step_seconds,
           1e3 * run->largest_phase_seconds);
    printf("  %-34s %.4f -> %.4f\n", "loss (first -> last step)", run->first_loss, run->final_loss);
    if (run->stage3) {
        char high[32], budget[32];
        zo_format_byte_size(run->device_high_water, high, sizeof high);
        zo_format_byte_size(run->device_budget, budget, sizeof budget);
        printf("  %-34s high-water %s of %s (zo_engine_device_high_water; 0 where the backend "
               "does not count)\n",
               "ZeRO stage 3: device memory", high,
               run->device_budget ? budget : "no zo.device_memory_budget");
        double micro = run->micro_steps ? (double)run->micro_steps : 1.0;
        char fetched[32];
        zo_format_byte_size((uint64_t)((double)run->bytes_fetched / micro), fetched, sizeof fetched);
        printf("  %-34s %.1f copies up per micro-step (%s), prefetch hits %.1f (%.0f%% of the copies), "
               "reuses %.1f; the recorded order left in %llu of %llu micro-steps\n",
               "ZeRO stage 3: fetches", (double)run->fetches / micro, fetched, (double)run->prefetch_hits / micro,
               run->fetches ? 100.0 * (double)run->prefetch_hits / (double)run->fetches : 0.0,
               (double)run->reuses / micro, (unsigned long long)run->order_mismatches,
               (unsigned long long)run->micro_steps);
    }
}

static void bench_print_max(const char *label, const bench_train_max *max)
{
    if (!max->known) {
        printf("  %-34s %s\n", label, max->reason);
        return;
    }
    printf("  %-34s %zu layers = %zu parameters (%.2fG)%s%s\n", label, max->layers, max->params,
           (double)max->params / 1e9, max->reason[0] ? "; " : "", max->reason);
}

void bench_train_print(const bench_train_report *report)
{
    const bench_train_run *run = &report->offload;
    mlp_shape shape = run->spec.shape;
    printf("zo-bench train: MLP %zu x Linear(%zu, %zu) = %zu parameters, batch %zu, config %s\n",
           shape.layers, shape.width, shape.width, run->params, run->spec.batch,
           report->config_path);
    bench_print_run("with offload", run);
    if (report->gpu_missing[0]) { /* one line for every GPU figure, not one each */
        printf("GPU figures (PCIe GB/s and pinned peak, peak GPU memory, the run without offload, "
               "GPU / "
               "host-only speed): n/a (%s)\n",
               report->gpu_missing);
    } else {
        bench_figure figures[] = {bench_achieved(report, true), bench_peak(report, true),
                                  bench_achieved(report, false), bench_peak(report, false)};
        bench_print_figure("PCIe D2H achieved (busy time)", &figures[0], "%.2f", 1.0, " GB/s");
        bench_print_figure("PCIe D2H pinned cudaMemcpyAsync", &figures[1], "%.2f", 1.0, " GB/s");
        bench_print_figure("PCIe H2D achieved (busy time)", &figures[2], "%.2f", 1.0, " GB/s");
        bench_print_figure("PCIe H2D pinned cudaMemcpyAsync", &figures[3], "%.2f", 1.0, " GB/s");
        bench_figure peak = bench_device_peak(report, run, true);
        bench_print_figure("peak GPU memory (cudaMemGetInfo)", &peak, "%.1f", 1.0 / (1 << 20),
                           " MiB");
        bench_print_run("without offload", &report->no_offload);
        bench_figure no_offload_peak =
            bench_device_peak(report, &report->no_offload, report->has_no_offload);
        bench_print_figure("peak GPU memory (cudaMemGetInfo)", &no_offload_peak, "%.1f",
                           1.0 / (1 << 20), " MiB");
    }
    if (report->has_host_only)
        bench_print_run("host only", &report->host_only);
    else
        printf("host only: %s\n", report->host_only_note);
    if (!report->gpu_missing[0]) {
        bench_figure ratio = bench_speed_ratio(report);
        bench_print_figure("GPU+offload / host-only samples/s", &ratio, "%.2f", 1.0, "x");
    }
    if (report->has_find_max) {
        const bench_train_max_report *max = &report->find_max;
        char free_text[32], host_text[32];
        zo_format_byte_size(max->device_free_bytes, free_text, sizeof free_text);
        zo_format_byte_size(max->host_available_bytes, host_text, sizeof host_text);
        printf("largest model of width %zu, batch %zu (memory plan; GPU free %s, host available "
               "%s):\n",
               max->width, max->batch, max->device_free_bytes ? free_text : "n/a", host_text);
        bench_print_max("with offload (GPU + host)", &max->offload);
        bench_print_max("without offload (GPU only)", &max->no_offload);
        bench_print_max("host only", &max->host_only);
    }
}

static json_t *bench_run_json(const bench_train_run *run)
{
    if (!run->ran)
        return json_pack("{s:s, s:s, s:b, s:s}", "device", run->spec.device, "offload",
                         run->spec.offload, "ran", 0, "failure", run->failure);
    return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
                     "s:I, s:f, s:f}",
                     "device", run->spec.device, "offload", run->spec.offload, "ran", 1, "params",
                     (json_int_t)run->params, "layers", (json_int_t)run->spec.shape.layers, "width",
                     (json_int_t)run->spec.shape.width, "timed_steps",
                     (json_int_t)run->spec.timed_steps, "samples_per_second",
                     run->samples_per_second, "step_seconds", run->step_seconds, "compute_seconds",
                     run->compute_seconds, "d2h_seconds", run->d2h_seconds, "update_seconds",
                     run->update_seconds, "h2d_seconds", run->h2d_seconds, "largest_phase_seconds",
                     run->largest_phase_seconds, "overlap_efficiency", run->overlap_efficiency,
                     "bytes_each_way", (json_int_t)run->bytes_each_way, "first_loss",
                     run->first_loss, "final_loss", run->final_loss);
}

static json_t *bench_max_json(const bench_train_max *max)
{
    if (!max->known)
        return json_string(max->reason);
    return json_pack("{s:I, s:I, s:s}", "layers", (json_int_t)max->layers, "params",
                     (json_int_t)max->params, "note", max->reason);
}

int bench_train_write_json(const char *path, const bench_train_report *report)
{
    bench_figure figures[] = {
        bench_achieved(report, true),
        bench_peak(report, true),
        bench_achieved(report, false),
        bench_peak(report, false),
        bench_device_peak(report, &report->offload, true),
        bench_device_peak(report, &report->no_offload, report->has_no_offload),
        bench_speed_ratio(report)};
    zo_adam *adam = NULL;
    bench_machine machine;
    if (zo_adam_create(NULL, &adam) != ZO_OK)
        return bench_fail("zo_adam_create: %s", zo_last_error());
    bench_machine_describe(adam, &machine);
    zo_adam_destroy(&adam);
    json_t *train = json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "config", report->config_path,
        "device", report->device, "offload", bench_run_json(&report->offload), "pcie_d2h_gbps",
        bench_figure_json(&figures[0]), "pcie_d2h_pinned_peak_gbps", bench_figure_json(&figures[1]),
        "pcie_h2d_gbps", bench_figure_json(&figures[2]), "pcie_h2d_pinned_peak_gbps",
        bench_figure_json(&figures[3]), "peak_gpu_bytes_offload", bench_figure_json(&figures[4]),
        "peak_gpu_bytes_no_offload", bench_figure_json(&figures[5]),
        "gpu_offload_over_host_only_speed", bench_figure_json(&figures[6]), "host_only",
        report->has_host_only ? bench_run_json(&report->host_only)
                              : json_string(report->host_only_note));
    if (train && report->has_no_offload)
        json_object_set_new(train, "no_offload", bench_run_json(&report->no_offload));
    if (train && report->has_find_max)
        json_object_set_new(train, "find_max",
                            json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "width",
                                      (json_int_t)report->find_max.width, "batch",
                                      (json_int_t)report->find_max.batch, "device_free_bytes",
                                      (json_int_t)report->find_max.device_free_bytes,
                                      "host_available_bytes",
                                      (json_int_t)report->find_max.host_available_bytes, "offload",
                                      bench_max_json(&report->find_max.offload), "no_offload",
                                      bench_max_json(&report->find_max.no_offload), "host_only",
                                      bench_max_json(&report->find_max.host_only)));
    json_t *root =
        train ? json_pack("{s:o, s:o}", "machine", report_machine_json(&machine), "train", train)
              : NULL;
    int result = root && json_dump_file(root, path, JSON_INDENT(2)) == 0
                     ? 0
                     : bench_fail("cannot write the JSON report to %s", path);
    json_decref(root);
    return result;
}
