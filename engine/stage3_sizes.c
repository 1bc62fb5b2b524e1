/* ZeRO stage 3's persistent parameters and slot pools (stage3_sizes.h). */
#include "stage3_sizes.h"

#include "checked_math.h"
#include "error.h"

zo_status zo_stage3_sizes_for(const zo_settings *s, const zo_partition *layout, bool *persistent,
                              zo_stage3_sizes *out)
{
    *out = (zo_stage3_sizes){0};
    size_t largest = 0;
    for (size_t i = 0; i < layout->param_count; i++) {
        uint64_t elems = zo_stage3_aligned(layout->param_elems[i]);
        bool stays = layout->param_elems[i] < s->stage3_param_persistence_threshold &&
                     zo_add_saturated(out->persistent_elems, elems) <= s->stage3_model_persistence_threshold;
        if (persistent)
            persistent[i] = stays;
        if (stays) {
            out->persistent_elems += elems;
            continue;
        }
        out->streamed_elems = zo_add_saturated(out->streamed_elems, elems);
        if (elems > out->largest_streamed)
            out->largest_streamed = elems, largest = i;
    }
    uint64_t live = s->stage3_max_live_parameters;
    out->pool_elems = live < out->streamed_elems ? zo_stage3_aligned(live) : out->streamed_elems;
    out->grad_pool_elems = out->pool_elems;
    if (out->pool_elems < out->largest_streamed)
        return zo_fail(ZO_ERR_CONFIG,
                       "zero_optimization.stage3_max_live_parameters %llu cannot hold parameter %zu (%s, %zu "
                       "elements): raise it to at least %llu",
                       (unsigned long long)live, largest, layout->param_names[largest], layout->param_elems[largest],
                       (unsigned long long)out->largest_streamed);
    return ZO_OK;
}
