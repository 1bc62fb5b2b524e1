/* The Adam benchmark: buffers per mode, one warm-up call of each kernel, then the
 * kernels interleaved in one loop so that a slow spell of the machine (a neighbour,
 * frequency scaling) hits every kernel alike and their ratios stay meaningful; the
 * same holds between kernel paths, whose steps take turns in that loop, and between
 * the modes of a size, as many as fit in memory at once. */
#include "bench_adam.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fail.h"
#include "buffers.h"
#include "median.h"
#include "mode_compare.h"
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

/* One mode's part of a size's measurement: its buffers, its rows (one per context),
 * and the step counters its calls go on with. */
typedef struct bench_mode_run {
    bool three_pass;
    bench_mode_arrays arrays;
    zo_adam_buffers fused;
    bench_adam_row *rows;
    size_t rows_started;
    uint64_t step, three_pass_calls;
} bench_mode_run;

/* What every mode of a size's repeat loop shares. */
typedef struct bench_size_loop {
    zo_adam *const *contexts;
    size_t context_count;
    bench_binding *binding;
    const bench_plan *plan;
    size_t params;
    bench_triad *triad;
    zo_adam_hparams hparams;
} bench_size_loop;

static void bench_mode_run_release(bench_mode_run *run)
{
    bench_mode_arrays_free(&run->arrays);
    while (run->rows_started > 0)
        bench_adam_row_release(&run->rows[--run->rows_started]);
}

/* Rows, buffers and one warm-up call of each kernel (it wakes the thread team and
 * settles caches and TLBs). 0, or -1 after printing why (release the run then). */
static int bench_mode_run_start(bench_mode_run *run, const bench_size_loop *loop, bench_mode mode,
                                bench_adam_row *rows)
{
    zo_adam *shared = loop->contexts[0];
    *run = (bench_mode_run){.three_pass = mode == BENCH_MODE_MIXED, .rows = rows, .step = 1};
    for (; run->rows_started < loop->context_count; run->rows_started++)
        if (bench_row_init(&rows[run->rows_started], loop->contexts[run->rows_started], zo_adam_isa(shared),
                           loop->plan, loop->params, mode, loop->triad) < 0) {
            run->rows_started++; /* its samples may be half set up: release it too */
            return -1;
        }
    for (size_t i = 0; i < loop->context_count; i++)
        rows[i].bind = bench_binding_name(loop->binding, i);
    const bench_mode_info *info = bench_mode_info_of(mode);
    if (bench_mode_arrays_create(&run->arrays, loop->params, info, run->three_pass, zo_adam_num_threads(shared)) < 0)
        return -1;
    run->fused = bench_mode_arrays_fused(&run->arrays, loop->params, info);
    for (size_t i = 0; i < loop->context_count; i++) {
        bench_binding_enter(loop->binding, bench_binding_of_context(loop->binding, i));
        BENCH_CHECK_ZO(zo_adam_step(loop->contexts[i], &loop->hparams, run->step++, &run->fused));
    }
    bench_binding_enter(loop->binding, 0); /* the shared kernels run on contexts[0] */
    BENCH_CHECK_ZO(zo_adam_traffic_only(shared, &run->fused));
    if (run->three_pass)
        BENCH_CHECK_ZO(bench_three_pass(shared, &loop->hparams, run->step++, &run->arrays, loop->params,
                                        run->three_pass_calls++));
    return 0;
fail:
    return -1;
}

/* Repeat r of one mode: the step of each context in turn, then traffic and (mixed)
 * three-pass on contexts[0]; their samples go to rows[i] and rows[0]. */
static int bench_mode_run_repeat(bench_mode_run *run, const bench_size_loop *loop, int r)
{
    int repeats = loop->plan->repeats;
    zo_adam *shared = loop->contexts[0];
    for (size_t i = 0; i < loop->context_count; i++) {
        /* a switch of placement moves threads: one untimed call lets them settle */
        if (bench_binding_enter(loop->binding, bench_binding_of_context(loop->binding, i)))
            BENCH_CHECK_ZO(zo_adam_step(loop->contexts[i], &loop->hparams, run->step++, &run->fused));
        double start = now_seconds();
        BENCH_CHECK_ZO(zo_adam_step(loop->contexts[i], &loop->hparams, run->step++, &run->fused));
        run->rows[i].samples[BENCH_KERNEL_STEP * repeats + r] = now_seconds() - start;
    }
    double *shared_samples = run->rows[0].samples;
    if (bench_binding_enter(loop->binding, 0))
        BENCH_CHECK_ZO(zo_adam_traffic_only(shared, &run->fused));
    double start = now_seconds();
    BENCH_CHECK_ZO(zo_adam_traffic_only(shared, &run->fused));
    shared_samples[BENCH_KERNEL_TRAFFIC * repeats + r] = now_seconds() - start;
    if (run->three_pass) {
        start = now_seconds();
        BENCH_CHECK_ZO(bench_three_pass(shared, &loop->hparams, run->step++, &run->arrays, loop->params,
                                        run->three_pass_calls++));
        shared_samples[BENCH_KERNEL_THREE_PASS * repeats + r] = now_seconds() - start;
    }
    return 0;
fail:
    return -1;
}

/* The bytes one mode's buffers take at `params`. */
static double bench_mode_footprint(bench_mode mode, size_t params)
{
    size_t per_param = bench_mode_footprint_per_param(mode) + (mode == BENCH_MODE_MIXED ? sizeof(float) : 0);
    return (double)per_param * (double)params;
}

static double bench_triad_footprint(size_t params)
{
    return (double)bench_mode_footprint_per_param(BENCH_MODE_MIXED) * (double)params;
}

int bench_adam_check_memory(const bench_plan *plan, size_t params)
{
    /* in double: a count near SIZE_MAX must be refused, not wrap around */
    double largest_mode_bytes = 0.0;
    for (size_t k = 0; k < plan->mode_count; k++)
        if (bench_mode_footprint(plan->modes[k], params) > largest_mode_bytes)
            largest_mode_bytes = bench_mode_footprint(plan->modes[k], params);
    double triad_bytes = bench_triad_footprint(params);
    double needed = largest_mode_bytes + triad_bytes;
    double available = (double)zo_host_available_bytes();
    if (available > 0.0 && needed > available)
        return bench_fail("%zu parameters need %.2f GB (Adam buffers %.2f GB + triad %.2f GB) "
                          "but only %.2f GB of memory are available; choose smaller sizes",
                          params, 1e-9 * needed, 1e-9 * largest_mode_bytes, 1e-9 * triad_bytes,
                          1e-9 * available);
    return 0;
}

/* How many modes from plan->modes[first] on fit in memory together, a tenth of what
 * is available left to the rest of the machine. */
static size_t bench_modes_fitting_from(const bench_plan *plan, size_t params, size_t first)
{
    double footprints[BENCH_MODE_COUNT];
    size_t count = plan->mode_count - first;
    for (size_t m = 0; m < count; m++)
        footprints[m] = bench_mode_footprint(plan->modes[first + m], params);
    return bench_modes_fitting_together(footprints, count, bench_triad_footprint(params),
                                        0.9 * (double)zo_host_available_bytes());
}

/* Each row's step against the first mode's of its group on the same context
 * (bench_paired_speedup). */
static void bench_rows_compare_modes(bench_adam_row *rows, size_t mode_count, size_t context_count)
{
    size_t repeats = (size_t)rows[0].repeats;
    for (size_t m = 0; m < mode_count; m++)
        for (size_t i = 0; i < context_count; i++) {
            bench_adam_row *row = &rows[m * context_count + i];
            const bench_adam_row *first = &rows[i];
            row->first_mode = first->mode;
            row->speed_vs_first_mode =
                bench_paired_speedup(first->samples + BENCH_KERNEL_STEP * repeats,
                                     row->samples + BENCH_KERNEL_STEP * repeats, repeats);
        }
}

/* Modes [first, first + count) side by side: per repeat each mode in turn, then the
 * triad (shared by them all). rows[m * context_count + i] is mode first + m's row of
 * context i. */
static int bench_measure_modes(const bench_size_loop *loop, size_t first, size_t count, bench_adam_row *rows)
{
    const bench_plan *plan = loop->plan;
    int repeats = plan->repeats, result = -1;
    size_t started = 0, context_count = loop->context_count;
    bench_mode_run *runs = calloc(count, sizeof *runs);
    double *triad_samples = calloc((size_t)repeats, sizeof *triad_samples);
    if (!runs || !triad_samples) {
        bench_fail("cannot allocate the benchmark's bookkeeping");
        goto done;
    }
    for (; started < count; started++)
        if (bench_mode_run_start(&runs[started], loop, plan->modes[first + started],
                                 &rows[started * context_count]) < 0) {
            started++; /* release its half-made part too */
            goto done;
        }
    bench_triad_run(loop->triad);
    for (int r = 0; r < repeats; r++) {
        for (size_t m = 0; m < count; m++)
            if (bench_mode_run_repeat(&runs[m], loop, r) < 0)
                goto done;
        double start = now_seconds();
        bench_triad_run(loop->triad);
        triad_samples[r] = now_seconds() - start;
    }
    for (size_t m = 0; m < count; m++) {
        memcpy(runs[m].rows[0].samples + (size_t)BENCH_KERNEL_TRIAD * (size_t)repeats, triad_samples,
               (size_t)repeats * sizeof *triad_samples);
        bench_rows_finish(runs[m].rows, context_count);
        bench_mode_arrays_free(&runs[m].arrays);
    }
    bench_rows_compare_modes(rows, count, context_count);
    result = 0;
done:
    if (result < 0)
        while (started > 0)
            bench_mode_run_release(&runs[--started]);
    free(runs);
    free(triad_samples);
    return result;
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
    bench_triad triad = {0};
    if (bench_triad_create(&triad, triad_elems, zo_adam_num_threads(contexts[0])) < 0)
        return -1;
    bench_size_loop loop = {.contexts = contexts,
                            .context_count = context_count,
                            .binding = binding,
                            .plan = plan,
                            .params = params,
                            .triad = &triad};
    /* AdamW with a typical decay, so the step does all the arithmetic a run does */
    zo_adam_default_hparams(&loop.hparams);
    loop.hparams.weight_decay = 0.01f;
    size_t modes_done = 0;
    int group = 0;
    while (modes_done < plan->mode_count) {
        size_t count = bench_modes_fitting_from(plan, params, modes_done);
        bench_adam_row *group_rows = &rows[modes_done * context_count];
        if (bench_measure_modes(&loop, modes_done, count, group_rows) < 0)
            goto fail;
        for (size_t k = 0; k < count * context_count; k++)
            group_rows[k].mode_group = group;
        modes_done += count;
        group++;
    }
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
