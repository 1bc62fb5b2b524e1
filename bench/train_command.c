/* zo-bench train: picks the device, runs the loops, measures the GPU's own figures,
 * sizes the largest models, reports. */
#include "train_command.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"
#include "options.h"
#include "train_options.h"
#include "train_report.h"
#include "zo/zo.h"

/* The pinned peak is timed on the size of one step's gradients, kept between 64 MiB
 * (a copy long enough to reach full speed) and 1 GiB (a bounded pinned allocation). */
static size_t bench_copy_peak_bytes(uint64_t bytes_each_way)
{
    size_t low = (size_t)64 << 20, high = (size_t)1 << 30;
    return bytes_each_way < low ? low : bytes_each_way > high ? high : (size_t)bytes_each_way;
}

/* Where the main run trains; fills report->gpu_missing when no GPU figures will come.
 * -1 when --device cuda asks for a GPU that is not there. */
static int bench_train_pick_device(const bench_train_options *options, bench_train_report *report)
{
    int gpus = 0;
    char why[200] = "";
    if (zo_cuda_device_count(&gpus) != ZO_OK)
        snprintf(why, sizeof why, "%s", zo_last_error());
    else if (gpus == 0)
        snprintf(why, sizeof why, "no CUDA device");
    if (why[0] && options->device == BENCH_TRAIN_CUDA)
        return bench_fail("--device cuda: %s", why);
    if (why[0])
        snprintf(report->gpu_missing, sizeof report->gpu_missing, "no GPU: %s", why);
    else if (options->device == BENCH_TRAIN_HOST)
        snprintf(report->gpu_missing, sizeof report->gpu_missing,
                 "--device host: the GPU is not used");
    report->device = report->gpu_missing[0] ? "host" : "cuda";
    return 0;
}

/* The CUDA-only parts: the pinned peak, the run without offload, and the same model
 * on the host backend. */
static int bench_train_gpu_extras(const bench_train_options *options,
                                  const bench_train_run_spec *spec, bench_train_report *report)
{
    char reason[256];
    report->has_copy_peak =
        bench_gpu_measure_copy_peak(bench_copy_peak_bytes(report->offload.bytes_each_way),
                                    &report->copy_peak, reason, sizeof reason) == 0;
    if (!report->has_copy_peak)
        fprintf(stderr, "zo-bench: pinned copy peak: %s\n", reason);
    bench_train_run_spec without = *spec;
    without.offload = "none";
    report->has_no_offload = true;
    if (bench_train_run_once(&without, &report->no_offload) < 0)
        return -1;
    if (options->host_steps == 0) {
        snprintf(report->host_only_note, sizeof report->host_only_note, "n/a (--host-steps 0)");
        return 0;
    }
    bench_train_run_spec host = *spec;
    host.device = "host";
    host.warmup_steps = 1;
    host.timed_steps = options->host_steps;
    report->has_host_only = true;
    return bench_train_run_once(&host, &report->host_only);
}

/* A config that is not JSON, or that zo refuses, is the user's to fix (exit 2), found
 * before anything runs. */
static bool bench_train_config_is_usable(const char *config_path)
{
    char *text = bench_train_config_text(config_path, "host", "cpu", NULL);
    zo_config *config = NULL;
    bool usable = text && zo_config_from_string(text, &config) == ZO_OK;
    if (text && !usable)
        bench_fail("%s: %s", config_path, zo_last_error());
    zo_config_destroy(&config);
    free(text);
    return usable;
}

int bench_train_command(int argc, char **argv, int first)
{
    bench_train_options options;
    bench_train_report report = {0};
    int parsed = bench_train_parse_options(argc, argv, first, &options);
    if (parsed != 0)
        return bench_exit_status(parsed);
    if (!bench_train_config_is_usable(options.config_path) ||
        bench_train_pick_device(&options, &report) < 0)
        return BENCH_EXIT_USAGE;
    report.config_path = options.config_path;
    bench_train_run_spec spec = {.shape = bench_train_shape(options.params, options.width),
                                 .batch = options.batch,
                                 .warmup_steps = options.warmup_steps,
                                 .timed_steps = options.steps,
                                 .device = report.device,
                                 .offload = "cpu",
                                 .config_path = options.config_path};
    if (bench_train_run_once(&spec, &report.offload) < 0)
        return BENCH_EXIT_FAILED;
    if (!report.offload.ran) {
        bench_fail("%s", report.offload.failure);
        return BENCH_EXIT_FAILED;
    }
    if (strcmp(report.device, "cuda") == 0) {
        if (bench_train_gpu_extras(&options, &spec, &report) < 0)
            return BENCH_EXIT_FAILED;
    } else {
        /* on the host backend the device is the host: offload "none" is the same run */
        snprintf(report.host_only_note, sizeof report.host_only_note,
                 "the run above (the host backend is the host-only training)");
    }
    if (options.find_max) {
        report.has_find_max = true;
        if (bench_train_find_max(options.config_path, spec.shape.width, spec.batch,
                                 &report.find_max) < 0)
            return BENCH_EXIT_FAILED;
    }
    bench_train_print(&report);
    if (options.json_path && bench_train_write_json(options.json_path, &report) < 0)
        return BENCH_EXIT_FAILED;
    return BENCH_EXIT_OK;
}
