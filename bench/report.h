/* The report of a run: a table on stdout as the rows come in, and the same figures
 * as JSON at the end. All rates use GB = 1e9 bytes. */
#ifndef ZO_BENCH_REPORT_H
#define ZO_BENCH_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "bench_adam.h"
#include "bench_engine.h"
#include "call_overhead.h"
#include "machine.h"

void report_print_machine(const bench_machine *machine);

/* The Adam table's title, legend and column headers; then one line per row. With
 * more than one kernel path the legend says that traffic and three-pass ran on the
 * first, `shared_isa`; with one, the table is as it always was. bind_column adds the
 * "bind" column of a --bind comparison (rows then carry their placement). */
void report_print_adam_header(int repeats, size_t isa_count, zo_cpu_isa shared_isa,
                              bool bind_column);
void report_print_adam_row(const bench_adam_row *row);

/* After a size's rows: a note for each group of modes that ran after the others
 * (bench_adam_row.mode_group), whose steps were not timed side by side. */
void report_print_mode_groups(const bench_adam_row *rows, size_t row_count);

void report_print_call_overhead(const bench_call_overhead *overhead);

/* The machine as a new JSON object, or NULL when it cannot be built. */
json_t *report_machine_json(const bench_machine *machine);

/* Writes {"machine": ..., "adam": [rows], "call_overhead": ..., "engine": ...} to
 * `path`, indented by 2. A row whose step ran on another path than its traffic and
 * three-pass kernels says which in "shared_kernels_isa"; rows of a one-path run never
 * have that key. overhead and engine may be NULL (not measured). 0 on success; -1
 * after printing why not. */
int report_write_json(const char *path, const bench_machine *machine, const bench_adam_row *rows,
                      size_t row_count, const bench_call_overhead *overhead,
                      const bench_engine_result *engine);

#endif
