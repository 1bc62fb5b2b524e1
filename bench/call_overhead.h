/* What a small zo_adam_step call costs: back to back, while the OpenMP team is still
 * spinning, and after an idle spell, when the team has gone to sleep and must be
 * woken. The difference is the price of a step that follows a pause. */
#ifndef ZO_BENCH_CALL_OVERHEAD_H
#define ZO_BENCH_CALL_OVERHEAD_H

#include <stddef.h>

#include "zo/adam.h"

typedef struct bench_call_overhead {
    size_t params; /* threads * 16384: the smallest size that uses all threads */
    int threads;
    int warm_calls; /* back to back */
    double warm_median_seconds;
    int idle_calls; /* each after a sleep of idle_seconds */
    double idle_seconds;
    double after_idle_median_seconds;
} bench_call_overhead;

/* Times mixed-mode steps of out->params parameters with ctx's threads. 0 on success;
 * -1 after printing why not. */
int bench_measure_call_overhead(zo_adam *ctx, bench_call_overhead *out);

#endif
