/* The schedules of deepspeed/runtime/lr_schedules.py, iteration by iteration. */
#include "lr_schedule.h"

#include <math.h>

/* DeepSpeed clamps warmup_num_steps to at least 2 (log(1) would divide by zero). */
static double zo_warmup_steps(const zo_scheduler_settings *s)
{
    return s->warmup_num_steps < 2 ? 2.0 : (double)s->warmup_num_steps;
}

/* The fraction of the warm-up done at `iteration` (< warmup steps). */
static double zo_warmup_fraction(const zo_scheduler_settings *s, double iteration)
{
    double steps = zo_warmup_steps(s);
    if (s->warmup_type == ZO_WARMUP_LOG)
        return log(iteration + 1.0) / log(steps);
    return iteration / steps;
}

static double zo_warmup_gamma(const zo_scheduler_settings *s, double iteration)
{
    return iteration < zo_warmup_steps(s) ? zo_warmup_fraction(s, iteration) : 1.0;
}

static double zo_decay_gamma(const zo_scheduler_settings *s, double iteration)
{
    double warmup = zo_warmup_steps(s);
    if (iteration < warmup)
        return zo_warmup_fraction(s, iteration);
    double remaining = (double)s->total_num_steps - iteration;
    double span = fmax(1.0, (double)s->total_num_steps - warmup);
    return fmax(0.0, remaining / span);
}

static double zo_cosine_ratio(const zo_scheduler_settings *s, double iteration)
{
    double warmup = (double)s->warmup_num_steps;
    if (iteration < warmup) {
        double fraction = s->warmup_type == ZO_WARMUP_LOG
                              ? log(iteration + 1.0) / log(fmax(2.0, warmup))
                              : iteration / warmup;
        return s->warmup_min_ratio + fraction * (1.0 - s->warmup_min_ratio);
    }
    double done = iteration - warmup + 1.0;
    double span = fmax(1.0, (double)s->total_num_steps - warmup);
    double cosine = (1.0 + cos(3.14159265358979323846 * done / span)) / 2.0;
    return fmax(0.0, s->cos_min_ratio + (1.0 - s->cos_min_ratio) * cosine);
}

double zo_lr_at_step(const zo_scheduler_settings *s, double base_lr, uint64_t step)
{
    double delta = s->warmup_max_lr - s->warmup_min_lr;
    if (s->kind == ZO_SCHEDULER_NONE)
        return base_lr;
    if (step <= 1) /* the value set at construction */
        return s->kind == ZO_SCHEDULER_WARMUP_COSINE_LR ? base_lr * s->warmup_min_ratio
                                                        : s->warmup_min_lr;
    double iteration = (double)(step - 2);
    switch (s->kind) {
    case ZO_SCHEDULER_WARMUP_LR: return s->warmup_min_lr + delta * zo_warmup_gamma(s, iteration);
    case ZO_SCHEDULER_WARMUP_DECAY_LR: return s->warmup_min_lr + delta * zo_decay_gamma(s, iteration);
    case ZO_SCHEDULER_WARMUP_COSINE_LR: return base_lr * zo_cosine_ratio(s, iteration);
    default: return base_lr;
    }
}
