/* The engine subcommand: options in, report out; bench_engine.c does the work. */
#include "engine_command.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bench_engine.h"
#include "bench_fail.h"
#include "engine_ranks.h"
#include "engine_report.h"
#include "options.h"

/* What `zo-bench engine` fills. */
typedef struct bench_engine_values {
    bench_engine_options engine;
    const char *json_path; /* NULL: no JSON report */
    bench_rank_list ranks; /* count 0: no --ranks sweep */
} bench_engine_values;

/* The engine options' own setters, which a suite config's "engine" goes through too. */
static const char *bench_set_params(void *engine, size_t params)
{
    return bench_engine_set_params(engine, params);
}

static const char *bench_set_layers(void *engine, long long layers)
{
    return bench_engine_set_layers(engine, layers);
}

static const char *bench_set_compute_us(void *engine, double us_per_layer)
{
    return bench_engine_set_compute_us(engine, us_per_layer);
}

static const char *bench_set_steps(void *engine, long long steps)
{
    return bench_engine_set_steps(engine, steps);
}

static const char *bench_set_repeats(void *engine, long long repeats)
{
    return bench_engine_set_repeats(engine, repeats);
}

static int bench_parse_ranks(const char *option, const char *value, void *ranks)
{
    (void)option; /* bench_parse_rank_list names --ranks itself */
    return bench_parse_rank_list(value, ranks);
}

#define ENGINE offsetof(bench_engine_values, engine)

static const bench_option bench_engine_options_table[] = {
    {"--params", BENCH_OPTION_COUNT, ENGINE, .set_count = bench_set_params, .value_name = "N",
     .help = "total parameters, K/M/G suffixes (default 64M)"},
    {"--layers", BENCH_OPTION_INT, ENGINE, .set_integer = bench_set_layers, .value_name = "L",
     .help = "layers, one parameter each (default 16)"},
    {"--config", BENCH_OPTION_STRING, ENGINE + offsetof(bench_engine_options, config_path),
     .value_name = "FILE",
     .help = "the stage config (default: built in, the same as\n"
             "bench/configs/engine.json: fp16, ZeRO stage 2, buckets of 8M\n"
             "elements, the host backend); update threads from zo.threads"},
    {"--compute-us-per-layer", BENCH_OPTION_REAL, ENGINE, .set_real = bench_set_compute_us,
     .value_name = "T",
     .help = "forward + backward microseconds per layer (1/3 forward, 2/3\n"
             "backward); default: the host update alone's time spread over the\n"
             "layers, so the compute matches the update"},
    {"--steps", BENCH_OPTION_INT, ENGINE, .set_integer = bench_set_steps, .value_name = "S",
     .help = "timed steps, after 2 warm-up steps (default 10)"},
    {"--repeats", BENCH_OPTION_INT, ENGINE, .set_integer = bench_set_repeats, .value_name = "R",
     .help = "timed runs of each phase alone; the median is reported (default 5)"},
    {"--trace", BENCH_OPTION_STRING, ENGINE + offsetof(bench_engine_options, trace_path),
     .value_name = "FILE", .help = "set zo.trace to FILE in the config (a Chrome/Perfetto trace)"},
    {"--timeline-svg", BENCH_OPTION_STRING,
     ENGINE + offsetof(bench_engine_options, timeline_svg_path), .value_name = "FILE",
     .help = "draw the last timed step to FILE as an SVG: lanes for the loop\n"
             "(compute, stalls in fetch), fetches, copies down, host update,\n"
             "copies up (read from the engine's trace; --trace keeps it)"},
    {"--json", BENCH_OPTION_STRING, offsetof(bench_engine_values, json_path), .value_name = "OUT",
     .help = "also write the figures to OUT as JSON"},
    {"--ranks", BENCH_OPTION_CALL, offsetof(bench_engine_values, ranks), .parse = bench_parse_ranks,
     .value_name = "1,2",
     .help = "run the benchmark under `mpirun -np R` for each R and compare what\n"
             "a rank holds and how long its step takes (ZeRO sharding; needs\n"
             "mpirun on PATH and a config with zero_optimization.stage >= 1)"},
    {0},
};

const bench_command bench_engine_cli = {
    .name = "engine",
    .usage =
        "  zo-bench engine [OPTIONS]             the engine's pipeline against its phases alone\n",
    .heading = "engine options (the whole pipeline on the host backend; sleeps stand in for the\n"
               "GPU's compute, which costs the host no CPU):",
    .options = bench_engine_options_table,
    .notes = "  It times each phase alone (compute; the gradient and weight copies, one thread\n"
             "  each way; the host update: grad stats + Adam), then the pipelined step, and\n"
             "  reports step / max(phases) (overlap efficiency: 1.0 is perfect overlap, the goal\n"
             "  is <= 1.15), step / sum(phases), and the medians of zo_step_info. The loop's\n"
             "  stall is its time inside zo_engine_fetch (stages 0-2: zo_engine_wait_params), per\n"
             "  step and as a fraction of the step; with a stage-3 config also the bytes fetched,\n"
             "  the prefetch hit rate and the device high-water mark against the budget\n"
             "  (bench/configs/engine_stage3.json). It needs about 36 bytes of memory per\n"
             "  parameter (the engine's 20 with fp16, plus the phases').\n",
};

/* The options to hand each run of a --ranks sweep: all but --ranks and --json (and
 * their values, whether written "--ranks 1,2" or "--ranks=1,2"). */
static int bench_sweep_arguments(int argc, char **argv, int first, char **out)
{
    int n = 0;
    for (int i = first; i < argc && n < 48; i++) {
        bool ours = strncmp(argv[i], "--ranks", 7) == 0 || strncmp(argv[i], "--json", 6) == 0;
        if (ours && strchr(argv[i], '=') == NULL)
            i++; /* its value follows */
        else if (!ours)
            out[n++] = argv[i];
    }
    return n;
}

int bench_engine_command(int argc, char **argv, int first)
{
    bench_engine_values values = {0};
    bench_engine_options_default(&values.engine);
    if (bench_parse_options(&bench_engine_cli, argc, argv, first, &values) < 0)
        return BENCH_EXIT_USAGE;
    const char *json_path = values.json_path;
    if (values.ranks.count) {
        char *sweep_args[48];
        int sweep_count = bench_sweep_arguments(argc, argv, first, sweep_args);
        return bench_engine_rank_sweep(&values.ranks, sweep_args, sweep_count, json_path);
    }
    bench_engine_result result;
    int outcome = bench_engine_run(&values.engine, &result);
    if (outcome != BENCH_DONE)
        return bench_exit_status(outcome);
    if (result.ranks > 1)
        report_print_engine_rank_line(&result);
    if (result.rank != 0) { /* under mpirun: rank 0 reports the run */
        bench_engine_result_release(&result);
        return BENCH_EXIT_OK;
    }
    printf("zo-bench engine: %s\n",
           result.machine.has_cpu_model ? result.machine.cpu_model : "unknown CPU");
    report_print_engine(&result);
    int exit_status = json_path && report_write_engine_json(json_path, &result) < 0
                          ? BENCH_EXIT_FAILED
                          : BENCH_EXIT_OK;
    bench_engine_result_release(&result);
    return exit_status;
}
