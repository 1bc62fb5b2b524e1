/* The engine benchmark's defaults and the checks every value goes through, whether it
 * came from the command line or a suite config. */
#include "engine_options.h"

/* Bounds that no sensible run comes near; they stop a typo from running for hours. */
enum { BENCH_MAX_LAYERS = 1 << 20, BENCH_MAX_STEPS = 100000, BENCH_MAX_PHASE_REPEATS = 1000 };
static const double bench_max_compute_us_per_layer = 10e6; /* 10 s per layer */

void bench_engine_options_default(bench_engine_options *options)
{
    *options = (bench_engine_options){
        .params = (size_t)64 << 20,
        .layers = 16,
        .compute_us_per_layer = 0.0,
        .steps = 10,
        .warmup_steps = 2,
        .repeats = 5,
    };
}

const char *bench_engine_set_params(bench_engine_options *options, size_t params)
{
    if (params == 0)
        return "the model needs at least 1 parameter";
    options->params = params;
    return NULL;
}

const char *bench_engine_set_layers(bench_engine_options *options, long long layers)
{
    if (layers < 1 || layers > BENCH_MAX_LAYERS)
        return "layers must be between 1 and 1048576";
    options->layers = (size_t)layers;
    return NULL;
}

const char *bench_engine_set_compute_us(bench_engine_options *options, double us_per_layer)
{
    if (!(us_per_layer > 0.0) || us_per_layer > bench_max_compute_us_per_layer)
        return "the compute per layer must be more than 0 and at most 1e7 us";
    options->compute_us_per_layer = us_per_layer;
    return NULL;
}

const char *bench_engine_set_steps(bench_engine_options *options, long long steps)
{
    if (steps < 1 || steps > BENCH_MAX_STEPS)
        return "steps must be between 1 and 100000";
    options->steps = (int)steps;
    return NULL;
}

const char *bench_engine_set_repeats(bench_engine_options *options, long long repeats)
{
    if (repeats < 1 || repeats > BENCH_MAX_PHASE_REPEATS)
        return "repeats must be between 1 and 1000";
    options->repeats = (int)repeats;
    return NULL;
}

const char *bench_engine_options_check(const bench_engine_options *options)
{
    if (options->layers > options->params)
        return "more layers than parameters: each layer needs at least one";
    return NULL;
}
