/* The topology's internal part: where the engine puts its memory and pinned
 * staging. The handle, loading, the queries and placement are public (zo/topology.h).
 *
 * Memory goes to the chosen nodes by hwloc_set_area_membind on each buffer, not by
 * first touch: the policy belongs to the address range, so it holds whoever writes a
 * page first (the engine's first touch by the update's threads, engine/host_pages.h,
 * the user's zo_engine_set_master), and pages already touched are moved
 * (HWLOC_MEMBIND_MIGRATE). First touch would put the state wherever the thread that
 * happened to write it first was running. Page-locked staging is allocated under the
 * thread's policy instead (zo_topology_allocate_near), since pinned pages may not
 * move once the device has them. Internal. */
#ifndef ZO_TOPOLOGY_PRIVATE_H
#define ZO_TOPOLOGY_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "zo/topology.h"

/* Puts [ptr, ptr + bytes) on the placement's NUMA nodes: bound to one node, or
 * interleaved over several; pages already touched move. Best effort: returns false
 * (and changes nothing) when not bound, on one NUMA node, or when the system refuses
 * (the memory then stays where it is, which is correct, only slower). */
bool zo_topology_bind_memory(const zo_topology *topology, const zo_placement *placement, void *ptr,
                             size_t bytes);

/* Runs allocate(arg) with the calling thread's memory policy set to the placement's
 * NUMA nodes, then puts the thread's policy back: for memory whose pages are touched
 * as it is allocated and may not move afterwards (cudaHostAlloc pins its pages). When
 * memory is not bound (one NUMA node, bind "none", a synthetic machine) or the system
 * refuses the policy, it just runs allocate. Returns allocate's status. */
zo_status zo_topology_allocate_near(const zo_topology *topology, const zo_placement *placement,
                                    zo_status (*allocate)(void *arg), void *arg);

#endif
