/* The optimizer on the device: offload_optimizer.device "none", the "device" strategy
 * of optimizer_state.h. fp32 master weights and both moments live in device memory;
 * when a bucket's gradients are ready its stats are computed where they are, and the
 * update writes the 16-bit weights in place: no gradient or weight crosses PCIe. The
 * engine's pipeline is unchanged otherwise (the worker thread still drives buckets,
 * events and generations). It runs on any device with the optimizer operations of
 * device.h: CUDA (device/cuda/adam.cu's kernels), and in CI the host backend given
 * cpu_adam's (zo_device_host_add_optimizer), which tests/test_engine_device_update.c
 * checks against the offloaded path bit for bit. Internal. */
#ifndef ZO_ENGINE_DEVICE_UPDATE_H
#define ZO_ENGINE_DEVICE_UPDATE_H

#include "engine_internal.h"

typedef struct zo_device_update zo_device_update;

/* Switches an engine just created (nothing trained yet) to the "device" strategy:
 * device master (a copy of the host one) and moments (zeros), scratch, a stream of its
 * own, then e->optimizer_state = &zo_optimizer_state_device and e->device_update set.
 * zo_optimizer_state_choose calls it; tests call it on a host-backend engine whose device
 * has the optimizer operations, to run this path where CI can. Refuses gradient
 * accumulation, the delayed update and several ranks (not implemented with it yet), and
 * a device without the optimizer operations, by name. Errors: ZO_ERR_NOT_SUPPORTED,
 * ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
zo_status zo_device_update_start(zo_engine *e);

#endif
