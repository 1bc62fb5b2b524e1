/* The plan subcommand: options, zo_engine_plan on a synthetic model, and the plan in
 * readable units. The library does the arithmetic; this file only asks and prints. */
#include "memory_plan_command.h"

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench_fail.h"
#include "largest_model_command.h"
#include "options.h"
#include "param_count.h"
#include "synthetic_model.h"
#include "zo/byte_size.h"
#include "zo/zo.h"

/* Far beyond any cluster; stops a typo from asking for a billion ranks. */
enum { BENCH_MAX_RANKS = 1 << 20 };

typedef struct bench_memory_plan_options {
    size_t params; /* 0 until given: required without machines */
    size_t layers;
    int ranks;
    const char *config_path; /* required without machines */
    const char *json_path;   /* NULL: no JSON report */
    /* the largest-model mode: machines from --machines, and --gpu-memory with
     * --host-memory as one more */
    bench_machine_list machines;
    uint64_t gpu_bytes, host_bytes;
    size_t hidden;
} bench_memory_plan_options;

#define FIELD(name) offsetof(bench_memory_plan_options, name)

static int bench_parse_bytes(const char *option, const char *value, void *target)
{
    uint64_t *bytes = target;
    if (!zo_parse_byte_size(value, bytes) || *bytes == 0)
        return bench_fail("%s %s: not a byte size above 0 (e.g. 24GiB; GB = 10^9, GiB = 2^30)",
                          option, value);
    return 0;
}

static const bench_option bench_plan_options[] = {
    {"--params", BENCH_OPTION_COUNT, FIELD(params), .value_name = "N",
     .help = "total parameters, K/M/G suffixes as above (required)"},
    {"--config", BENCH_OPTION_STRING, FIELD(config_path), .value_name = "FILE",
     .help = "a stage config: a DeepSpeed ds_config.json, plus \"zo\" (required)"},
    {"--layers", BENCH_OPTION_SIZE, FIELD(layers), 1, LLONG_MAX, "must be at least 1",
     .value_name = "L", .help = "split the parameters into L equal layers (default 1)"},
    {"--ranks", BENCH_OPTION_INT, FIELD(ranks), 1, BENCH_MAX_RANKS, .value_name = "R",
     .help = "data-parallel ranks sharing the optimizer state (default 1)"},
    {"--json", BENCH_OPTION_STRING, FIELD(json_path), .value_name = "OUT",
     .help = "also write the plan (or the largest models) to OUT as JSON"},
    {"--machines", BENCH_OPTION_CALL, FIELD(machines), .parse = bench_parse_machines,
     .value_name = "LIST",
     .help = "the largest model that trains with ZeRO stage 2 and with stage 3 on\n"
             "each machine GPU+HOST, e.g. 24GiB+64GiB,80GiB+512GiB (instead of\n"
             "--params; --config optional: defaults with fp16 and the optimizer\n"
             "offloaded to the CPU)"},
    {"--gpu-memory", BENCH_OPTION_CALL, FIELD(gpu_bytes), .parse = bench_parse_bytes,
     .value_name = "BYTES",
     .help = "with --host-memory: one more machine for the largest-model mode"},
    {"--host-memory", BENCH_OPTION_CALL, FIELD(host_bytes), .parse = bench_parse_bytes,
     .value_name = "BYTES", .help = "with --gpu-memory"},
    {"--hidden", BENCH_OPTION_SIZE, FIELD(hidden), 64, 1 << 20, "must be between 64 and 1048576",
     .value_name = "H",
     .help = "the largest-model mode's transformer: hidden size H, blocks of\n"
             "12H^2 + 13H parameters (default 4096)"},
    {0},
};

const bench_command bench_plan_cli = {
    .name = "plan",
    .usage = "  zo-bench plan --params N --config FILE [OPTIONS]\n"
             "                                        the engine's memory plan; allocates nothing\n"
             "  zo-bench plan --machines 24GiB+64GiB,... [--config FILE] [--hidden H]\n"
             "                                        the largest model, ZeRO stage 2 vs 3\n",
    .heading = "plan options (zo_engine_plan on a model of N parameters; nothing is allocated):",
    .options = bench_plan_options,
    .notes = "  It prints device, pinned and pageable host bytes per rank, the host memory\n"
             "  available, the pinned limit and the engine's verdict: FITS or DOES NOT FIT (exit\n"
             "  status 0 either way). With --machines, per machine and for fp32 and bf16\n"
             "  moments, the largest transformer (whole blocks) whose plan fits the GPU and\n"
             "  host memory with stage 2 and with stage 3, and which limit binds.\n",
};

static int bench_parse_memory_plan_options(int argc, char **argv, int first,
                                           bench_memory_plan_options *options)
{
    *options = (bench_memory_plan_options){.layers = 1, .ranks = 1, .hidden = 4096};
    if (bench_parse_options(&bench_plan_cli, argc, argv, first, options) < 0)
        return -1;
    if (!options->gpu_bytes != !options->host_bytes)
        return bench_fail("plan needs --gpu-memory and --host-memory together");
    if (options->gpu_bytes) {
        if (options->machines.count == BENCH_MAX_MACHINES)
            return bench_fail("plan: at most %d machines", BENCH_MAX_MACHINES);
        options->machines.items[options->machines.count++] =
            (bench_machine){.gpu_bytes = options->gpu_bytes, .host_bytes = options->host_bytes};
    }
    if (options->machines.count > 0) {
        if (options->params || options->layers != 1 || options->ranks != 1)
            return bench_fail(
                "plan: --machines (or --gpu-memory) answers for its own models: no --params, "
                "--layers or --ranks with it");
        return 0;
    }
    if (options->params == 0 || !options->config_path)
        return bench_fail("plan needs --params N and --config FILE (see zo-bench --help)");
    return 0;
}

static const char *bench_weights_dtype_name(const zo_settings *settings)
{
    return settings->fp16_enabled ? "fp16" : settings->bf16_enabled ? "bf16" : "fp32";
}

/* One line of the table: the figure in binary units, then the exact byte count. */
static void bench_print_bytes_line(const char *label, uint64_t bytes, const char *what)
{
    char readable[32];
    zo_format_byte_size(bytes, readable, sizeof readable);
    printf("  %-24s %12s  %15llu B  %s\n", label, readable, (unsigned long long)bytes, what);
}

/* The DeepSpeed keys zo accepts without using: listed so nobody thinks they act. */
static void bench_print_ignored_keys(const zo_config *config)
{
    size_t count = zo_config_ignored_count(config);
    if (count == 0)
        return;
    printf("  ignored DeepSpeed keys (%zu):", count);
    for (size_t k = 0; k < count; k++)
        printf("%s %s", k ? "," : "", zo_config_ignored_key(config, k));
    putchar('\n');
}

static void bench_print_memory_plan(const bench_memory_plan_options *options,
                                    const zo_config *config, const zo_memory_plan *plan)
{
    const zo_settings *s = zo_config_settings(config);
    char params[32];
    bench_format_param_count(options->params, params, sizeof params);
    printf("zo-bench plan: %s parameters (%zu) in %zu layer%s, %d rank%s; nothing allocated\n",
           params, options->params, options->layers, options->layers == 1 ? "" : "s",
           options->ranks, options->ranks == 1 ? "" : "s");
    printf("config %s: ZeRO stage %d, %s weights and gradients, %s moments, "
           "offload_optimizer %s, staging %s\n",
           options->config_path, s->stage, bench_weights_dtype_name(s),
           s->moments_dtype == ZO_DTYPE_BF16 ? "bf16" : s->moments_dtype == ZO_DTYPE_Q8 ? "8-bit" : "fp32",
           s->nvme.enabled ? "nvme" : s->offload_optimizer ? "cpu" : "not set",
           s->pin_memory ? "pinned" : "pageable");
    bench_print_ignored_keys(config);
    printf("\n  %-24s %llu elements (alignment padding included)\n", "flat parameter space",
           (unsigned long long)plan->param_elems);
    bench_print_bytes_line("device, per rank", plan->device_bytes,
                           plan->device_is_host
                               ? "weights + gradients (host memory: the host backend)"
                               : "weights + gradients (GPU memory)");
    bench_print_bytes_line("pinned host, per rank", plan->pinned_bytes,
                           "staging: gradients down, weights up");
    bench_print_bytes_line("host pageable, per rank", plan->host_bytes,
                           s->nvme.enabled ? "the NVMe state's ring (buffer_count x a bucket's "
                                             "state), + fp32 gradient sums when accumulating"
                                           : "fp32 master + moments of this rank's shard, + fp32 "
                                             "gradient sums when accumulating");
    if (s->nvme.enabled) {
        bench_print_bytes_line("NVMe file, per rank", plan->nvme_bytes,
                               "fp32 master + moments of this rank's shard, under nvme_path");
        bench_print_bytes_line("NVMe free", plan->nvme_free_bytes, "on nvme_path's file system now");
    }
    uint64_t host_total =
        plan->host_bytes + plan->pinned_bytes + (plan->device_is_host ? plan->device_bytes : 0);
    bench_print_bytes_line("host total, per rank", host_total,
                           plan->device_is_host ? "pageable + pinned + host-backend device"
                                                : "pageable + pinned");
    if (options->ranks > 1)
        bench_print_bytes_line("all ranks on one host", host_total * options->ranks,
                               "if every rank ran on this machine");
    if (plan->host_available_bytes)
        bench_print_bytes_line("host available", plan->host_available_bytes, "MemAvailable now");
    else
        printf("  %-24s %12s\n", "host available", "unknown");
    if (plan->pinned_limit_bytes)
        bench_print_bytes_line("pinned limit", plan->pinned_limit_bytes, "zo.max_pinned_bytes");
    else
        printf("  %-24s %12s  %17s  zo.max_pinned_bytes\n", "pinned limit", "none", "");
    printf("\n%s\n  verdict: %s\n", plan->fits ? "FITS" : "DOES NOT FIT", plan->verdict);
}

static int bench_write_memory_plan_json(const bench_memory_plan_options *options,
                                        const zo_memory_plan *plan)
{
    json_t *root = json_pack("{s:s, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:s}",
                             "config", options->config_path, "params", (json_int_t)options->params,
                             "layers", (json_int_t)options->layers, "ranks", (int)options->ranks,
                             "param_elems", (json_int_t)plan->param_elems, "device_bytes_per_rank",
                             (json_int_t)plan->device_bytes, "pinned_bytes_per_rank",
                             (json_int_t)plan->pinned_bytes, "host_bytes_per_rank",
                             (json_int_t)plan->host_bytes, "host_available_bytes",
                             (json_int_t)plan->host_available_bytes, "pinned_limit_bytes",
                             (json_int_t)plan->pinned_limit_bytes, "device_is_host",
                             plan->device_is_host, "fits", plan->fits, "verdict", plan->verdict);
    if (!root)
        return bench_fail("cannot build the JSON report of the plan");
    int result = 0;
    if (json_dump_file(root, options->json_path, JSON_INDENT(2)) != 0)
        result = bench_fail("cannot write the JSON report to %s", options->json_path);
    json_decref(root);
    return result;
}

/* The largest-model mode: settings from --config, or the defaults with fp16 weights and
 * the optimizer offloaded to pinned host memory (what stage 3 needs). */
static int bench_largest_models(const bench_memory_plan_options *options)
{
    bench_largest_request request = {.base_label = "defaults + fp16 + offload_optimizer cpu",
                                     .hidden = options->hidden,
                                     .machines = options->machines,
                                     .json_path = options->json_path};
    zo_config *config = NULL;
    if (options->config_path) {
        BENCH_CHECK_ZO(zo_config_from_file(options->config_path, &config));
        request.base = *zo_config_settings(config);
        request.base_label = options->config_path;
        zo_config_destroy(&config);
    } else {
        zo_default_settings(&request.base);
        request.base.fp16_enabled = true;
        request.base.offload_optimizer = true;
        request.base.pin_memory = true;
    }
    return bench_largest_model_command(&request);
fail:
    return BENCH_EXIT_USAGE;
}

int bench_memory_plan_command(int argc, char **argv, int first)
{
    bench_memory_plan_options options;
    if (bench_parse_memory_plan_options(argc, argv, first, &options) < 0)
        return BENCH_EXIT_USAGE;
    int exit_status = BENCH_EXIT_USAGE;
    zo_config *config = NULL;
    bench_model model = {0};
    zo_memory_plan plan;
    if (options.machines.count > 0)
        return bench_largest_models(&options);
    BENCH_CHECK_ZO(zo_config_from_file(options.config_path, &config));
    if (bench_model_create(&model, options.params, options.layers) < 0)
        goto fail;
    BENCH_CHECK_ZO(
        zo_engine_plan(config, model.params, model.layers, (unsigned)options.ranks, &plan));
    bench_print_memory_plan(&options, config, &plan);
    exit_status = options.json_path && bench_write_memory_plan_json(&options, &plan) < 0
                      ? BENCH_EXIT_FAILED
                      : BENCH_EXIT_OK;
fail:
    bench_model_free(&model);
    zo_config_destroy(&config);
    return exit_status;
}
