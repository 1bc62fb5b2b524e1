/* The baseline the fused mixed-precision step is compared with: DeepSpeed's unfused
 * way, three passes over memory where the fused step makes one. */
#ifndef ZO_BENCH_THREE_PASS_H
#define ZO_BENCH_THREE_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "mode_arrays.h"
#include "zo/adam.h"

/* (1) unscales arrays->grad_f32 in place, (2) an fp32 Adam step number `step` on
 * master and fp32 moments, (3) converts master to the fp16 arrays->weights_out.
 * `call` counts the calls on these arrays from 0 (it decides the unscale factor).
 * ZO_OK, or the first failing zo call's status. */
zo_status bench_three_pass(zo_adam *ctx, const zo_adam_hparams *hparams, uint64_t step,
                           const bench_mode_arrays *arrays, size_t params, uint64_t call);

/* Bytes per parameter the three passes move: 8 + 28 + 6. */
size_t bench_three_pass_bytes_per_param(void);

#endif
