/* The Adam benchmark: buffers per mode, one warm-up call of each kernel, then the
 * kernels interleaved in one loop so that a slow spell of the machine (a neighbour,
 * frequency scaling) hits every kernel alike and their ratios stay meaningful. */
#include "bench_adam.h"

#include <stdint.h>
#include <stdlib.h>

#include "adam_internal.h"
#include "bench_fail.h"
#include "buffers.h"
#include "median.h"
#include "stream_triad.h"
#include "timer.h"

/* Gradients arrive from the GPU multiplied by the loss scale; both the fused step
 * and the three-pass baseline undo it. */
static const float bench_loss_scale = 1024.0f;

/* The arrays of one mode. grad_f32 exists for the three-pass baseline only. */
typedef struct bench_adam_arrays {
    float *master;
    void *exp_avg, *exp_avg_sq, *grad, *weights_out;
    float *grad_f32;
} bench_adam_arrays;

const char *bench_kernel_name(bench_kernel kernel)
{
    static const char *const names[BENCH_KERNEL_COUNT] = {"step", "traffic", "triad", "three_pass"};
    return names[kernel];
}

static void bench_arrays_free(bench_adam_arrays *arrays)
{
    free(arrays->master);
    free(arrays->exp_avg);
    free(arrays->exp_avg_sq);
    free(arrays->grad);
    free(arrays->weights_out);
    free(arrays->grad_f32);
    *arrays = (bench_adam_arrays){0};
}

/* Allocates and first-touches the arrays. Gradients are small and positive, v starts
 * non-negative: the traffic kernel adds the gradient to master, m and v on every
 * call, and this keeps all of them finite (and v >= 0 for Adam's sqrt) for
 * thousands of calls. */
static int bench_arrays_create(bench_adam_arrays *arrays, size_t params,
                               const bench_mode_info *info, bool with_grad_f32, int threads)
{
    size_t moment_bytes = params * zo_dtype_size(info->moments_dtype);
    *arrays = (bench_adam_arrays){0};
    if (!(arrays->master = bench_alloc(params * sizeof(float), "master weights")) ||
        !(arrays->exp_avg = bench_alloc(moment_bytes, "exp_avg")) ||
        !(arrays->exp_avg_sq = bench_alloc(moment_bytes, "exp_avg_sq")) ||
        !(arrays->grad = bench_alloc(params * zo_dtype_size(info->grad_dtype), "gradients")))
        goto fail;
    if (info->has_weights_out &&
        !(arrays->weights_out =
              bench_alloc(params * zo_dtype_size(info->weights_out_dtype), "weights out")))
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
    if (arrays->grad_f32)
        bench_fill(arrays->grad_f32, ZO_DTYPE_F32, params, 0.5e-3f, 1.5e-3f, threads);
    return 0;
fail:
    bench_arrays_free(arrays);
    return -1;
}

/* DeepSpeed's unfused mixed-precision step: (1) unscale the fp32 gradients in place,
 * (2) an fp32 Adam step, (3) convert the fp32 master to the fp16 copy for the GPU.
 * Pass 1 rescales the same gradients on every call; always by 1/loss_scale would
 * drive them into subnormals (slow on x86) within a dozen calls, so odd calls
 * multiply by loss_scale instead: the same work, values that stay put. */
static zo_status bench_three_pass(zo_adam *ctx, const zo_adam_hparams *hparams, uint64_t step,
                                  const bench_adam_arrays *arrays, size_t params, uint64_t call)
{
    float unscale = call % 2 ? bench_loss_scale : 1.0f / bench_loss_scale;
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

/* Bytes per parameter of the three passes: 8 + 28 + 6. */
static size_t bench_three_pass_bytes_per_param(void)
{
    return 2 * sizeof(float) + bench_mode_bytes_moved_per_param(BENCH_MODE_FP32) + sizeof(float) +
           zo_dtype_size(ZO_DTYPE_F16);
}

static int bench_measure_mode(zo_adam *ctx, const bench_plan *plan, size_t params, bench_mode mode,
                              const bench_triad *triad, bench_adam_row *row)
{
    const bench_mode_info *info = bench_mode_info_of(mode);
    int threads = zo_adam_num_threads(ctx);
    int repeats = plan->repeats;
    bool three_pass = mode == BENCH_MODE_MIXED;
    bench_adam_arrays arrays = {0};

    *row = (bench_adam_row){.params = params,
                            .mode = mode,
                            .isa = zo_adam_isa(ctx),
                            .threads = threads,
                            .repeats = repeats};
    row->samples = calloc((size_t)BENCH_KERNEL_COUNT * (size_t)repeats, sizeof(double));
    if (!row->samples) {
        bench_fail("cannot allocate the timing samples");
        goto fail;
    }
    if (bench_arrays_create(&arrays, params, info, three_pass, threads) < 0)
        goto fail;

    size_t step_bytes = params * bench_mode_bytes_moved_per_param(mode);
    row->measured[BENCH_KERNEL_STEP] = row->measured[BENCH_KERNEL_TRAFFIC] = true;
    row->measured[BENCH_KERNEL_TRIAD] = true;
    row->measured[BENCH_KERNEL_THREE_PASS] = three_pass;
    row->bytes[BENCH_KERNEL_STEP] = row->bytes[BENCH_KERNEL_TRAFFIC] = step_bytes;
    row->bytes[BENCH_KERNEL_TRIAD] = bench_triad_bytes(triad);
    row->bytes[BENCH_KERNEL_THREE_PASS] =
        three_pass ? params * bench_three_pass_bytes_per_param() : 0;

    /* AdamW with a typical decay, so the step does all the arithmetic a run does */
    zo_adam_hparams hparams;
    zo_adam_default_hparams(&hparams);
    hparams.weight_decay = 0.01f;
    zo_adam_buffers fused = {.n = params,
                             .master = arrays.master,
                             .exp_avg = arrays.exp_avg,
                             .exp_avg_sq = arrays.exp_avg_sq,
                             .moments_dtype = info->moments_dtype,
                             .grad = arrays.grad,
                             .grad_dtype = info->grad_dtype,
                             .grad_scale = 1.0f / bench_loss_scale,
                             .weights_out = arrays.weights_out,
                             .weights_out_dtype = info->weights_out_dtype};
    uint64_t step = 1, three_pass_calls = 0;

    /* warm-up: wakes the thread team and settles caches and TLBs for each kernel */
    BENCH_CHECK_ZO(zo_adam_step(ctx, &hparams, step++, &fused));
    BENCH_CHECK_ZO(zo_adam_traffic_only(ctx, &fused));
    bench_triad_run(triad);
    if (three_pass)
        BENCH_CHECK_ZO(
            bench_three_pass(ctx, &hparams, step++, &arrays, params, three_pass_calls++));

    for (int r = 0; r < repeats; r++) {
        double *samples = row->samples;
        double start = now_seconds();
        BENCH_CHECK_ZO(zo_adam_step(ctx, &hparams, step++, &fused));
        samples[BENCH_KERNEL_STEP * repeats + r] = now_seconds() - start;

        start = now_seconds();
        BENCH_CHECK_ZO(zo_adam_traffic_only(ctx, &fused));
        samples[BENCH_KERNEL_TRAFFIC * repeats + r] = now_seconds() - start;

        start = now_seconds();
        bench_triad_run(triad);
        samples[BENCH_KERNEL_TRIAD * repeats + r] = now_seconds() - start;

        if (three_pass) {
            start = now_seconds();
            BENCH_CHECK_ZO(
                bench_three_pass(ctx, &hparams, step++, &arrays, params, three_pass_calls++));
            samples[BENCH_KERNEL_THREE_PASS * repeats + r] = now_seconds() - start;
        }
    }
    for (int k = 0; k < BENCH_KERNEL_COUNT; k++)
        if (row->measured[k])
            row->median_seconds[k] =
                bench_median(row->samples + (size_t)k * (size_t)repeats, (size_t)repeats);
    bench_arrays_free(&arrays);
    return 0;
fail:
    bench_arrays_free(&arrays);
    bench_adam_row_release(row);
    return -1;
}

int bench_adam_check_memory(const bench_plan *plan, size_t params)
{
    /* in double: a count near SIZE_MAX must be refused, not wrap around */
    double largest_mode_bytes = 0.0;
    for (size_t k = 0; k < plan->mode_count; k++) {
        size_t per_param = bench_mode_footprint_per_param(plan->modes[k]) +
                           (plan->modes[k] == BENCH_MODE_MIXED ? sizeof(float) : 0);
        if ((double)per_param * (double)params > largest_mode_bytes)
            largest_mode_bytes = (double)per_param * (double)params;
    }
    double triad_bytes = (double)bench_mode_footprint_per_param(BENCH_MODE_MIXED) * (double)params;
    double needed = largest_mode_bytes + triad_bytes;
    double available = (double)bench_available_memory_bytes();
    if (available > 0.0 && needed > available)
        return bench_fail("%zu parameters need %.2f GB (Adam buffers %.2f GB + triad %.2f GB) "
                          "but only %.2f GB of memory are available; choose smaller sizes",
                          params, 1e-9 * needed, 1e-9 * largest_mode_bytes, 1e-9 * triad_bytes,
                          1e-9 * available);
    return 0;
}

int bench_adam_measure_size(zo_adam *ctx, const bench_plan *plan, size_t params,
                            bench_adam_row *rows)
{
    if (bench_adam_check_memory(plan, params) < 0)
        return -1;
    /* One triad per size, on the mixed step's working set, shared by all modes */
    size_t triad_elems =
        params * bench_mode_footprint_per_param(BENCH_MODE_MIXED) / (3 * sizeof(double));
    size_t done = 0;
    bench_triad triad = {0};
    if (bench_triad_create(&triad, triad_elems, zo_adam_num_threads(ctx)) < 0)
        return -1;
    for (; done < plan->mode_count; done++)
        if (bench_measure_mode(ctx, plan, params, plan->modes[done], &triad, &rows[done]) < 0)
            goto fail;
    bench_triad_destroy(&triad);
    return 0;
fail:
    while (done > 0)
        bench_adam_row_release(&rows[--done]);
    bench_triad_destroy(&triad);
    return -1;
}

void bench_adam_row_release(bench_adam_row *row)
{
    free(row->samples);
    row->samples = NULL;
}
