/* The synthetic training loop that drives the engine as a GPU training loop would:
 * forward layer by layer after zo_engine_wait_params, backward in reverse with
 * zo_engine_grad_ready, then zo_engine_step. Sleeps stand in for the GPU's kernels. */
#ifndef ZO_BENCH_ENGINE_LOOP_H
#define ZO_BENCH_ENGINE_LOOP_H

#include <stddef.h>

#include "synthetic_model.h"
#include "zo/engine.h"

/* What one loop iteration took, and what the engine said about it. */
typedef struct bench_loop_sample {
    double step_seconds;        /* forward + backward + zo_engine_step, wall time   */
    double wait_params_seconds; /* inside zo_engine_wait_params, all layers         */
    double grad_ready_seconds;  /* inside zo_engine_grad_ready, all layers          */
    zo_step_info info;
} bench_loop_sample;

/* Gives every layer small master weights (zo_engine_set_master) and writes small
 * finite gradients once into the engine's gradient buffer, where the GPU's backward
 * would: the engine copies them every step, and writing them is not host work.
 * `threads` first-touch threads for the staging array. 0, or -1 after printing. */
int bench_loop_prepare(zo_engine *engine, const bench_model *model, int threads);

/* One iteration with `forward_seconds` and `backward_seconds` of sleep per layer.
 * 0, or -1 after printing the failed call and zo_last_error(). */
int bench_loop_step(zo_engine *engine, size_t layers, double forward_seconds,
                    double backward_seconds, bench_loop_sample *sample);

#endif
