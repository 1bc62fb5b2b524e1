/* Allocation and first touch of a mode's arrays, with values chosen so that
 * thousands of benchmark calls keep them finite. */
#include "mode_arrays.h"

#include <stdlib.h>

#include "buffers.h"

void bench_mode_arrays_free(bench_mode_arrays *arrays)
{
    free(arrays->master);
    free(arrays->exp_avg);
    free(arrays->exp_avg_sq);
    free(arrays->exp_avg_scale);
    free(arrays->exp_avg_sq_scale);
    free(arrays->grad);
    free(arrays->weights_out);
    free(arrays->grad_f32);
    *arrays = (bench_mode_arrays){0};
}

/* Gradients are small and positive, v starts non-negative: the traffic kernel adds
 * the gradient to master, m and v on every call, and this keeps all of them finite
 * (and v >= 0 for Adam's sqrt) for thousands of calls. */
int bench_mode_arrays_create(bench_mode_arrays *arrays, size_t params, const bench_mode_info *info,
                             bool with_grad_f32, int threads)
{
    size_t moment_bytes = params * zo_dtype_size(info->moments_dtype);
    *arrays = (bench_mode_arrays){0};
    if (!(arrays->master = bench_alloc(params * sizeof(float), "master weights")) ||
        !(arrays->exp_avg = bench_alloc(moment_bytes, "exp_avg")) ||
        !(arrays->exp_avg_sq = bench_alloc(moment_bytes, "exp_avg_sq")) ||
        !(arrays->grad = bench_alloc(params * zo_dtype_size(info->grad_dtype), "gradients")))
        goto fail;
    if (info->has_weights_out &&
        !(arrays->weights_out =
              bench_alloc(params * zo_dtype_size(info->weights_out_dtype), "weights out")))
        goto fail;
    size_t blocks = zo_q8_block_count(params);
    if (info->moments_dtype == ZO_DTYPE_Q8 &&
        (!(arrays->exp_avg_scale = bench_alloc(blocks * sizeof(float), "exp_avg scales")) ||
         !(arrays->exp_avg_sq_scale = bench_alloc(blocks * sizeof(float), "exp_avg_sq scales"))))
        goto fail;
    if (with_grad_f32 &&
        !(arrays->grad_f32 = bench_alloc(params * sizeof(float), "fp32 gradients")))
        goto fail;

    bench_fill(arrays->master, ZO_DTYPE_F32, params, -0.01f, 0.01f, threads);
    bench_fill(arrays->exp_avg, info->moments_dtype, params, 0.0f, 0.0f, threads);
    bench_fill(arrays->exp_avg_sq, info->moments_dtype, params, 0.0f, 1e-6f, threads);
    bench_fill(arrays->grad, info->grad_dtype, params, 0.5e-3f, 1.5e-3f, threads);
    if (arrays->weights_out)
        bench_fill(arrays->weights_out, info->weights_out_dtype, params, 0.0f, 0.0f, threads);
    if (arrays->exp_avg_scale) { /* all-zero moments, as at a run's start */
        bench_fill(arrays->exp_avg_scale, ZO_DTYPE_F32, blocks, 0.0f, 0.0f, threads);
        bench_fill(arrays->exp_avg_sq_scale, ZO_DTYPE_F32, blocks, 0.0f, 0.0f, threads);
    }
    if (arrays->grad_f32)
        bench_fill(arrays->grad_f32, ZO_DTYPE_F32, params, 0.5e-3f, 1.5e-3f, threads);
    return 0;
fail:
    bench_mode_arrays_free(arrays);
    return -1;
}

zo_adam_buffers bench_mode_arrays_fused(const bench_mode_arrays *arrays, size_t params,
                                        const bench_mode_info *info)
{
    return (zo_adam_buffers){.n = params,
                             .master = arrays->master,
                             .exp_avg = arrays->exp_avg,
                             .exp_avg_sq = arrays->exp_avg_sq,
                             .moments_dtype = info->moments_dtype,
                             .grad = arrays->grad,
                             .grad_dtype = info->grad_dtype,
                             .grad_scale = 1.0f / BENCH_LOSS_SCALE,
                             .weights_out = arrays->weights_out,
                             .weights_out_dtype = info->weights_out_dtype,
                             .exp_avg_scale = arrays->exp_avg_scale,
                             .exp_avg_sq_scale = arrays->exp_avg_sq_scale};
}
