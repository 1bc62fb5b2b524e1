/* The optimizer on the device: offload_optimizer.device "none". fp32 master weights
 * and both moments live in device memory; when a bucket's gradients are ready its stats
 * are computed where they are, and the update writes the 16-bit weights in place: no
 * gradient or weight crosses PCIe. The engine's pipeline is unchanged otherwise (the
 * worker thread still drives buckets, events and generations), so the same code runs on
 * the host backend (cpu_adam on "device" memory, which CI tests against the offloaded
 * path bit for bit, tests/test_engine_device_update.c) and on CUDA (engine/adam_cuda.cu's kernels
 * on a stream of its own). Internal: the engine calls it from a few hooks. */
#ifndef ZO_ENGINE_DEVICE_UPDATE_H
#define ZO_ENGINE_DEVICE_UPDATE_H

#include <stddef.h>

#include "engine_internal.h"

typedef struct zo_device_update zo_device_update;

/* At engine creation, after the buffers are allocated: on the CUDA backend with
 * offload "none", zo_device_update_start; otherwise nothing (e->device_update stays
 * NULL: on the host backend "none" runs the offloaded path, the same thing there). */
zo_status zo_device_update_create(zo_engine *e);

/* Sets up e->device_update: device master (a copy of the host one) and moments
 * (zeros), scratch, a stream. On any backend: tests call it on a host-backend engine
 * just created, to run this path where CI can. Refuses gradient accumulation and the
 * delayed update (not implemented with it yet). Errors: ZO_ERR_NOT_SUPPORTED,
 * ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
zo_status zo_device_update_start(zo_engine *e);

/* Waits for its work and frees it; NULL e->device_update is a no-op. */
void zo_device_update_destroy(zo_engine *e);

/* Worker: the stats of bucket b's device gradients (written and complete). */
zo_status zo_device_update_stats(zo_engine *e, size_t bucket, zo_bucket_stats *out);

/* Worker: Adam on bucket b with `plan`, the new weights written into the device
 * weights, and e->h2d_done[b] recorded after it (the caller publishes the bucket). */
zo_status zo_device_update_bucket(zo_engine *e, size_t bucket, const zo_update_plan *plan);

/* The host master weights [offset, offset + elems) to the device master, or back. */
zo_status zo_device_update_put_master(zo_engine *e, size_t offset, size_t elems);
zo_status zo_device_update_get_master(zo_engine *e, size_t offset, size_t elems);

/* The whole optimizer state (master weights and both moments) to the device, or back
 * into the host buffers: the checkpoint saves and loads those. */
zo_status zo_device_update_put_state(zo_engine *e);
zo_status zo_device_update_get_state(zo_engine *e);

/* Waits until every queued device update has run. */
zo_status zo_device_update_synchronize(zo_engine *e);

#endif
