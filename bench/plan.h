/* What one zo-bench run measures: the sizes, modes and kernel paths of the Adam
 * benchmark, how many repeats, how many threads, and whether the engine benchmark
 * follows. Filled from the command line or a config file. */
#ifndef ZO_BENCH_PLAN_H
#define ZO_BENCH_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_isa.h"
#include "bench_mode.h"
#include "bind_option.h"
#include "engine_options.h"

enum { BENCH_MAX_SIZES = 32, BENCH_MAX_BINDS = 3 };

typedef struct bench_plan {
    size_t sizes[BENCH_MAX_SIZES]; /* parameters per run, in the order given */
    size_t size_count;
    bench_mode modes[BENCH_MODE_COUNT]; /* each at most once, in the order given */
    size_t mode_count;
    zo_cpu_isa isas[BENCH_MAX_ISAS]; /* each at most once; the first also runs the traffic,
                                        triad and three-pass kernels and the call overhead */
    size_t isa_count;
    bench_bind binds[BENCH_MAX_BINDS]; /* --bind: the placements compared, each path's
                                          step timed under each in turn; none listed:
                                          no topology, workers pinned as by default */
    size_t bind_count;
    int repeats;     /* timed runs of each kernel; the report gives their median */
    int threads;     /* 0: OpenMP's default */
    bool run_engine; /* a suite config's "engine" section asks for the engine benchmark */
    bench_engine_options engine;
} bench_plan;

/* The defaults, also in bench/configs/default.json: sizes 1M 4M 16M 64M 256M, modes
 * fp32 and mixed, the auto kernel path, 5 repeats, OpenMP's thread count; no engine
 * benchmark (its options at their defaults, for a config that turns it on). */
void bench_plan_default(bench_plan *plan);

/* Each returns NULL on success or a message saying what is wrong with the value;
 * the caller says where the value came from. */
const char *bench_plan_add_size(bench_plan *plan, size_t params);
const char *bench_plan_add_mode(bench_plan *plan, bench_mode mode);
/* Refuses a path listed twice or one this CPU cannot run (zo_cpu_supports). */
const char *bench_plan_add_isa(bench_plan *plan, zo_cpu_isa isa);
/* Refuses a placement listed twice, or more than BENCH_MAX_BINDS. */
const char *bench_plan_add_bind(bench_plan *plan, const bench_bind *bind);
const char *bench_plan_set_repeats(bench_plan *plan, long long repeats);
const char *bench_plan_set_threads(bench_plan *plan, long long threads);

#endif
