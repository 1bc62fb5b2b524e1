/* The kernel paths zo-bench can be asked to compare, by the names zo_cpu_isa_name()
 * gives them (also the values of the ZO_CPU_ISA environment variable). */
#ifndef ZO_BENCH_ISA_H
#define ZO_BENCH_ISA_H

#include <stdbool.h>

#include "zo/adam.h"

/* Enough for every zo_cpu_isa, each listed once. */
enum { BENCH_MAX_ISAS = 5 };

/* The path called `name`; false if there is none. */
bool bench_isa_from_name(const char *name, zo_cpu_isa *isa);

/* "auto, scalar, avx2, avx512, avx512bf16": for error messages and --help. */
const char *bench_isa_names(void);

#endif
