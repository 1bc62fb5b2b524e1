/* One zo-bench run: the Adam benchmark over the plan's sizes, the call overhead,
 * the table on stdout and, if asked, the JSON report. */
#ifndef ZO_BENCH_SUITE_H
#define ZO_BENCH_SUITE_H

#include "plan.h"

/* Runs `plan`; writes the JSON report to json_path unless it is NULL. 0 on success;
 * -1 after printing why not. */
int bench_suite_run(const bench_plan *plan, const char *json_path);

#endif
