/* Drives a run: one kernel context for everything, sizes one at a time so only one
 * size's buffers are ever allocated, rows printed as soon as they are measured. */
#include "suite.h"

#include <stdlib.h>

#include "bench_adam.h"
#include "bench_fail.h"
#include "call_overhead.h"
#include "machine.h"
#include "report.h"

int bench_suite_run(const bench_plan *plan, const char *json_path)
{
    int result = -1;
    size_t row_count = 0;
    zo_adam *ctx = NULL;
    /* before any work: a size that cannot fit should not fail an hour into the run */
    for (size_t s = 0; s < plan->size_count; s++)
        if (bench_adam_check_memory(plan, plan->sizes[s]) < 0)
            return -1;
    bench_adam_row *rows = calloc(plan->size_count * plan->mode_count, sizeof *rows);
    if (!rows)
        return bench_fail("cannot allocate the report's rows");

    zo_adam_settings settings;
    zo_adam_default_settings(&settings);
    settings.num_threads = plan->threads;
    BENCH_CHECK_ZO(zo_adam_create(&ctx, &settings));

    bench_machine machine;
    bench_machine_describe(ctx, &machine);
    report_print_machine(&machine);
    report_print_adam_header(plan->repeats);
    for (size_t s = 0; s < plan->size_count; s++) {
        if (bench_adam_measure_size(ctx, plan, plan->sizes[s], &rows[row_count]) < 0)
            goto fail;
        for (size_t m = 0; m < plan->mode_count; m++)
            report_print_adam_row(&rows[row_count++]);
    }

    bench_call_overhead overhead;
    if (bench_measure_call_overhead(ctx, &overhead) < 0)
        goto fail;
    report_print_call_overhead(&overhead);

    if (json_path && report_write_json(json_path, &machine, rows, row_count, &overhead) < 0)
        goto fail;
    result = 0;
fail:
    for (size_t k = 0; k < row_count; k++)
        bench_adam_row_release(&rows[k]);
    free(rows);
    zo_adam_destroy(&ctx);
    return result;
}
