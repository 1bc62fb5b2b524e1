/* `zo-bench nvme`: one engine with its optimizer state on NVMe and one with it in host
 * RAM, the same model and gradients. For the NVMe one, the raw pass
 * (zo_engine_nvme_stream: every bucket's state read and written back through the
 * engine's own ring, no Adam) and the update of a step (zo_step_info.update_seconds:
 * the same reads and writes with Adam between them), each the median of --repeats, as
 * bytes of state moved per second and as a ratio; then the host-RAM update, timed the
 * same way. Public headers only. */
#include "nvme_command.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"
#include "median.h"
#include "options.h"
#include "synthetic_model.h"
#include "zo/byte_size.h"
#include "zo/zo.h"

enum { BENCH_NVME_MAX_REPEATS = 50 };

typedef struct bench_nvme_options {
    size_t params, layers, bucket;
    int repeats, buffer_count, queue_depth;
    size_t block_size;
    const char *dir;
    const char *moments; /* zo.moments_dtype */
} bench_nvme_options;

#define FIELD(name) offsetof(bench_nvme_options, name)

static const bench_option bench_nvme_options_table[] = {
    {"--params", BENCH_OPTION_COUNT, FIELD(params), .value_name = "N",
     .help = "total parameters, K/M/G suffixes (default 256M), in 16 layers"},
    {"--dir", BENCH_OPTION_STRING, FIELD(dir), .value_name = "DIR",
     .help = "offload_optimizer.nvme_path: the disk being measured (default /tmp)"},
    {"--bucket", BENCH_OPTION_COUNT, FIELD(bucket), .value_name = "N",
     .help = "zero_optimization.reduce_bucket_size in elements (default 16M)"},
    {"--buffer-count", BENCH_OPTION_INT, FIELD(buffer_count), 1, 64, .value_name = "B",
     .help = "offload_optimizer.buffer_count (default 4)"},
    {"--block-size", BENCH_OPTION_SIZE, FIELD(block_size), 4096, 1 << 30, .value_name = "BYTES",
     .help = "aio.block_size, a multiple of 4096 (default 1048576)"},
    {"--queue-depth", BENCH_OPTION_INT, FIELD(queue_depth), 1, 4096, .value_name = "Q",
     .help = "aio.queue_depth (default 8)"},
    {"--repeats", BENCH_OPTION_INT, FIELD(repeats), 1, BENCH_NVME_MAX_REPEATS, .value_name = "R",
     .help = "raw passes and steps timed; medians reported (default 5)"},
    {"--moments", BENCH_OPTION_STRING, FIELD(moments), .value_name = "DTYPE",
     .help = "zo.moments_dtype of both engines: f32, bf16 or 8bit (default f32)"},
    {0},
};

const bench_command bench_nvme_cli = {
    .name = "nvme",
    .usage = "  zo-bench nvme [OPTIONS]               the step on NVMe optimizer state against raw "
             "I/O\n",
    .heading =
        "nvme options (fp16, stage 2, AdamW on the host backend; offload_optimizer.device\n"
        "\"nvme\" against \"cpu\"; the state's file is unlinked at once and gone at the end):",
    .options = bench_nvme_options_table,
    .notes =
        "  GB/s count the state's file bytes read plus written per pass (each bucket's record:\n"
        "  master, exp_avg, exp_avg_sq, page-aligned: 12 bytes a parameter with f32 moments,\n"
        "  8 with bf16, 6 with 8bit); the host-RAM step is shown with the same bytes for\n"
        "  comparison. ratio: the step's rate over the raw pass's.\n",
};

static int bench_parse_nvme_options(int argc, char **argv, int first, bench_nvme_options *o)
{
    *o = (bench_nvme_options){.params = 256u << 20,
                              .layers = 16,
                              .bucket = 16u << 20,
                              .repeats = 5,
                              .buffer_count = 4,
                              .queue_depth = 8,
                              .block_size = 1 << 20,
                              .dir = "/tmp",
                              .moments = "f32"};
    if (bench_parse_options(&bench_nvme_cli, argc, argv, first, o) < 0)
        return -1;
    if (strcmp(o->moments, "f32") != 0 && strcmp(o->moments, "bf16") != 0 && strcmp(o->moments, "8bit") != 0)
        return bench_fail("nvme: --moments %s is not one of f32, bf16, 8bit", o->moments);
    if (o->block_size % 4096 != 0)
        return bench_fail("nvme: --block-size %zu is not a multiple of 4096", o->block_size);
    return o->params < o->layers ? bench_fail("nvme: --params must be at least %zu", o->layers) : 0;
}

static int bench_nvme_engine(const bench_nvme_options *o, const bench_model *model, bool nvme,
                             zo_engine **out)
{
    char json[2048], offload[1400];
    if (nvme)
        snprintf(offload, sizeof offload,
                 "\"device\": \"nvme\", \"nvme_path\": \"%s\", \"buffer_count\": %d, "
                 "\"fast_init\": true",
                 o->dir, o->buffer_count);
    else
        snprintf(offload, sizeof offload, "\"device\": \"cpu\"");
    snprintf(
        json, sizeof json,
        "{\"fp16\": {\"enabled\": true}, \"gradient_clipping\": 1.0,"
        " \"optimizer\": {\"type\": \"AdamW\", \"params\": {\"lr\": 1e-4, \"weight_decay\": 0.01}},"
        " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": %zu, "
        "\"offload_optimizer\": {%s}},"
        " \"aio\": {\"block_size\": %zu, \"queue_depth\": %d},"
        " \"zo\": {\"device\": \"host\", \"moments_dtype\": \"%s\"}}",
        o->bucket, offload, o->block_size, o->queue_depth, o->moments);
    zo_config *config = NULL;
    zo_status status = zo_config_from_string(json, &config);
    if (status == ZO_OK)
        status = zo_engine_create(config, model->params, model->layers, out);
    zo_config_destroy(&config);
    if (status != ZO_OK)
        bench_fail("zo_engine_create (%s): %s: %s", nvme ? "nvme" : "cpu", zo_status_name(status),
                   zo_last_error());
    return status == ZO_OK                                             ? 0
           : status == ZO_ERR_NOT_SUPPORTED || status == ZO_ERR_CONFIG ? BENCH_REFUSED
                                                                       : -1;
}

/* One micro-step with small gradients (a zeroed device gradient buffer is written
 * once: the update's cost does not depend on the values). */
static int bench_nvme_step(zo_engine *e, const bench_model *model, zo_step_info *info)
{
    for (size_t p = 0; p < model->layers; p++)
        BENCH_CHECK_ZO(zo_engine_wait_params(e, p, NULL));
    for (size_t p = model->layers; p-- > 0;)
        BENCH_CHECK_ZO(zo_engine_grad_ready(e, p, NULL));
    BENCH_CHECK_ZO(zo_engine_step(e, info));
    BENCH_CHECK_ZO(zo_engine_synchronize(e)); /* the update alone, not beside the next stats */
    return 0;
fail:
    return -1;
}

/* The median update time of `repeats` steps: each step reports the update before it,
 * so one more step than repeats runs. */
static int bench_nvme_update_seconds(zo_engine *e, const bench_model *model, int repeats,
                                     double *median)
{
    double samples[BENCH_NVME_MAX_REPEATS];
    zo_step_info info;
    for (int r = 0; r <= repeats; r++) {
        if (bench_nvme_step(e, model, &info) < 0)
            return -1;
        if (r > 0)
            samples[r - 1] = info.update_seconds;
    }
    *median = bench_median(samples, (size_t)repeats);
    return 0;
}

static int bench_nvme_raw_seconds(zo_engine *e, int repeats, uint64_t *bytes, double *median)
{
    double samples[BENCH_NVME_MAX_REPEATS];
    for (int r = 0; r < repeats; r++) {
        zo_status status = zo_engine_nvme_stream(e, bytes, &samples[r]);
        if (status != ZO_OK)
            return bench_fail("zo_engine_nvme_stream: %s: %s", zo_status_name(status),
                              zo_last_error());
    }
    *median = bench_median(samples, (size_t)repeats);
    return 0;
}

static void bench_nvme_line(const char *label, double seconds, uint64_t bytes, double raw_rate)
{
    double rate = (double)bytes / seconds;
    printf("  %-28s %8.3f s  %7.2f GB/s", label, seconds, rate / 1e9);
    if (raw_rate > 0)
        printf("  ratio %.2f of raw", rate / raw_rate);
    putchar('\n');
}

int bench_nvme_command(int argc, char **argv, int first)
{
    bench_nvme_options o;
    if (bench_parse_nvme_options(argc, argv, first, &o) < 0)
        return BENCH_EXIT_USAGE;
    bench_model model = {0};
    zo_engine *nvme = NULL, *cpu = NULL;
    int outcome = BENCH_FAILED;
    if (bench_model_create(&model, o.params, o.layers) < 0)
        goto done;
    int made = bench_nvme_engine(&o, &model, true, &nvme);
    if (made < 0) {
        outcome = made == BENCH_REFUSED ? BENCH_REFUSED : BENCH_FAILED;
        goto done;
    }
    zo_memory_plan plan;
    uint64_t raw_bytes = 0;
    double raw_s = 0, nvme_s = 0, cpu_s = 0;
    if (zo_engine_memory(nvme, &plan) != ZO_OK ||
        bench_nvme_raw_seconds(nvme, o.repeats, &raw_bytes, &raw_s) < 0 ||
        bench_nvme_update_seconds(nvme, &model, o.repeats, &nvme_s) < 0)
        goto done;
    char file[32], ring[32];
    printf("optimizer state on NVMe: %zu parameters, buckets of %zu, %s in %s, host %s "
           "(the ring: buffer_count %d; 8bit: + block scales),\n"
           "aio block_size %zu, queue_depth %d, moments %s; median of %d\n",
           o.params, o.bucket, zo_format_byte_size(plan.nvme_bytes, file, sizeof file), o.dir,
           zo_format_byte_size(plan.host_bytes, ring, sizeof ring), o.buffer_count, o.block_size,
           o.queue_depth, o.moments, o.repeats);
    if (zo_engine_notice(nvme)[0])
        printf("notice: %s\n", zo_engine_notice(nvme));
    zo_engine_destroy(&nvme); /* its file and ring go before the host-RAM engine's state */
    double raw_rate = (double)raw_bytes / raw_s;
    bench_nvme_line("raw read+write (no Adam)", raw_s, raw_bytes, 0);
    bench_nvme_line("step on NVMe state", nvme_s, raw_bytes, raw_rate);
    made = bench_nvme_engine(&o, &model, false, &cpu);
    if (made < 0 || bench_nvme_update_seconds(cpu, &model, o.repeats, &cpu_s) < 0)
        goto done;
    bench_nvme_line("step on host-RAM state", cpu_s, raw_bytes, raw_rate);
    outcome = BENCH_DONE;
done:
    zo_engine_destroy(&nvme);
    zo_engine_destroy(&cpu);
    bench_model_free(&model);
    return bench_exit_status(outcome);
}
