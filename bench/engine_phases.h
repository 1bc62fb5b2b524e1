/* The engine benchmark's phases, each alone: the compute that stands in for the GPU,
 * the copies the host backend's two copy streams make, and the host update. Their
 * sum is the step without overlap, their maximum the step with perfect overlap. */
#ifndef ZO_BENCH_ENGINE_PHASES_H
#define ZO_BENCH_ENGINE_PHASES_H

#include <stddef.h>

#include "zo/adam.h"
#include "zo/config.h"

/* Medians over the repeats, in seconds. */
typedef struct bench_compute_times {
    double forward;  /* every layer's forward sleep, in order         */
    double backward; /* every layer's backward sleep, in reverse      */
    double total;    /* the two together (median of their sums)       */
} bench_compute_times;

typedef struct bench_copy_times {
    double gradients_down; /* one thread's memcpy of every gradient     */
    double weights_up;     /* the other's memcpy of every weight        */
    double both;           /* wall time of the two running at once      */
} bench_copy_times;

typedef struct bench_update_times {
    double stats; /* zo_adam_grad_stats over the whole model           */
    double adam;  /* zo_adam_step over the whole model, weights out    */
    double total; /* the two in a row (median of their sums)           */
} bench_update_times;

/* The synthetic loop's compute without the engine: per layer a forward sleep of
 * forward_seconds, then per layer a backward sleep of backward_seconds. */
int bench_measure_compute_alone(size_t layers, double forward_seconds, double backward_seconds,
                                int repeats, bench_compute_times *out);

/* Two threads at once, one copying `bytes` of gradients, the other `bytes` of
 * weights, each buffer to its own, first touched before timing. */
int bench_measure_copies_alone(size_t bytes, int repeats, bench_copy_times *out);

/* What the engine's worker does per step, over `params` parameters at once: the
 * gradient stats of `dtype` gradients, then the Adam step of `settings` (hyper-
 * parameters, moments dtype) writing `dtype` weights. Runs on `adam`'s threads. */
int bench_measure_update_alone(zo_adam *adam, const zo_settings *settings, zo_dtype dtype,
                               size_t params, int repeats, bench_update_times *out);

/* Bytes the update-alone and copies-alone phases allocate at their largest. */
size_t bench_phases_bytes(const zo_settings *settings, zo_dtype dtype, size_t params);

#endif
