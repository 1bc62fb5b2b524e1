/* The Adam benchmark: buffers per mode, one warm-up call of each kernel, then the
 * kernels interleaved in one loop so that a slow spell of the machine (a neighbour,
 * frequency scaling) hits every kernel alike and their ratios stay meaningful; the
 * same holds between kernel paths, whose steps take turns in that loop. */
#include "bench_adam.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"
#include "buffers.h"
#include "median.h"
#include "mode_arrays.h"
#include "stream_triad.h"
#include "three_pass.h"
#include "timer.h"
#include "zo/engine.h"

const char *bench_kernel_name(bench_kernel kernel)
{
    static const char *const names[BENCH_KERNEL_COUNT] = {"step", "traffic", "triad", "three_pass"};
    return names[kernel];
}

/* Sets up the row of `ctx`'s step: what each kernel moves, room for the samples.
 * 0, or -1 after printing why not (the row is then safe to release). */
static int bench_row_init(bench_adam_row *row, const zo_adam *ctx, zo_cpu_isa shared_isa,
                          const bench_plan *plan, size_t params, bench_mode mode,
                          const bench_triad *triad)
{
    bool three_pass = mode == BENCH_MODE_MIXED;
    size_t step_bytes = bench_mode_bytes_moved(mode, params);
    *row = (bench_adam_row){.params = params,
                            .mode = mode,
                            .isa = zo_adam_isa(ctx),
                            .shared_isa = shared_isa,
                            .threads = zo_adam_num_threads(ctx),
                            .repeats = plan->repeats,
                            .measured = {[BENCH_KERNEL_STEP] = true,
                                         [BENCH_KERNEL_TRAFFIC] = true,
                                         [BENCH_KERNEL_TRIAD] = true,
                                         [BENCH_KERNEL_THREE_PASS] = three_pass},
                            .bytes = {[BENCH_KERNEL_STEP] = step_bytes,
                                      [BENCH_KERNEL_TRAFFIC] = step_bytes,
                                      [BENCH_KERNEL_TRIAD] = bench_triad_bytes(triad)}};
    if (three_pass)
        row->bytes[BENCH_KERNEL_THREE_PASS] = params * bench_three_pass_bytes_per_param();
    row->samples = calloc((size_t)BENCH_KERNEL_COUNT * (size_t)plan->repeats, sizeof(double));
    return row->samples ? 0 : bench_fail("cannot allocate the timing samples");
}

/* Gives every row the first row's samples of the kernels they share, then medians. */
static void bench_rows_finish(bench_adam_row *rows, size_t row_count)
{
    size_t repeats = (size_t)rows[0].repeats;
    for (size_t i = 0; i < row_count; i++)
        for (int k = 0; k < BENCH_KERNEL_COUNT; k++) {
            double *samples = rows[i].samples + (size_t)k * repeats;
            if (!rows[i].measured[k])
                continue;
            if (i > 0 && k != BENCH_KERNEL_STEP)
                memcpy(samples, rows[0].samples + (size_t)k * repeats, repeats * sizeof *samples);
            rows[i].median_seconds[k] = bench_median(samples, repeats);
        }
}

/* One mode: per repeat, the step of each context in turn, then traffic, triad and
 * (mixed) three-pass on contexts[0]. rows[i] is context i's. */
static int bench_measure_mode(zo_adam *const *contexts, size_t context_count,
                              bench_binding *binding, const bench_plan *plan, size_t params, bench_mode mode,
                              const bench_triad *triad, bench_adam_row *rows)
{
    const bench_mode_info *info = bench_mode_info_of(mode);
    zo_adam *shared = contexts[0];
    int repeats = plan->repeats;
    bool three_pass = mode == BENCH_MODE_MIXED;
    bench_mode_arrays arrays = {0};
    size_t rows_started = 0;

    for (; rows_started < context_count; rows_started++)
        if (bench_row_init(&rows[rows_started], contexts[rows_started], zo_adam_isa(shared), plan,
                           params, mode, triad) < 0) {
            rows_started++; /* its samples may be half set up: release it too */
            goto fail;
        }
    for (size_t i = 0; i < context_count; i++)
        rows[i].bind = bench_binding_name(binding, i);
    if (bench_mode_arrays_create(&arrays, params, info, three_pass, zo_adam_num_threads(shared)) <
        0)
        goto fail;

    /* AdamW with a typical decay, so the step does all the arithmetic a run does */
    zo_adam_hparams hparams;
    zo_adam_default_hparams(&hparams);
    hparams.weight_decay = 0.01f;
    zo_adam_buffers fused = bench_mode_arrays_fused(&arrays, params, info);
    uint64_t step = 1, three_pass_calls = 0;

    /* warm-up: wakes the thread team and settles caches and TLBs for each kernel */
    for (size_t i = 0; i < context_count; i++) {
        bench_binding_enter(binding, bench_binding_of_context(binding, i));
        BENCH_CHECK_ZO(zo_adam_step(contexts[i], &hparams, step++, &fused));
    }
    bench_binding_enter(binding, 0); /* the shared kernels run on contexts[0] */
    BENCH_CHECK_ZO(zo_adam_traffic_only(shared, &fused));
    bench_triad_run(triad);
    if (three_pass)
        BENCH_CHECK_ZO(
            bench_three_pass(shared, &hparams, step++, &arrays, params, three_pass_calls++));

    for (int r = 0; r < repeats; r++) {
        double *shared_samples = rows[0].samples;
        for (size_t i = 0; i < context_count; i++) {
            /* a switch of placement moves threads: one untimed call lets them settle */
            if (bench_binding_enter(binding, bench_binding_of_context(binding, i)))
                BENCH_CHECK_ZO(zo_adam_step(contexts[i], &hparams, step++, &fused));
            double start = now_seconds();
            BENCH_CHECK_ZO(zo_adam_step(contexts[i], &hparams, step++, &fused));
            rows[i].samples[BENCH_KERNEL_STEP * repeats + r] = now_seconds() - start;
        }

        if (bench_binding_enter(binding, 0))
            BENCH_CHECK_ZO(zo_adam_traffic_only(shared, &fused));
        double start = now_seconds();
        BENCH_CHECK_ZO(zo_adam_traffic_only(shared, &fused));
        shared_samples[BENCH_KERNEL_TRAFFIC * repeats + r] = now_seconds() - start;

        start = now_seconds();
        bench_triad_run(triad);
        shared_samples[BENCH_KERNEL_TRIAD * repeats + r] = now_seconds() - start;

        if (three_pass) {
            start = now_seconds();
            BENCH_CHECK_ZO(
                bench_three_pass(shared, &hparams, step++, &arrays, params, three_pass_calls++));
            shared_samples[BENCH_KERNEL_THREE_PASS * repeats + r] = now_seconds() - start;
        }
    }
    bench_rows_finish(rows, context_count);
    bench_mode_arrays_free(&arrays);
    return 0;
fail:
    bench_mode_arrays_free(&arrays);
    while (rows_started > 0)
        bench_adam_row_release(&rows[--rows_started]);
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
    double available = (double)zo_host_available_bytes();
    if (available > 0.0 && needed > available)
        return bench_fail("%zu parameters need %.2f GB (Adam buffers %.2f GB + triad %.2f GB) "
                          "but only %.2f GB of memory are available; choose smaller sizes",
                          params, 1e-9 * needed, 1e-9 * largest_mode_bytes, 1e-9 * triad_bytes,
                          1e-9 * available);
    return 0;
}

int bench_adam_measure_size(zo_adam *const *contexts, size_t context_count,
                            bench_binding *binding, const bench_plan *plan, size_t params,
                            bench_adam_row *rows)
{
    if (bench_adam_check_memory(plan, params) < 0)
        return -1;
    /* One triad per size, on the mixed step's working set, shared by all modes */
    size_t triad_elems =
        params * bench_mode_footprint_per_param(BENCH_MODE_MIXED) / (3 * sizeof(double));
    size_t modes_done = 0;
    bench_triad triad = {0};
    if (bench_triad_create(&triad, triad_elems, zo_adam_num_threads(contexts[0])) < 0)
        return -1;
    for (; modes_done < plan->mode_count; modes_done++)
        if (bench_measure_mode(contexts, context_count, binding, plan, params, plan->modes[modes_done],
                               &triad, &rows[modes_done * context_count]) < 0)
            goto fail;
    bench_triad_destroy(&triad);
    return 0;
fail:
    for (size_t k = 0; k < modes_done * context_count; k++)
        bench_adam_row_release(&rows[k]);
    bench_triad_destroy(&triad);
    return -1;
}

void bench_adam_row_release(bench_adam_row *row)
{
    free(row->samples);
    row->samples = NULL;
}
