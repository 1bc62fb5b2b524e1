/* DeepSpeed's unfused mixed-precision step, built from zo's own cast and fp32 step so
 * that only the fusion differs from the step it is compared with. */
#include "three_pass.h"

#include "bench_mode.h"

/* Pass 1 rescales the same gradients on every call; always by 1/loss_scale would
 * drive them into subnormals (slow on x86) within a dozen calls, so odd calls
 * multiply by loss_scale instead: the same work, values that stay put. */
zo_status bench_three_pass(zo_adam *ctx, const zo_adam_hparams *hparams, uint64_t step,
                           const bench_mode_arrays *arrays, size_t params, uint64_t call)
{
    float unscale = call % 2 ? BENCH_LOSS_SCALE : 1.0f / BENCH_LOSS_SCALE;
    zo_status status = zo_adam_cast(ctx, arrays->grad_f32, ZO_DTYPE_F32, arrays->grad_f32,
                                    ZO_DTYPE_F32, params, unscale);
    if (status != ZO_OK)
        return status;
    zo_adam_buffers fp32_step = {.n = params,
                                 .master = arrays->master,
                                 .exp_avg = arrays->exp_avg,
                                 .exp_avg_sq = arrays->exp_avg_sq,
                                 .moments_dtype = ZO_DTYPE_F32,
                                 .grad = arrays->grad_f32,
                                 .grad_dtype = ZO_DTYPE_F32,
                                 .grad_scale = 1.0f};
    status = zo_adam_step(ctx, hparams, step, &fp32_step);
    if (status != ZO_OK)
        return status;
    return zo_adam_cast(ctx, arrays->weights_out, ZO_DTYPE_F16, arrays->master, ZO_DTYPE_F32,
                        params, 1.0f);
}

size_t bench_three_pass_bytes_per_param(void)
{
    return 2 * sizeof(float) + bench_mode_bytes_moved_per_param(BENCH_MODE_FP32) + sizeof(float) +
           zo_dtype_size(ZO_DTYPE_F16);
}
