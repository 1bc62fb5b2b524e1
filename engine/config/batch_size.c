/* DeepSpeed's batch arithmetic (batch_size.h). */
#include "batch_size.h"

#include "checked_math.h"
#include "error.h"

/* DeepSpeed's batch arithmetic for one rank: train = micro * accumulation; what is
 * missing follows from the rest, what is given must agree. */
zo_status zo_resolve_accumulation(const zo_settings *s, uint64_t ranks, uint64_t *accumulation)
{
    uint64_t train = s->train_batch_size, micro = s->train_micro_batch_size_per_gpu,
             steps = s->gradient_accumulation_steps;
    /* products that overflow 64 bits can equal, or divide, no batch size */
    uint64_t micro_ranks = 0, steps_ranks = 0, whole = 0;
    bool micro_ranks_fits = zo_mul_checked(micro, ranks, &micro_ranks);
    bool steps_ranks_fits = zo_mul_checked(steps, ranks, &steps_ranks);
    bool whole_fits = micro_ranks_fits && zo_mul_checked(micro_ranks, steps, &whole);
    if (train && micro && steps && (!whole_fits || train != whole))
        return zo_fail(ZO_ERR_CONFIG,
                       "train_batch_size %llu != train_micro_batch_size_per_gpu %llu * "
                       "gradient_accumulation_steps %llu * %llu rank(s)%s",
                       (unsigned long long)train, (unsigned long long)micro,
                       (unsigned long long)steps, (unsigned long long)ranks,
                       whole_fits ? "" : " (the product overflows 64 bits)");
    if (train && micro && !steps) {
        if (!micro_ranks_fits || train % micro_ranks != 0)
            return zo_fail(ZO_ERR_CONFIG,
                           "train_batch_size %llu is not a multiple of "
                           "train_micro_batch_size_per_gpu %llu * %llu rank(s)",
                           (unsigned long long)train, (unsigned long long)micro,
                           (unsigned long long)ranks);
        steps = train / micro_ranks;
    }
    if (train && steps && !micro && (!steps_ranks_fits || train % steps_ranks != 0))
        return zo_fail(ZO_ERR_CONFIG,
                       "train_batch_size %llu is not a multiple of gradient_accumulation_steps "
                       "%llu * %llu rank(s)",
                       (unsigned long long)train, (unsigned long long)steps, (unsigned long long)ranks);
    *accumulation = steps ? steps : 1;
    return ZO_OK;
}
