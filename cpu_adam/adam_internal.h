/* What the GPU Adam needs of cpu_adam beyond the public API. Internal. */
#ifndef ZO_ADAM_INTERNAL_H
#define ZO_ADAM_INTERNAL_H

#include <stdint.h>

#include "kernels.h"
#include "zo/adam.h"

/* zo_adam_step's argument checks (each message names the bad field) and its
 * per-step constants, shared with the GPU Adam (engine/adam_cuda.cu) so that both
 * refuse the same arguments and compute with the very same coefficients. */
zo_status zo_adam_check_hparams(const zo_adam_hparams *hp, uint64_t step);
zo_status zo_adam_check_buffers(const zo_adam_buffers *b);
zo_adam_coeffs zo_adam_coeffs_for(const zo_adam_hparams *hp, uint64_t step, float grad_scale);

#endif
