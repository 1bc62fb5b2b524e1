/* Drives a run: one kernel context per path compared (the first also runs the shared
 * kernels and the call overhead), sizes one at a time so only one size's buffers are
 * ever allocated, rows printed as soon as they are measured; then, if the config asks,
 * the engine benchmark, once the Adam buffers are freed. */
#include "suite.h"

#include <stdbool.h>
#include <stdlib.h>

#include "bench_adam.h"
#include "bench_engine.h"
#include "bench_fail.h"
#include "bind_variants.h"
#include "call_overhead.h"
#include "engine_report.h"
#include "machine.h"
#include "options.h"
#include "report.h"

/* Creates the contexts: per kernel path of the plan, one per --bind placement (just
 * one without --bind), context isa * placements + bind. Two paths that resolve to the
 * same one ("auto" next to the path it picks) are refused: their rows would be the
 * same kernel twice under one name. 0, or -1 after printing why not (the caller
 * destroys what exists). */
static int bench_contexts_create(const bench_plan *plan, const bench_binding *binding,
                                 zo_adam **contexts)
{
    size_t binds = binding->count ? binding->count : 1;
    for (size_t i = 0; i < plan->isa_count * binds; i++) {
        size_t k = i / binds;
        zo_adam_settings settings;
        zo_adam_default_settings(&settings);
        settings.isa = plan->isas[k];
        settings.num_threads = plan->threads;
        if (binding->count)
            bench_binding_apply(binding, bench_binding_of_context(binding, i), &settings);
        BENCH_CHECK_ZO(zo_adam_create(&settings, &contexts[i]));
        for (size_t earlier = 0; earlier < k; earlier++)
            if (zo_adam_isa(contexts[earlier * binds]) == zo_adam_isa(contexts[i]))
                return bench_fail("kernel paths %s and %s both run %s; list each path once",
                                  zo_cpu_isa_name(plan->isas[earlier]),
                                  zo_cpu_isa_name(plan->isas[k]),
                                  zo_cpu_isa_name(zo_adam_isa(contexts[i])));
    }
    return 0;
fail:
    return -1;
}

int bench_suite_run(const bench_plan *plan, const char *json_path)
{
    int result = -1;
    size_t row_count = 0;
    zo_adam *contexts[BENCH_MAX_ISAS * BENCH_MAX_BINDS] = {0};
    bench_binding binding;
    size_t context_count = plan->isa_count * (plan->bind_count ? plan->bind_count : 1);
    bench_engine_result engine;
    bool engine_measured = false;
    size_t rows_per_size = plan->mode_count * context_count;
    /* before any work: a size that cannot fit should not fail an hour into the run */
    for (size_t s = 0; s < plan->size_count; s++)
        if (bench_adam_check_memory(plan, plan->sizes[s]) < 0)
            return -1;
    bench_adam_row *rows = calloc(plan->size_count * rows_per_size, sizeof *rows);
    if (!rows)
        return bench_fail("cannot allocate the report's rows");
    if (bench_binding_prepare(&binding, plan) < 0 ||
        bench_contexts_create(plan, &binding, contexts) < 0)
        goto fail;
    bench_binding_print(&binding);

    bench_machine machine;
    bench_machine_describe(contexts[0], &machine);
    report_print_machine(&machine);
    report_print_adam_header(plan->repeats, plan->isa_count, zo_adam_isa(contexts[0]),
                             binding.count > 0);
    for (size_t s = 0; s < plan->size_count; s++) {
        if (bench_adam_measure_size(contexts, context_count, &binding, plan, plan->sizes[s],
                                    &rows[row_count]) < 0)
            goto fail;
        for (size_t k = 0; k < rows_per_size; k++)
            report_print_adam_row(&rows[row_count++]);
        report_print_mode_groups(&rows[row_count - rows_per_size], rows_per_size);
    }

    bench_call_overhead overhead;
    bench_binding_enter(&binding, 0);
    if (bench_measure_call_overhead(contexts[0], &overhead) < 0)
        goto fail;
    report_print_call_overhead(&overhead);

    if (plan->run_engine) {
        if (bench_engine_run(&plan->engine, &engine) != BENCH_DONE)
            goto fail;
        engine_measured = true;
        report_print_engine(&engine);
    }

    if (json_path && report_write_json(json_path, &machine, rows, row_count, &overhead,
                                       engine_measured ? &engine : NULL) < 0)
        goto fail;
    result = 0;
fail:
    if (engine_measured)
        bench_engine_result_release(&engine);
    for (size_t k = 0; k < row_count; k++)
        bench_adam_row_release(&rows[k]);
    free(rows);
    for (size_t k = 0; k < context_count; k++)
        zo_adam_destroy(&contexts[k]);
    bench_binding_release(&binding);
    return result;
}
