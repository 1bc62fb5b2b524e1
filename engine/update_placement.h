/* The engine's side of the topology: where this rank's host update runs (its
 * threads and the update thread pinned there) and which NUMA nodes hold its host
 * state. Internal. */
#ifndef ZO_ENGINE_PLACEMENT_H
#define ZO_ENGINE_PLACEMENT_H

#include "engine_internal.h"

/* Loads the topology, places this rank (zo.threads, zo.bind, the launcher's local
 * rank, the GPU's locality on CUDA), binds the worker stream's thread to the first
 * CPU of the placement and creates e->adam with the placement's threads and CPUs.
 * Call once the worker stream exists. Errors: ZO_ERR_CONFIG (zo.bind names CPUs this
 * machine lacks), ZO_ERR_DEVICE (hwloc failed), errors of zo_adam_create. */
zo_status zo_engine_place_update(zo_engine *e);

/* The device's page-locked staging (zo_device_alloc_pinned) allocated from this thread
 * with its memory policy on the placement's nodes, so pages the backend touches or
 * pins at once (cudaHostAlloc) start there. Errors: those of alloc_pinned. */
zo_status zo_engine_alloc_pinned_near(zo_engine *e, size_t bytes, void **out);

/* Sets up host memory of the engine's, untouched until now (zo_host_pages_alloc, or the
 * host backend's buffers): puts its range on the placement's NUMA nodes, then faults
 * its pages in with the update's own threads (from the worker stream, pinned as the
 * update pins them), so creation runs at memory speed and the first step takes no page
 * faults. Call once the worker stream and e->adam exist. Best effort, as binding is:
 * nothing here fails (if the worker cannot run it, the calling thread's team does). */
void zo_engine_place_host_pages(zo_engine *e, void *ptr, size_t bytes);

#endif
