/* The call-overhead measurement: a tiny mixed-precision step, timed warm and after
 * idling. */
#include "call_overhead.h"

#include <stdint.h>
#include <stdlib.h>

#include "bench_fail.h"
#include "buffers.h"
#include "median.h"
#include "timer.h"

/* cpu_adam gives each thread at least this many elements (ZO_MIN_ELEMS_PER_THREAD in
 * cpu_adam/adam.c): threads * 16384 is the smallest step that wakes the whole team. */
enum { BENCH_ELEMS_PER_THREAD = 16384 };
enum { BENCH_WARM_CALLS = 2000, BENCH_IDLE_CALLS = 30 };
static const double bench_idle_seconds = 0.020;

int bench_measure_call_overhead(zo_adam *ctx, bench_call_overhead *out)
{
    int threads = zo_adam_num_threads(ctx);
    size_t params = (size_t)threads * BENCH_ELEMS_PER_THREAD;
    int result = -1;
    float *master = bench_alloc(params * sizeof(float), "master weights");
    float *exp_avg = bench_alloc(params * sizeof(float), "exp_avg");
    float *exp_avg_sq = bench_alloc(params * sizeof(float), "exp_avg_sq");
    uint16_t *grad = bench_alloc(params * sizeof(uint16_t), "gradients");
    uint16_t *weights_out = bench_alloc(params * sizeof(uint16_t), "weights out");
    double *warm = malloc(BENCH_WARM_CALLS * sizeof *warm);
    double *after_idle = malloc(BENCH_IDLE_CALLS * sizeof *after_idle);
    if (!master || !exp_avg || !exp_avg_sq || !grad || !weights_out || !warm || !after_idle) {
        bench_fail("cannot allocate the call-overhead buffers");
        goto fail;
    }
    bench_fill(master, ZO_DTYPE_F32, params, -0.01f, 0.01f, threads);
    bench_fill(exp_avg, ZO_DTYPE_F32, params, 0.0f, 0.0f, threads);
    bench_fill(exp_avg_sq, ZO_DTYPE_F32, params, 0.0f, 1e-6f, threads);
    bench_fill(grad, ZO_DTYPE_F16, params, 0.5e-3f, 1.5e-3f, threads);
    bench_fill(weights_out, ZO_DTYPE_F16, params, 0.0f, 0.0f, threads);

    zo_adam_hparams hparams;
    zo_adam_default_hparams(&hparams);
    zo_adam_buffers buffers = {.n = params,
                               .master = master,
                               .exp_avg = exp_avg,
                               .exp_avg_sq = exp_avg_sq,
                               .moments_dtype = ZO_DTYPE_F32,
                               .grad = grad,
                               .grad_dtype = ZO_DTYPE_F16,
                               .grad_scale = 1.0f / 1024.0f,
                               .weights_out = weights_out,
                               .weights_out_dtype = ZO_DTYPE_F16};
    uint64_t step = 1;
    BENCH_CHECK_ZO(zo_adam_step(ctx, &hparams, step++, &buffers)); /* warm-up */
    for (int k = 0; k < BENCH_WARM_CALLS; k++) {
        double start = now_seconds();
        BENCH_CHECK_ZO(zo_adam_step(ctx, &hparams, step++, &buffers));
        warm[k] = now_seconds() - start;
    }
    for (int k = 0; k < BENCH_IDLE_CALLS; k++) {
        sleep_seconds(bench_idle_seconds);
        double start = now_seconds();
        BENCH_CHECK_ZO(zo_adam_step(ctx, &hparams, step++, &buffers));
        after_idle[k] = now_seconds() - start;
    }
    *out = (bench_call_overhead){
        .params = params,
        .threads = threads,
        .warm_calls = BENCH_WARM_CALLS,
        .warm_median_seconds = bench_median(warm, BENCH_WARM_CALLS),
        .idle_calls = BENCH_IDLE_CALLS,
        .idle_seconds = bench_idle_seconds,
        .after_idle_median_seconds = bench_median(after_idle, BENCH_IDLE_CALLS),
    };
    result = 0;
fail:
    free(master);
    free(exp_avg);
    free(exp_avg_sq);
    free(grad);
    free(weights_out);
    free(warm);
    free(after_idle);
    return result;
}
