/* The machine a report was measured on: kernel path, threads, CPU model, and the
 * OpenMP settings that change the figures (thread placement, waiting policy). */
#ifndef ZO_BENCH_MACHINE_H
#define ZO_BENCH_MACHINE_H

#include <stdbool.h>

#include "zo/adam.h"

typedef struct bench_machine {
    zo_cpu_isa isa;
    int threads;
    bool has_cpu_model;
    char cpu_model[128]; /* "model name" of /proc/cpuinfo, when readable */
    /* OMP_PROC_BIND, OMP_WAIT_POLICY, GOMP_SPINCOUNT as set, NULL when unset: they
     * decide what a step after an idle spell costs (the call-overhead figures) */
    const char *omp_proc_bind;
    const char *omp_wait_policy;
    const char *gomp_spincount;
} bench_machine;

void bench_machine_describe(const zo_adam *ctx, bench_machine *machine);

#endif
