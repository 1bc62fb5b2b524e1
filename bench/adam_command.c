/* The Adam benchmark's command line (lists of sizes, modes, kernel paths and
 * placements) and the suite's (a config file), both into a bench_plan. */
#include "adam_command.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "bench_fail.h"
#include "config.h"
#include "options.h"
#include "plan.h"
#include "suite.h"

/* What `zo-bench adam` and the suite fill. */
typedef struct bench_adam_values {
    bench_plan plan;
    const char *config_path; /* the suite's --config; NULL: the defaults */
    const char *json_path;   /* NULL: no JSON report                     */
} bench_adam_values;

/* Calls add(item) for each comma-separated item of list; -1 at the first refusal. */
static int bench_for_each_item(const char *option, const char *list, bench_plan *plan,
                               int (*add)(const char *option, const char *item, bench_plan *plan))
{
    char item[64];
    for (const char *start = list;;) {
        size_t length = strcspn(start, ",");
        if (length == 0 || length >= sizeof item)
            return bench_fail("%s: \"%s\" has an empty or overlong item", option, list);
        memcpy(item, start, length);
        item[length] = '\0';
        if (add(option, item, plan) < 0)
            return -1;
        if (start[length] == '\0')
            return 0;
        start += length + 1;
    }
}

static int bench_add_size_item(const char *option, const char *item, bench_plan *plan)
{
    size_t params;
    if (bench_parse_count(option, item, &params) < 0)
        return -1;
    const char *problem = bench_plan_add_size(plan, params);
    return problem ? bench_fail("%s: %s: %s", option, item, problem) : 0;
}

static int bench_add_mode_item(const char *option, const char *item, bench_plan *plan)
{
    bench_mode mode;
    if (!bench_mode_from_name(item, &mode))
        return bench_fail("%s: \"%s\" is not a mode (%s)", option, item, bench_mode_names());
    const char *problem = bench_plan_add_mode(plan, mode);
    return problem ? bench_fail("%s: %s: %s", option, item, problem) : 0;
}

static int bench_add_isa_item(const char *option, const char *item, bench_plan *plan)
{
    zo_cpu_isa isa;
    if (!bench_isa_from_name(item, &isa))
        return bench_fail("%s: \"%s\" is not a kernel path (%s)", option, item, bench_isa_names());
    const char *problem = bench_plan_add_isa(plan, isa);
    return problem ? bench_fail("%s: %s: %s", option, item, problem) : 0;
}

/* A list given on the command line replaces the default one. */
static int bench_parse_sizes(const char *option, const char *value, void *plan)
{
    ((bench_plan *)plan)->size_count = 0;
    return bench_for_each_item(option, value, plan, bench_add_size_item);
}

static int bench_parse_modes(const char *option, const char *value, void *plan)
{
    ((bench_plan *)plan)->mode_count = 0;
    return bench_for_each_item(option, value, plan, bench_add_mode_item);
}

static int bench_parse_isas(const char *option, const char *value, void *plan)
{
    ((bench_plan *)plan)->isa_count = 0;
    return bench_for_each_item(option, value, plan, bench_add_isa_item);
}

static int bench_add_bind(const char *option, const char *text, bench_plan *plan)
{
    bench_bind bind;
    if (bench_parse_bind(option, text, &bind) < 0)
        return -1;
    const char *problem = bench_plan_add_bind(plan, &bind);
    return problem ? bench_fail("%s %s: %s", option, text, problem) : 0;
}

/* --bind: a comma list of "none" and "auto" ("none,auto"), or else one placement
 * (a CPU list has commas of its own). */
static int bench_parse_binds(const char *option, const char *value, void *plan)
{
    bool only_modes = true;
    for (const char *item = value; only_modes && *item;) {
        size_t length = strcspn(item, ",");
        only_modes =
            length == 4 && (strncmp(item, "none", 4) == 0 || strncmp(item, "auto", 4) == 0);
        item += length + (item[length] == ',');
    }
    if (!only_modes)
        return bench_add_bind(option, value, plan);
    for (const char *item = value; *item; item += item[4] ? 5 : 4)
        if (bench_add_bind(option, strncmp(item, "none", 4) == 0 ? "none" : "auto", plan) < 0)
            return -1;
    return 0;
}

static const char *bench_set_repeats(void *plan, long long repeats)
{
    return bench_plan_set_repeats(plan, repeats);
}

static const char *bench_set_threads(void *plan, long long threads)
{
    return bench_plan_set_threads(plan, threads);
}

#define PLAN offsetof(bench_adam_values, plan)

static const bench_option bench_adam_options[] = {
    {"--sizes", BENCH_OPTION_CALL, PLAN, .parse = bench_parse_sizes, .value_name = "LIST",
     .help = "comma-separated parameter counts; suffixes K = 2^10, M = 2^20,\n"
             "G = 2^30 (default 1M,4M,16M,64M,256M)"},
    {"--modes", BENCH_OPTION_CALL, PLAN, .parse = bench_parse_modes, .value_name = "LIST",
     .help = "comma-separated, of fp32, mixed, bf16, bf16-moments,\n"
             "8bit-moments "
             "(default fp32,mixed)"},
    {"--isas", BENCH_OPTION_CALL, PLAN, .parse = bench_parse_isas, .value_name = "LIST",
     .help = "comma-separated kernel paths, of auto, scalar, avx2, avx512,\n"
             "avx512bf16 (default auto); each gets its own rows, its step timed\n"
             "in the same repeat loop as the others; traffic, 3-pass and the\n"
             "call overhead run on the first listed path"},
    {"--repeats", BENCH_OPTION_INT, PLAN, .set_integer = bench_set_repeats, .value_name = "N",
     .help = "timed runs of each kernel; the median is reported (default 5)"},
    {"--threads", BENCH_OPTION_INT, PLAN, .set_integer = bench_set_threads, .value_name = "N",
     .help = "threads, 0 for OpenMP's default (default 0)"},
    {"--bind", BENCH_OPTION_CALL, PLAN, .parse = bench_parse_binds, .value_name = "B",
     .help = "time each step under these thread placements in turn, as zo.bind\n"
             "places the engine's update: none,auto (both), auto, none, or a\n"
             "CPU list such as 0-3,8; may be repeated (at most 3). auto and\n"
             "lists: --threads 0 means one per core of the placement"},
    {"--json", BENCH_OPTION_STRING, offsetof(bench_adam_values, json_path), .value_name = "OUT",
     .help = "also write the figures to OUT as JSON"},
    {0},
};

const bench_command bench_adam_cli = {
    .name = "adam",
    .usage = "  zo-bench adam [OPTIONS]               the Adam benchmark\n",
    .heading = "adam options:",
    .options = bench_adam_options,
    .notes = "\n"
             "modes: fp32 = fp32 grads and moments, no weights out (28 bytes/param);\n"
             "  mixed = fp16 grads, fp32 moments, fp16 weights out (28); bf16 = bf16 grads,\n"
             "  fp32 moments, bf16 weights out (28); bf16-moments = bf16 grads, moments and\n"
             "  weights out (20); 8bit-moments = mixed with 8-bit blockwise moments\n"
             "  (zo.moments_dtype \"8bit\": 16 bytes/param + 1/16 of block scales).\n",
};

static const bench_option bench_suite_options[] = {
    {"--config", BENCH_OPTION_STRING, offsetof(bench_adam_values, config_path),
     .value_name = "FILE", .help = "the suite's JSON config (see below)"},
    {"--json", BENCH_OPTION_STRING, offsetof(bench_adam_values, json_path), .value_name = "OUT",
     .help = "also write the figures to OUT as JSON"},
    {0},
};

const bench_command bench_suite_cli = {
    .usage = "  zo-bench --config FILE [--json OUT]   the suite a JSON config describes\n",
    .options = bench_suite_options,
    .notes =
        "The config file (see bench/configs/default.json):\n"
        "  {\"adam\": {\"sizes\": [\"1M\", \"16M\"], \"modes\": [\"fp32\", \"mixed\"],\n"
        "            \"isas\": [\"auto\"], \"repeats\": 5, \"threads\": 0},\n"
        "   \"engine\": {\"params\": \"64M\", \"layers\": 16, \"compute_us_per_layer\": 4000,\n"
        "              \"steps\": 10}}\n"
        "\"adam\" is required; \"engine\" (every key optional) adds the engine benchmark with\n"
        "the built-in stage config.\n",
};

static int bench_run_plan(const bench_adam_values *values)
{
    return bench_suite_run(&values->plan, values->json_path) < 0 ? BENCH_EXIT_FAILED
                                                                 : BENCH_EXIT_OK;
}

int bench_adam_command(int argc, char **argv, int first)
{
    bench_adam_values values = {0};
    bench_plan_default(&values.plan);
    if (bench_parse_options(&bench_adam_cli, argc, argv, first, &values) < 0)
        return BENCH_EXIT_USAGE;
    return bench_run_plan(&values);
}

int bench_suite_command(int argc, char **argv, int first)
{
    bench_adam_values values = {0};
    bench_plan_default(&values.plan);
    if (bench_parse_options(&bench_suite_cli, argc, argv, first, &values) < 0 ||
        (values.config_path && bench_config_load(values.config_path, &values.plan) < 0))
        return BENCH_EXIT_USAGE;
    return bench_run_plan(&values);
}
