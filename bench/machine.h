/* The machine a report was measured on: kernel path, threads, CPU model. */
#ifndef ZO_BENCH_MACHINE_H
#define ZO_BENCH_MACHINE_H

#include <stdbool.h>

#include "zo/adam.h"

typedef struct bench_machine {
    zo_cpu_isa isa;
    int threads;
    bool has_cpu_model;
    char cpu_model[128]; /* "model name" of /proc/cpuinfo, when readable */
} bench_machine;

void bench_machine_describe(const zo_adam *ctx, bench_machine *machine);

#endif
