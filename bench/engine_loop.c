/* The synthetic loop. The forward sleeps after fetching a layer's weights, the
 * backward sleeps after fetching them again and before declaring the layer's gradient
 * ready: the order of a GPU's kernels, with the host thread idle as it is while a GPU
 * computes. Time inside zo_engine_fetch is the loop's stall. */
#include "engine_loop.h"

#include <stdlib.h>

#include "bench_fail.h"
#include "buffers.h"
#include "timer.h"

bool bench_engine_streams_weights(const zo_engine *engine)
{
    zo_memory_plan memory;
    return zo_engine_memory(engine, &memory) == ZO_OK && memory.stage3_pool_bytes > 0;
}

int bench_loop_prepare(zo_engine *engine, const bench_model *model, int threads)
{
    int result = -1;
    float *master = bench_alloc(model->largest_layer_elems * sizeof(float), "master weights");
    if (!master)
        return -1;
    /* every layer starts from the same small values: the update's speed ignores them */
    bench_fill(master, ZO_DTYPE_F32, model->largest_layer_elems, -0.01f, 0.01f, threads);
    zo_dtype dtype = zo_engine_dtype(engine);
    bool streamed = bench_engine_streams_weights(engine);
    for (size_t i = 0; i < model->layers; i++) {
        BENCH_CHECK_ZO(zo_engine_set_master(engine, i, master));
        /* small and finite in every dtype, so no step is skipped for an overflow */
        if (!streamed)
            bench_fill(zo_engine_grads(engine, i), dtype, model->params[i].elems, -0.01f, 0.01f,
                       threads);
    }
    result = 0;
fail:
    free(master);
    return result;
}

static void bench_timeline_add(bench_loop_timeline *timeline, double begin, double end,
                               bool stall, bool backward, size_t layer)
{
    if (timeline && timeline->count < timeline->capacity)
        timeline->spans[timeline->count++] = (bench_loop_span){begin, end, stall, backward, layer};
}

/* Fetches layer i, timing the stall; checks that its weights are there. */
static int bench_fetch(zo_engine *engine, size_t i, bool backward, bench_loop_sample *sample,
                       bench_loop_timeline *timeline)
{
    double before = now_seconds();
    BENCH_CHECK_ZO(zo_engine_fetch(engine, i, NULL));
    double after = now_seconds();
    sample->fetch_seconds += after - before;
    bench_timeline_add(timeline, before, after, true, backward, i);
    if (!zo_engine_weights(engine, i))
        return bench_fail("zo_engine_weights(%zu) after its fetch: %s", i, zo_last_error());
    return 0;
fail:
    return -1;
}

static void bench_compute(double seconds, bool backward, size_t layer, bench_loop_sample *sample,
                          bench_loop_timeline *timeline)
{
    double before = now_seconds();
    sleep_seconds(seconds);
    double after = now_seconds();
    sample->compute_seconds += after - before;
    bench_timeline_add(timeline, before, after, false, backward, layer);
}

int bench_loop_step(zo_engine *engine, size_t layers, double forward_seconds,
                    double backward_seconds, bench_loop_sample *sample,
                    bench_loop_timeline *timeline)
{
    *sample = (bench_loop_sample){0};
    if (timeline)
        timeline->count = 0;
    double started = now_seconds();
    for (size_t i = 0; i < layers; i++) {
        if (bench_fetch(engine, i, false, sample, timeline) < 0)
            return -1;
        bench_compute(forward_seconds, false, i, sample, timeline);
        BENCH_CHECK_ZO(zo_engine_release(engine, i, NULL));
    }
    for (size_t i = layers; i-- > 0;) {
        if (bench_fetch(engine, i, true, sample, timeline) < 0)
            return -1;
        /* the backward writes here (stage 3: a slot handed out now) */
        if (!zo_engine_grads(engine, i))
            return bench_fail("zo_engine_grads(%zu): %s", i, zo_last_error());
        bench_compute(backward_seconds, true, i, sample, timeline);
        double before = now_seconds();
        BENCH_CHECK_ZO(zo_engine_grad_ready(engine, i, NULL));
        sample->grad_ready_seconds += now_seconds() - before;
        BENCH_CHECK_ZO(zo_engine_release(engine, i, NULL));
    }
    BENCH_CHECK_ZO(zo_engine_step(engine, &sample->info));
    sample->step_seconds = now_seconds() - started;
    if (timeline) {
        timeline->step_began = started;
        timeline->step_ended = started + sample->step_seconds;
    }
    return 0;
fail:
    return -1;
}
