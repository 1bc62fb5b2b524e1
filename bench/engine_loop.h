/* The synthetic training loop that drives the engine as a GPU training loop would:
 * per layer zo_engine_fetch, the forward, zo_engine_release; the backward in reverse
 * with fetch, the gradient, zo_engine_grad_ready, release; then zo_engine_step. Sleeps
 * stand in for the GPU's kernels. In stages 0-2 fetch is zo_engine_wait_params and
 * release does nothing, so the same loop serves every stage. */
#ifndef ZO_BENCH_ENGINE_LOOP_H
#define ZO_BENCH_ENGINE_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "synthetic_model.h"
#include "zo/engine.h"

/* One span of the loop's thread: a layer's compute (the sleep) or a stall inside
 * zo_engine_fetch. Seconds on the monotonic clock (timer.h, the engine's too). */
typedef struct bench_loop_span {
    double begin, end;
    bool stall;
    bool backward;
    size_t layer;
} bench_loop_span;

/* Where a step's spans go when the caller wants its timeline (room for 2 per layer
 * and direction); count and the step's bounds are written by the step. */
typedef struct bench_loop_timeline {
    bench_loop_span *spans;
    size_t capacity, count;
    double step_began, step_ended; /* the step call included */
} bench_loop_timeline;

/* What one loop iteration took, and what the engine said about it. */
typedef struct bench_loop_sample {
    double step_seconds;       /* forward + backward + zo_engine_step, wall time        */
    double fetch_seconds;      /* inside zo_engine_fetch, all layers, both directions:
                                  the loop's stall waiting for its weights             */
    double grad_ready_seconds; /* inside zo_engine_grad_ready, all layers               */
    double compute_seconds;    /* in the sleeps that stand for the compute              */
    zo_step_info info;
} bench_loop_sample;

/* Whether the engine streams its weights (ZeRO stage 3: zo_engine_memory's pools). */
bool bench_engine_streams_weights(const zo_engine *engine);

/* Gives every layer small master weights (zo_engine_set_master). Stages 0-2: writes
 * small finite gradients once into the engine's gradient buffer, where the GPU's
 * backward would: the engine copies them every step, and writing them is not host
 * work. Stage 3 hands out gradient slots only inside the backward; the host
 * backend's device memory starts zeroed, so the slots hold finite gradients (zeros:
 * the update costs the same for any finite values) and the loop writes nothing.
 * `threads` first-touch threads for the staging array. 0, or -1 after printing. */
int bench_loop_prepare(zo_engine *engine, const bench_model *model, int threads);

/* One iteration with `forward_seconds` and `backward_seconds` of sleep per layer;
 * `timeline` (NULL: none) receives the loop's spans. 0, or -1 after printing the
 * failed call and zo_last_error(). */
int bench_loop_step(zo_engine *engine, size_t layers, double forward_seconds,
                    double backward_seconds, bench_loop_sample *sample,
                    bench_loop_timeline *timeline);

#endif
