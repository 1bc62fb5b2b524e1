/* The arrays one benchmark mode steps over: fp32 master weights, the two moments,
 * the gradients and the weights out, in the dtypes of the mode. */
#ifndef ZO_BENCH_MODE_ARRAYS_H
#define ZO_BENCH_MODE_ARRAYS_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_mode.h"
#include "zo/adam.h"

/* Gradients arrive from the GPU multiplied by the loss scale; both the fused step
 * and the three-pass baseline undo it. */
#define BENCH_LOSS_SCALE 1024.0f

/* grad_f32 exists for the three-pass baseline only; weights_out only in modes that
 * write the weights out. */
typedef struct bench_mode_arrays {
    float *master;
    void *exp_avg, *exp_avg_sq, *grad, *weights_out;
    float *exp_avg_scale, *exp_avg_sq_scale; /* 8-bit moments only */
    float *grad_f32;
} bench_mode_arrays;

/* Allocates and first-touches the arrays of `params` parameters from `threads`
 * threads. 0 on success; -1 after printing which one could not be allocated
 * (nothing is left allocated). */
int bench_mode_arrays_create(bench_mode_arrays *arrays, size_t params, const bench_mode_info *info,
                             bool with_grad_f32, int threads);

/* Frees the arrays; safe on a zeroed or already freed set. */
void bench_mode_arrays_free(bench_mode_arrays *arrays);

/* The fused step's view of the arrays: the mode's dtypes, gradients unscaled by
 * 1 / BENCH_LOSS_SCALE on the fly. The arrays stay owned by `arrays`. */
zo_adam_buffers bench_mode_arrays_fused(const bench_mode_arrays *arrays, size_t params,
                                        const bench_mode_info *info);

#endif
