/* DeepSpeed's learning-rate schedules, against values worked out by hand from
 * deepspeed/runtime/lr_schedules.py. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <math.h>

#include "lr_schedule.h"
#include "zo/zo.h"

/* The formulas are a handful of double operations: 1e-12 relative is ample. */
#define expect_close(got, want) cr_expect(le(dbl, fabs((got) - (want)), 1e-12 * fabs(want) + 1e-15), "%.17g vs %.17g", (got), (want))

Test(lr_schedule, no_scheduler_keeps_the_optimizer_lr)
{
    zo_scheduler_settings s = {.kind = ZO_SCHEDULER_NONE};
    expect_close(zo_lr_at_step(&s, 3e-4, 1), 3e-4);
    expect_close(zo_lr_at_step(&s, 3e-4, 100000), 3e-4);
}

Test(lr_schedule, warmup_lr_log_and_linear)
{
    zo_scheduler_settings s = {.kind = ZO_SCHEDULER_WARMUP_LR, .warmup_min_lr = 0.0, .warmup_max_lr = 1e-3,
                               .warmup_num_steps = 100, .warmup_type = ZO_WARMUP_LOG};
    expect_close(zo_lr_at_step(&s, 9.0, 1), 0.0);                       /* set at construction */
    expect_close(zo_lr_at_step(&s, 9.0, 2), 0.0);                       /* iteration 0: log(1) = 0 */
    expect_close(zo_lr_at_step(&s, 9.0, 12), 1e-3 * log(11.0) / log(100.0)); /* iteration 10 */
    expect_close(zo_lr_at_step(&s, 9.0, 102), 1e-3);                    /* iteration 100: warm */
    s.warmup_type = ZO_WARMUP_LINEAR;
    s.warmup_min_lr = 1e-4;
    expect_close(zo_lr_at_step(&s, 9.0, 27), 1e-4 + 9e-4 * 25.0 / 100.0);
}

Test(lr_schedule, warmup_decay_lr_falls_linearly_to_zero)
{
    zo_scheduler_settings s = {.kind = ZO_SCHEDULER_WARMUP_DECAY_LR, .warmup_max_lr = 1e-3,
                               .warmup_num_steps = 10, .warmup_type = ZO_WARMUP_LINEAR, .total_num_steps = 110};
    expect_close(zo_lr_at_step(&s, 0, 7), 1e-3 * 5.0 / 10.0);         /* warming */
    expect_close(zo_lr_at_step(&s, 0, 12), 1e-3);                     /* iteration 10: (110-10)/100 */
    expect_close(zo_lr_at_step(&s, 0, 62), 1e-3 * 50.0 / 100.0);      /* iteration 60 */
    expect_close(zo_lr_at_step(&s, 0, 500), 0.0);                     /* past the end: clamped */
}

Test(lr_schedule, warmup_cosine_lr_scales_the_optimizer_lr)
{
    zo_scheduler_settings s = {.kind = ZO_SCHEDULER_WARMUP_COSINE_LR, .warmup_num_steps = 10,
                               .warmup_type = ZO_WARMUP_LINEAR, .total_num_steps = 110,
                               .warmup_min_ratio = 0.1, .cos_min_ratio = 0.01};
    expect_close(zo_lr_at_step(&s, 2e-3, 1), 2e-3 * 0.1);
    expect_close(zo_lr_at_step(&s, 2e-3, 7), 2e-3 * (0.1 + 0.5 * 0.9)); /* iteration 5 */
    double ratio = 0.01 + 0.99 * (1.0 + cos(3.14159265358979323846 * 51.0 / 100.0)) / 2.0; /* iteration 60 */
    expect_close(zo_lr_at_step(&s, 2e-3, 62), 2e-3 * ratio);
    expect_close(zo_lr_at_step(&s, 2e-3, 111), 2e-3 * (0.01 + 0.99 * (1.0 + cos(3.14159265358979323846)) / 2.0));
}
