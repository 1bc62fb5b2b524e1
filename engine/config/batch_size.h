/* DeepSpeed's batch arithmetic: train_batch_size = train_micro_batch_size_per_gpu x
 * gradient_accumulation_steps x ranks, what is missing following from the rest.
 * Internal. */
#ifndef ZO_CONFIG_BATCH_SIZE_H
#define ZO_CONFIG_BATCH_SIZE_H

#include <stdint.h>

#include "zo/config.h"

/* The micro-steps per optimizer step on `ranks` ranks (1 when nothing says otherwise).
 * ZO_ERR_CONFIG when the given sizes disagree, do not divide, or overflow 64 bits. */
zo_status zo_resolve_accumulation(const zo_settings *settings, uint64_t ranks, uint64_t *accumulation);

#endif
