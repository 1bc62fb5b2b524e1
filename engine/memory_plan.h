/* The memory plan's pieces the engine uses at create time. Internal. */
#ifndef ZO_MEMORY_PLAN_H
#define ZO_MEMORY_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "partition.h"
#include "zo/engine.h"

/* The plan for `layout` (its padded flat space, sharded over its ranks) on a device
 * that is the host itself, or a GPU with `device_free_bytes` free (0: unknown, not
 * checked); zo.device_memory_budget is checked either way. With stage 3 the device
 * sizes come from zo_stage3_sizes_for (stage3_sizes.h). Errors: ZO_ERR_CONFIG from
 * zo_stage3_sizes_for (a pool too small for the largest parameter); *plan is then
 * zeroed. A plan that does not fit is ZO_OK with plan->fits false. With the state on
 * NVMe, `nvme_free_bytes` is what the caller found free under nvme_path (NULL: looked
 * up here, and a directory that cannot be read is the plan's verdict). */
zo_status zo_plan_for_layout(const zo_settings *settings, const zo_partition *layout,
                             uint64_t accumulation, bool device_is_host, uint64_t device_free_bytes,
                             const uint64_t *nvme_free_bytes, zo_memory_plan *plan);

#endif
