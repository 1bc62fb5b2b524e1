/* zo-bench train's command line, and the MLP shape it picks for a parameter count. */
#ifndef ZO_BENCH_TRAIN_OPTIONS_H
#define ZO_BENCH_TRAIN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "mlp_model.h"

typedef enum bench_train_device {
    BENCH_TRAIN_AUTO, /* CUDA when a GPU is usable, else the host backend */
    BENCH_TRAIN_HOST,
    BENCH_TRAIN_CUDA
} bench_train_device;

typedef struct bench_train_options {
    size_t params;             /* --params (required): the model's size, K/M/G suffixes  */
    size_t width;              /* --width; 0: picked from params (bench_train_shape)     */
    size_t batch;              /* --batch (64): samples per step                          */
    size_t steps;              /* --steps (10): timed steps, after the warm-up            */
    size_t warmup_steps;       /* --warmup (2): steps run before timing                   */
    size_t host_steps;         /* --host-steps (3): timed steps of the host-only run when
                                  the main run is on CUDA; 0 skips it                    */
    bench_train_device device; /* --device host|cuda|auto (auto)                          */
    bool find_max;             /* --find-max: the largest model each way, from the plan   */
    const char *config_path;   /* --config (required): a DeepSpeed-style JSON config      */
    const char *json_path;     /* --json FILE; NULL: none                                 */
} bench_train_options;

/* Parses argv[first..]; 0, or BENCH_REFUSED after printing why not (options.h). */
int bench_train_parse_options(int argc, char **argv, int first, bench_train_options *out);

/* The shape trained for `params` parameters: width a power of two near
 * sqrt(params / 8) (so about 8 layers or more), in [64, 8192], unless `width` is
 * given; layers = params / (width^2 + width) rounded to nearest, at least 1. */
mlp_shape bench_train_shape(size_t params, size_t width);

#endif
