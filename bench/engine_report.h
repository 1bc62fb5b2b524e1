/* The engine benchmark's report: a table on stdout and the same figures as a JSON
 * object, both computed from the same derived figures so they never disagree. */
#ifndef ZO_BENCH_ENGINE_REPORT_H
#define ZO_BENCH_ENGINE_REPORT_H

#include <jansson.h>

#include "bench_engine.h"

/* One line: this rank's step time, update time and host state (every rank prints it
 * under mpirun; rank 0 also prints the whole report). */
void report_print_engine_rank_line(const bench_engine_result *result);
void report_print_engine(const bench_engine_result *result);

/* The figures as a new JSON object, or NULL when it cannot be built. */
json_t *report_engine_json(const bench_engine_result *result);

/* Writes {"machine": ..., "engine": ...} to `path`, indented by 2. 0 on success; -1
 * after printing why not. */
int report_write_engine_json(const char *path, const bench_engine_result *result);

#endif
