/* The engine subcommand: options in, report out; bench_engine.c does the work. */
#include "engine_command.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench_engine.h"
#include "bench_fail.h"
#include "engine_ranks.h"
#include "engine_report.h"
#include "options.h"

/* A setter's refusal, said with the option and the text it came from. */
static int bench_engine_option_problem(const char *option, const char *text, const char *problem)
{
    return problem ? bench_fail("%s %s: %s", option, text, problem) : 0;
}

static int bench_parse_engine_options(int argc, char **argv, int first, bench_engine_options *options,
                                      const char **json_path, bench_rank_list *ranks)
{
    for (int i = first; i < argc; i++) {
        const char *value = NULL;
        long long number;
        double real;
        size_t count;
        int found;
        if ((found = bench_option(argc, argv, &i, "--params", &value)) != 0) {
            if (found < 0 || bench_parse_count("--params", value, &count) < 0 ||
                bench_engine_option_problem("--params", value,
                                            bench_engine_set_params(options, count)) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--layers", &value)) != 0) {
            if (found < 0 || bench_parse_integer("--layers", value, &number) < 0 ||
                bench_engine_option_problem("--layers", value,
                                            bench_engine_set_layers(options, number)) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--compute-us-per-layer", &value)) != 0) {
            if (found < 0 || bench_parse_real("--compute-us-per-layer", value, &real) < 0 ||
                bench_engine_option_problem("--compute-us-per-layer", value,
                                            bench_engine_set_compute_us(options, real)) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--steps", &value)) != 0) {
            if (found < 0 || bench_parse_integer("--steps", value, &number) < 0 ||
                bench_engine_option_problem("--steps", value,
                                            bench_engine_set_steps(options, number)) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--repeats", &value)) != 0) {
            if (found < 0 || bench_parse_integer("--repeats", value, &number) < 0 ||
                bench_engine_option_problem("--repeats", value,
                                            bench_engine_set_repeats(options, number)) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--config", &value)) != 0) {
            if (found < 0)
                return -1;
            options->config_path = value;
        } else if ((found = bench_option(argc, argv, &i, "--trace", &value)) != 0) {
            if (found < 0)
                return -1;
            options->trace_path = value;
        } else if ((found = bench_option(argc, argv, &i, "--ranks", &value)) != 0) {
            if (found < 0 || bench_parse_rank_list(value, ranks) < 0)
                return -1;
        } else if ((found = bench_option(argc, argv, &i, "--json", &value)) != 0) {
            if (found < 0)
                return -1;
            *json_path = value;
        } else {
            return bench_fail("engine: unknown option \"%s\" (see zo-bench --help)", argv[i]);
        }
    }
    return 0;
}

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
    bench_engine_options options;
    const char *json_path = NULL;
    bench_rank_list ranks = {0};
    bench_engine_options_default(&options);
    if (bench_parse_engine_options(argc, argv, first, &options, &json_path, &ranks) < 0)
        return BENCH_EXIT_USAGE;
    if (ranks.count) {
        char *sweep_args[48];
        int sweep_count = bench_sweep_arguments(argc, argv, first, sweep_args);
        return bench_engine_rank_sweep(&ranks, sweep_args, sweep_count, json_path);
    }
    bench_engine_result result;
    int outcome = bench_engine_run(&options, &result);
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
