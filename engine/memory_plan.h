/* The memory plan's pieces the engine uses at create time. Internal. */
#ifndef ZO_MEMORY_PLAN_H
#define ZO_MEMORY_PLAN_H

#include <stdint.h>

#include "zo/engine.h"

/* MemAvailable from /proc/meminfo, 0 if unknown. */
uint64_t zo_host_available_bytes(void);

/* The plan for a flat space of `elems` elements. */
void zo_plan_for_layout(const zo_settings *settings, uint64_t elems, uint64_t accumulation, unsigned ranks,
                        zo_memory_plan *plan);

/* DeepSpeed's batch arithmetic (engine.c). */
zo_status zo_resolve_accumulation(const zo_settings *settings, uint64_t ranks, uint64_t *accumulation);

#endif
