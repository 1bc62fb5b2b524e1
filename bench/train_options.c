/* zo-bench train's options and its choice of model shape. */
#include "train_options.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "bench_fail.h"
#include "option_table.h"
#include "options.h"
#include "train_command.h"

static int bench_train_parse_device(const char *option, const char *value, void *out)
{
    (void)option; /* the message below names it */
    if (strcmp(value, "auto") == 0)
        *(bench_train_device *)out = BENCH_TRAIN_AUTO;
    else if (strcmp(value, "host") == 0)
        *(bench_train_device *)out = BENCH_TRAIN_HOST;
    else if (strcmp(value, "cuda") == 0)
        *(bench_train_device *)out = BENCH_TRAIN_CUDA;
    else
        return bench_fail("--device %s: must be host, cuda or auto", value);
    return 0;
}

#define FIELD(name) offsetof(bench_train_options, name)

static const bench_option bench_train_options_table[] = {
    {"--params", BENCH_OPTION_COUNT, FIELD(params), .value_name = "N",
     .help = "model size, K/M/G suffixes (required); width a power of two near\n"
             "sqrt(N / 8), layers to match"},
    {"--config", BENCH_OPTION_STRING, FIELD(config_path), .value_name = "FILE",
     .help = "the stage config (required; bench/configs/train.json); zo.device,\n"
             "zo.trace and offload_optimizer.device are set over it"},
    {"--width", BENCH_OPTION_SIZE, FIELD(width), 1, 1 << 15, .value_name = "W",
     .help = "force the width"},
    {"--batch", BENCH_OPTION_SIZE, FIELD(batch), 1, 1 << 20, .value_name = "B",
     .help = "samples per step (default 64)"},
    {"--steps", BENCH_OPTION_SIZE, FIELD(steps), 1, 1 << 20, .value_name = "S",
     .help = "timed steps (default 10), after the warm-up"},
    {"--warmup", BENCH_OPTION_SIZE, FIELD(warmup_steps), 1, 1 << 20, .value_name = "W",
     .help = "steps before the timed ones (default 2)"},
    {"--device", BENCH_OPTION_CALL, FIELD(device), .parse = bench_train_parse_device,
     .value_name = "D", .help = "host, cuda or auto (default auto: CUDA when a GPU is usable)"},
    {"--host-steps", BENCH_OPTION_SIZE, FIELD(host_steps), 0, 1 << 20, .value_name = "S",
     .help = "on CUDA, timed steps of the same model on the host backend, for\n"
             "the GPU / host-only ratio (default 3; 0 skips it)"},
    {"--find-max", BENCH_OPTION_FLAG, FIELD(find_max),
     .help = "also the largest model of this width each way (offload, no\n"
             "offload, host only), from the memory plan; allocates nothing"},
    {"--json", BENCH_OPTION_STRING, FIELD(json_path), .value_name = "OUT",
     .help = "also write the figures to OUT as JSON"},
    {0},
};

const bench_command bench_train_cli = {
    .name = "train",
    .usage = "  zo-bench train --params N --config FILE [OPTIONS]\n"
             "                                        a real training loop (the examples' MLP)\n",
    .heading = "train options (examples/train_mlp_*'s deep MLP through the engine; see docs/benchmarks.md):",
    .options = bench_train_options_table,
    .notes = "  It reports samples/s, the step split (the loop's compute; D2H, host update, H2D\n"
             "  from the engine's trace), step / largest phase, and on CUDA the PCIe GB/s against\n"
             "  a pinned cudaMemcpyAsync peak, peak GPU memory with and without offload and the\n"
             "  GPU / host-only speed ratio; without a GPU those say \"n/a (no GPU: ...)\".\n",
};

int bench_train_parse_options(int argc, char **argv, int first, bench_train_options *out)
{
    *out = (bench_train_options){.batch = 64, .steps = 10, .warmup_steps = 2, .host_steps = 3};
    if (bench_parse_options(&bench_train_cli, argc, argv, first, out) < 0)
        return BENCH_REFUSED;
    if (out->params == 0 || !out->config_path) {
        bench_fail("train needs --params N and --config FILE (see zo-bench --help)");
        return BENCH_REFUSED;
    }
    return 0;
}

mlp_shape bench_train_shape(size_t params, size_t width)
{
    if (width == 0) {
        double target = sqrt((double)params / 8.0);
        width = 64;
        while (width < 8192 && (double)(2 * width) <= target)
            width *= 2;
    }
    double per_layer = (double)width * (double)width + (double)width;
    double layers = floor((double)params / per_layer + 0.5);
    return (mlp_shape){.layers = layers < 1.0 ? 1 : (size_t)layers, .width = width};
}
