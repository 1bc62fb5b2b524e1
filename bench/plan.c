/* The benchmark plan: its defaults and the checks every value goes through, whether
 * it came from the command line or a config file. */
#include "plan.h"

#include <stdio.h>
#include <string.h>

/* Far beyond any machine this runs on; stops a typo from asking for a million. */
enum { BENCH_MAX_THREADS = 4096 };

void bench_plan_default(bench_plan *plan)
{
    *plan = (bench_plan){.repeats = 5, .threads = 0};
    static const size_t default_sizes_m[] = {1, 4, 16, 64, 256};
    for (size_t k = 0; k < sizeof default_sizes_m / sizeof default_sizes_m[0]; k++)
        plan->sizes[plan->size_count++] = default_sizes_m[k] << 20;
    plan->modes[plan->mode_count++] = BENCH_MODE_FP32;
    plan->modes[plan->mode_count++] = BENCH_MODE_MIXED;
    plan->isas[plan->isa_count++] = ZO_CPU_ISA_AUTO;
    bench_engine_options_default(&plan->engine);
}

const char *bench_plan_add_size(bench_plan *plan, size_t params)
{
    if (params == 0)
        return "a size must be at least 1 parameter";
    if (plan->size_count == BENCH_MAX_SIZES)
        return "too many sizes (at most 32)";
    plan->sizes[plan->size_count++] = params;
    return NULL;
}

const char *bench_plan_add_mode(bench_plan *plan, bench_mode mode)
{
    for (size_t k = 0; k < plan->mode_count; k++)
        if (plan->modes[k] == mode)
            return "this mode is listed twice";
    plan->modes[plan->mode_count++] = mode;
    return NULL;
}

const char *bench_plan_add_isa(bench_plan *plan, zo_cpu_isa isa)
{
    /* static: the message names the path, and plans are built by one thread */
    static char unsupported[128];
    for (size_t k = 0; k < plan->isa_count; k++)
        if (plan->isas[k] == isa)
            return "this kernel path is listed twice";
    if (!zo_cpu_supports(isa)) {
        snprintf(unsupported, sizeof unsupported,
                 "this CPU cannot run the %s kernels (the best it has is %s)", zo_cpu_isa_name(isa),
                 zo_cpu_isa_name(zo_cpu_best_isa()));
        return unsupported;
    }
    plan->isas[plan->isa_count++] = isa;
    return NULL;
}

const char *bench_plan_add_bind(bench_plan *plan, const bench_bind *bind)
{
    for (size_t k = 0; k < plan->bind_count; k++)
        if (strcmp(bench_bind_name(&plan->binds[k]), bench_bind_name(bind)) == 0)
            return "this placement is listed twice";
    if (plan->bind_count == BENCH_MAX_BINDS)
        return "too many placements (at most 3)";
    plan->binds[plan->bind_count++] = *bind;
    return NULL;
}

const char *bench_plan_set_repeats(bench_plan *plan, long long repeats)
{
    if (repeats < 1 || repeats > 1000000)
        return "repeats must be between 1 and 1000000";
    plan->repeats = (int)repeats;
    return NULL;
}

const char *bench_plan_set_threads(bench_plan *plan, long long threads)
{
    if (threads < 0 || threads > BENCH_MAX_THREADS)
        return "threads must be between 0 (OpenMP's default) and 4096";
    plan->threads = (int)threads;
    return NULL;
}
