/* zo-bench train's options and its choice of model shape. */
#include "train_options.h"

#include <math.h>
#include <string.h>

#include "bench_fail.h"
#include "options.h"

/* One whole-number option in [min, max]. */
static int bench_train_count(const char *option, const char *value, long long min, long long max,
                             size_t *out)
{
    long long number;
    if (bench_parse_integer(option, value, &number) < 0)
        return -1;
    if (number < min || number > max)
        return bench_fail("%s %s: must be between %lld and %lld", option, value, min, max);
    *out = (size_t)number;
    return 0;
}

static int bench_train_parse_device(const char *value, bench_train_device *out)
{
    if (strcmp(value, "auto") == 0)
        *out = BENCH_TRAIN_AUTO;
    else if (strcmp(value, "host") == 0)
        *out = BENCH_TRAIN_HOST;
    else if (strcmp(value, "cuda") == 0)
        *out = BENCH_TRAIN_CUDA;
    else
        return bench_fail("--device %s: must be host, cuda or auto", value);
    return 0;
}

int bench_train_parse_options(int argc, char **argv, int first, bench_train_options *out)
{
    *out = (bench_train_options){.batch = 64, .steps = 10, .warmup_steps = 2, .host_steps = 3};
    for (int i = first; i < argc; i++) {
        const char *value = NULL;
        int found, parsed = 0;
        if ((found = bench_option(argc, argv, &i, "--params", &value)) != 0)
            parsed = found < 0 ? -1 : bench_parse_count("--params", value, &out->params);
        else if ((found = bench_option(argc, argv, &i, "--width", &value)) != 0)
            parsed = found < 0 ? -1 : bench_train_count("--width", value, 1, 1 << 15, &out->width);
        else if ((found = bench_option(argc, argv, &i, "--batch", &value)) != 0)
            parsed = found < 0 ? -1 : bench_train_count("--batch", value, 1, 1 << 20, &out->batch);
        else if ((found = bench_option(argc, argv, &i, "--steps", &value)) != 0)
            parsed = found < 0 ? -1 : bench_train_count("--steps", value, 1, 1 << 20, &out->steps);
        else if ((found = bench_option(argc, argv, &i, "--warmup", &value)) != 0)
            parsed = found < 0
                         ? -1
                         : bench_train_count("--warmup", value, 1, 1 << 20, &out->warmup_steps);
        else if ((found = bench_option(argc, argv, &i, "--host-steps", &value)) != 0)
            parsed = found < 0
                         ? -1
                         : bench_train_count("--host-steps", value, 0, 1 << 20, &out->host_steps);
        else if ((found = bench_option(argc, argv, &i, "--device", &value)) != 0)
            parsed = found < 0 ? -1 : bench_train_parse_device(value, &out->device);
        else if ((found = bench_option(argc, argv, &i, "--config", &value)) != 0)
            parsed = found < 0 ? -1 : (out->config_path = value, 0);
        else if ((found = bench_option(argc, argv, &i, "--json", &value)) != 0)
            parsed = found < 0 ? -1 : (out->json_path = value, 0);
        else if (strcmp(argv[i], "--find-max") == 0)
            out->find_max = true;
        else
            parsed = bench_fail("train: unknown option \"%s\" (see zo-bench --help)", argv[i]);
        if (parsed < 0)
            return BENCH_REFUSED;
    }
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
