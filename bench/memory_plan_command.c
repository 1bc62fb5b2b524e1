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
#include "options.h"
#include "param_count.h"
#include "synthetic_model.h"
#include "zo/byte_size.h"
#include "zo/zo.h"

/* Far beyond any cluster; stops a typo from asking for a billion ranks. */
enum { BENCH_MAX_RANKS = 1 << 20 };

typedef struct bench_memory_plan_options {
    size_t params; /* 0 until given: required */
    size_t layers;
    int ranks;
    const char *config_path; /* required */
    const char *json_path;   /* NULL: no JSON report */
} bench_memory_plan_options;

#define FIELD(name) offsetof(bench_memory_plan_options, name)

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
     .help = "also write the plan to OUT as JSON"},
    {0},
};

const bench_command bench_plan_cli = {
    .name = "plan",
    .usage =
        "  zo-bench plan --params N --config FILE [OPTIONS]\n"
        "                                        the engine's memory plan; allocates nothing\n",
    .heading = "plan options (zo_engine_plan on a model of N parameters; nothing is allocated):",
    .options = bench_plan_options,
    .notes = "  It prints device, pinned and pageable host bytes per rank, the host memory\n"
             "  available, the pinned limit and the engine's verdict: FITS or DOES NOT FIT (exit\n"
             "  status 0 either way).\n",
};

static int bench_parse_memory_plan_options(int argc, char **argv, int first,
                                           bench_memory_plan_options *options)
{
    *options = (bench_memory_plan_options){.layers = 1, .ranks = 1};
    if (bench_parse_options(&bench_plan_cli, argc, argv, first, options) < 0)
        return -1;
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
           s->moments_dtype == ZO_DTYPE_BF16 ? "bf16" : "fp32",
           s->offload_optimizer ? "cpu" : "not set", s->pin_memory ? "pinned" : "pageable");
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
                           "fp32 master + moments of this rank's shard, + fp32 gradient sums "
                           "when accumulating");
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

int bench_memory_plan_command(int argc, char **argv, int first)
{
    bench_memory_plan_options options;
    if (bench_parse_memory_plan_options(argc, argv, first, &options) < 0)
        return BENCH_EXIT_USAGE;
    int exit_status = BENCH_EXIT_USAGE;
    zo_config *config = NULL;
    bench_model model = {0};
    zo_memory_plan plan;
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
