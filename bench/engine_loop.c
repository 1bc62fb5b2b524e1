/* The synthetic loop. The forward sleeps after waiting for a layer's weights, the
 * backward sleeps before declaring a layer's gradient ready: the order of a GPU's
 * kernels, with the host thread idle as it is while a GPU computes. */
#include "engine_loop.h"

#include <stdlib.h>

#include "bench_fail.h"
#include "buffers.h"
#include "timer.h"

int bench_loop_prepare(zo_engine *engine, const bench_model *model, int threads)
{
    int result = -1;
    float *master = bench_alloc(model->largest_layer_elems * sizeof(float), "master weights");
    if (!master)
        return -1;
    /* every layer starts from the same small values: the update's speed ignores them */
    bench_fill(master, ZO_DTYPE_F32, model->largest_layer_elems, -0.01f, 0.01f, threads);
    zo_dtype dtype = zo_engine_dtype(engine);
    for (size_t i = 0; i < model->layers; i++) {
        BENCH_CHECK_ZO(zo_engine_set_master(engine, i, master));
        /* small and finite in every dtype, so no step is skipped for an overflow */
        bench_fill(zo_engine_grads(engine, i), dtype, model->params[i].elems, -0.01f, 0.01f,
                   threads);
    }
    result = 0;
fail:
    free(master);
    return result;
}

int bench_loop_step(zo_engine *engine, size_t layers, double forward_seconds,
                    double backward_seconds, bench_loop_sample *sample)
{
    double waited = 0.0, readied = 0.0, started = now_seconds();
    for (size_t i = 0; i < layers; i++) {
        double before = now_seconds();
        BENCH_CHECK_ZO(zo_engine_wait_params(engine, i, NULL));
        waited += now_seconds() - before;
        sleep_seconds(forward_seconds);
    }
    for (size_t i = layers; i-- > 0;) {
        sleep_seconds(backward_seconds);
        double before = now_seconds();
        BENCH_CHECK_ZO(zo_engine_grad_ready(engine, i, NULL));
        readied += now_seconds() - before;
    }
    BENCH_CHECK_ZO(zo_engine_step(engine, &sample->info));
    sample->step_seconds = now_seconds() - started;
    sample->wait_params_seconds = waited;
    sample->grad_ready_seconds = readied;
    return 0;
fail:
    return -1;
}
