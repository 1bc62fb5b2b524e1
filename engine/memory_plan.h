/* The memory plan's pieces the engine uses at create time. Internal. */
#ifndef ZO_MEMORY_PLAN_H
#define ZO_MEMORY_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "zo/engine.h"

/* The plan for a flat space of `elems` elements on a device that is the host itself,
 * or a GPU with `device_free_bytes` free (0: unknown, not checked). */
void zo_plan_for_layout(const zo_settings *settings, uint64_t elems, uint64_t accumulation, unsigned ranks,
                        bool device_is_host, uint64_t device_free_bytes, zo_memory_plan *plan);

#endif
