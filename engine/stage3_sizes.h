/* ZeRO stage 3's device footprint: which parameters stay on the device for good
 * (persistent) and how large the pools of weight and gradient slots are. One rule,
 * used by the memory plan and by the engine that allocates. Internal. */
#ifndef ZO_STAGE3_SIZES_H
#define ZO_STAGE3_SIZES_H

#include <stdbool.h>
#include <stdint.h>

#include "partition.h"
#include "zo/config.h"

/* A parameter's footprint in a slot pool: its elements rounded up to whole
 * ZO_PARAM_ALIGN_ELEMS blocks, as the flat layout places it. */
static inline uint64_t zo_stage3_aligned(uint64_t elems)
{
    return (elems + ZO_PARAM_ALIGN_ELEMS - 1) / ZO_PARAM_ALIGN_ELEMS * ZO_PARAM_ALIGN_ELEMS;
}

typedef struct zo_stage3_sizes {
    uint64_t persistent_elems; /* the persistent parameters, each 64-element aligned   */
    uint64_t streamed_elems;   /* the others, each 64-element aligned                  */
    uint64_t largest_streamed; /* the largest streamed parameter, aligned (0: none)    */
    uint64_t pool_elems;       /* weight slots: stage3_max_live_parameters, at most the
                                  streamed total (the pool never needs more)           */
    uint64_t grad_pool_elems;  /* gradient slots: the same size, by the same rule      */
} zo_stage3_sizes;

/* Parameters smaller than stage3_param_persistence_threshold elements stay on the
 * device, first come first served, while their sum stays within
 * stage3_model_persistence_threshold (DeepSpeed's meaning of both). `persistent`, when
 * not NULL, gets one flag per parameter. Errors: ZO_ERR_CONFIG when
 * stage3_max_live_parameters cannot hold the largest streamed parameter (naming it). */
zo_status zo_stage3_sizes_for(const zo_settings *settings, const zo_partition *layout, bool *persistent,
                              zo_stage3_sizes *out);

#endif
