/* What `zo-bench engine` (or a suite config's "engine" section) asks for: the model,
 * the compute that stands in for the GPU, how many steps and repeats, which stage
 * config and whether to trace. */
#ifndef ZO_BENCH_ENGINE_OPTIONS_H
#define ZO_BENCH_ENGINE_OPTIONS_H

#include <stddef.h>

typedef struct bench_engine_options {
    size_t params;               /* total parameters: 64M                              */
    size_t layers;               /* one parameter each: 16                             */
    double compute_us_per_layer; /* forward + backward of one layer; 0: as long as the
                                    host update, spread over the layers (the default) */
    int steps;                   /* timed pipelined steps: 10                          */
    int warmup_steps;            /* before them: 2                                     */
    int repeats;                 /* timed runs of each phase alone: 5                  */
    const char *config_path;     /* NULL: the built-in config (bench/configs/engine.json) */
    const char *trace_path;      /* NULL: no trace; else put into the config's zo.trace */
    const char *timeline_svg_path; /* NULL: none; else the last timed step drawn there */
} bench_engine_options;

void bench_engine_options_default(bench_engine_options *options);

/* Each returns NULL on success or a message saying what is wrong with the value; the
 * caller says where the value came from. */
const char *bench_engine_set_params(bench_engine_options *options, size_t params);
const char *bench_engine_set_layers(bench_engine_options *options, long long layers);
const char *bench_engine_set_compute_us(bench_engine_options *options, double us_per_layer);
const char *bench_engine_set_steps(bench_engine_options *options, long long steps);
const char *bench_engine_set_repeats(bench_engine_options *options, long long repeats);

/* The checks that need every value (layers <= params): NULL or the problem. */
const char *bench_engine_options_check(const bench_engine_options *options);

#endif
