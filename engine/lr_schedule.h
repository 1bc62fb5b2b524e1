/* DeepSpeed's learning-rate schedules (WarmupLR, WarmupDecayLR, WarmupCosineLR) as a
 * pure function of the optimizer step. Internal. */
#ifndef ZO_LR_SCHEDULE_H
#define ZO_LR_SCHEDULE_H

#include <stdint.h>

#include "zo/config.h"

/* The learning rate of optimizer step `step` (1 for the first step taken; skipped
 * steps do not count, as DeepSpeed does not advance its scheduler on them).
 * DeepSpeed sets the initial lr at construction and advances the scheduler after each
 * step, so step 1 runs at the schedule's value for iteration -1 (its start value) and
 * step k > 1 at iteration k - 2. base_lr is optimizer.params.lr (WarmupCosineLR
 * scales it; the others replace it). */
double zo_lr_at_step(const zo_scheduler_settings *schedule, double base_lr, uint64_t step);

#endif
