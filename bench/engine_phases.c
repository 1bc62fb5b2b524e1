/* Each phase of the pipelined step measured alone, on buffers of the engine's sizes
 * and dtypes, median of `repeats` after one untimed run. */
#include "engine_phases.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"
#include "buffers.h"
#include "median.h"
#include "timer.h"

/* Up to three series of samples in one block, so one free releases them all. */
typedef struct bench_series {
    double *samples;
    int repeats;
} bench_series;

static int bench_series_create(bench_series *series, int repeats)
{
    series->repeats = repeats;
    series->samples = calloc(3 * (size_t)repeats, sizeof *series->samples);
    return series->samples ? 0 : bench_fail("cannot allocate the timing samples");
}

static double *bench_series_at(const bench_series *series, int which)
{
    return series->samples + (size_t)which * (size_t)series->repeats;
}

static double bench_series_median(const bench_series *series, int which)
{
    return bench_median(bench_series_at(series, which), (size_t)series->repeats);
}

int bench_measure_compute_alone(size_t layers, double forward_seconds, double backward_seconds,
                                int repeats, bench_compute_times *out)
{
    bench_series series;
    if (bench_series_create(&series, repeats) < 0)
        return -1;
    double *forward = bench_series_at(&series, 0), *backward = bench_series_at(&series, 1),
           *total = bench_series_at(&series, 2);
    for (int r = 0; r < repeats; r++) {
        double start = now_seconds();
        for (size_t i = 0; i < layers; i++)
            sleep_seconds(forward_seconds);
        double middle = now_seconds();
        for (size_t i = layers; i-- > 0;)
            sleep_seconds(backward_seconds);
        double end = now_seconds();
        forward[r] = middle - start;
        backward[r] = end - middle;
        total[r] = end - start;
    }
    *out = (bench_compute_times){bench_series_median(&series, 0), bench_series_median(&series, 1),
                                 bench_series_median(&series, 2)};
    free(series.samples);
    return 0;
}

/* One copy stream's work: a memcpy, timed from inside its thread so thread start-up
 * is not counted. */
typedef struct bench_copy_job {
    void *destination;
    const void *source;
    size_t bytes;
    double started, finished;
} bench_copy_job;

static void *bench_copy_run(void *arg)
{
    bench_copy_job *job = arg;
    job->started = now_seconds();
    memcpy(job->destination, job->source, job->bytes);
    job->finished = now_seconds();
    return NULL;
}

/* Runs both jobs at once, as the d2h and h2d streams may. 0, or -1 after printing. */
static int bench_copy_pair(bench_copy_job *down, bench_copy_job *up)
{
    pthread_t threads[2];
    if (pthread_create(&threads[0], NULL, bench_copy_run, down) != 0)
        return bench_fail("cannot start a copy thread");
    if (pthread_create(&threads[1], NULL, bench_copy_run, up) != 0) {
        pthread_join(threads[0], NULL);
        return bench_fail("cannot start a copy thread");
    }
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    return 0;
}

int bench_measure_copies_alone(size_t bytes, int repeats, bench_copy_times *out)
{
    int result = -1;
    bench_series series = {0};
    /* what the backward writes and where the host receives it; the pinned weights and
     * where the forward reads them */
    void *device_grads = bench_alloc(bytes, "device gradients (copies alone)");
    void *pinned_grads = bench_alloc(bytes, "pinned gradients (copies alone)");
    void *pinned_weights = bench_alloc(bytes, "pinned weights (copies alone)");
    void *device_weights = bench_alloc(bytes, "device weights (copies alone)");
    if (!device_grads || !pinned_grads || !pinned_weights || !device_weights ||
        bench_series_create(&series, repeats) < 0)
        goto fail;
    /* first touch, so page faults are not timed (the engine's buffers are touched too) */
    memset(device_grads, 1, bytes);
    memset(pinned_grads, 0, bytes);
    memset(pinned_weights, 2, bytes);
    memset(device_weights, 0, bytes);

    bench_copy_job down = {pinned_grads, device_grads, bytes, 0, 0};
    bench_copy_job up = {device_weights, pinned_weights, bytes, 0, 0};
    if (bench_copy_pair(&down, &up) < 0) /* warm-up */
        goto fail;
    for (int r = 0; r < repeats; r++) {
        if (bench_copy_pair(&down, &up) < 0)
            goto fail;
        double first = down.started < up.started ? down.started : up.started;
        double last = down.finished > up.finished ? down.finished : up.finished;
        bench_series_at(&series, 0)[r] = down.finished - down.started;
        bench_series_at(&series, 1)[r] = up.finished - up.started;
        bench_series_at(&series, 2)[r] = last - first;
    }
    *out = (bench_copy_times){bench_series_median(&series, 0), bench_series_median(&series, 1),
                              bench_series_median(&series, 2)};
    result = 0;
fail:
    free(series.samples);
    free(device_grads), free(pinned_grads), free(pinned_weights), free(device_weights);
    return result;
}

int bench_measure_update_alone(zo_adam *adam, const zo_settings *settings, zo_dtype dtype,
                               size_t params, int repeats, bench_update_times *out)
{
    int result = -1, threads = zo_adam_num_threads(adam);
    zo_dtype moments = settings->moments_dtype;
    bench_series series = {0};
    float *master = bench_alloc(params * sizeof(float), "master weights (update alone)");
    void *exp_avg = bench_alloc(params * zo_dtype_size(moments), "exp_avg (update alone)");
    void *exp_avg_sq = bench_alloc(params * zo_dtype_size(moments), "exp_avg_sq (update alone)");
    void *grad = bench_alloc(params * zo_dtype_size(dtype), "gradients (update alone)");
    void *weights_out = bench_alloc(params * zo_dtype_size(dtype), "weights out (update alone)");
    size_t blocks = moments == ZO_DTYPE_Q8 ? zo_q8_block_count(params) : 0; /* 8-bit moments' scales */
    float *exp_avg_scale = blocks ? bench_alloc(blocks * sizeof(float), "exp_avg scales (update alone)") : NULL;
    float *exp_avg_sq_scale = blocks ? bench_alloc(blocks * sizeof(float), "exp_avg_sq scales (update alone)") : NULL;
    if (!master || !exp_avg || !exp_avg_sq || !grad || !weights_out || (blocks && (!exp_avg_scale || !exp_avg_sq_scale)) ||
        bench_series_create(&series, repeats) < 0)
        goto fail;
    /* first touched by the threads that will run the kernels, as in the Adam benchmark */
    bench_fill(master, ZO_DTYPE_F32, params, -0.01f, 0.01f, threads);
    bench_fill(exp_avg, moments, params, 0.0f, 0.0f, threads);
    bench_fill(exp_avg_sq, moments, params, 0.0f, 0.0f, threads);
    bench_fill(grad, dtype, params, -0.01f, 0.01f, threads);
    bench_fill(weights_out, dtype, params, 0.0f, 0.0f, threads);
    if (blocks) {
        bench_fill(exp_avg_scale, ZO_DTYPE_F32, blocks, 0.0f, 0.0f, threads);
        bench_fill(exp_avg_sq_scale, ZO_DTYPE_F32, blocks, 0.0f, 0.0f, threads);
    }

    zo_adam_buffers buffers = {
        .n = params,
        .master = master,
        .exp_avg = exp_avg,
        .exp_avg_sq = exp_avg_sq,
        .moments_dtype = moments,
        .grad = grad,
        .grad_dtype = dtype,
        .grad_scale = 1.0f / 256.0f, /* any finite scale costs the same */
        .weights_out = weights_out,
        .weights_out_dtype = dtype,
        .exp_avg_scale = exp_avg_scale,
        .exp_avg_sq_scale = exp_avg_sq_scale,
    };
    zo_grad_stats stats;
    uint64_t step = 1;
    BENCH_CHECK_ZO(zo_adam_grad_stats(adam, grad, dtype, params, &stats)); /* warm-up */
    BENCH_CHECK_ZO(zo_adam_step(adam, &settings->adam, step++, &buffers));
    for (int r = 0; r < repeats; r++) {
        double start = now_seconds();
        BENCH_CHECK_ZO(zo_adam_grad_stats(adam, grad, dtype, params, &stats));
        double middle = now_seconds();
        BENCH_CHECK_ZO(zo_adam_step(adam, &settings->adam, step++, &buffers));
        double end = now_seconds();
        bench_series_at(&series, 0)[r] = middle - start;
        bench_series_at(&series, 1)[r] = end - middle;
        bench_series_at(&series, 2)[r] = end - start;
    }
    *out = (bench_update_times){bench_series_median(&series, 0), bench_series_median(&series, 1),
                                bench_series_median(&series, 2)};
    result = 0;
fail:
    free(series.samples);
    free(master), free(exp_avg), free(exp_avg_sq), free(grad), free(weights_out);
    free(exp_avg_scale), free(exp_avg_sq_scale);
    return result;
}

size_t bench_phases_bytes(const zo_settings *settings, zo_dtype dtype, size_t params)
{
    size_t update = params * (sizeof(float) + 2 * zo_dtype_size(settings->moments_dtype) +
                              2 * zo_dtype_size(dtype));
    size_t copies = 4 * params * zo_dtype_size(dtype);
    return update > copies ? update : copies;
}
