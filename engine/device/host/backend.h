/* What only the host backend offers beyond device.h: an audit of what is still alive,
 * for tests to check that the engine frees everything and frees it once; cpu_adam as
 * the optional optimizer operations, for tests of the device strategy; and a budget on
 * its device memory with the high-water mark, so that a machine without a GPU can play
 * a small one and prove a run never needed more. Internal. */
#ifndef ZO_DEVICE_HOST_H
#define ZO_DEVICE_HOST_H

#include <stdint.h>

#include "device.h"

/* ZO_OK if no buffer, stream or event of the host device is alive and no free was
 * refused (a double free, a pointer it never handed out, or a device buffer given to
 * free_pinned or the reverse); otherwise ZO_ERR_INTERNAL with the counts in the message.
 * ZO_ERR_INVALID_ARGUMENT if `device` is not a host device. */
zo_status zo_device_host_audit(const zo_device *device);

/* Gives the host device `device` the optional optimizer operations of device.h
 * (adam_grad_stats, adam_step, copy_pageable: cpu_adam on its "device" memory, run on
 * the calling thread in the stream's order), so the device strategy of offload "none"
 * (device_update.c) runs where CI can. The engine never calls it: on the host backend
 * "none" runs the offloaded path. Safe to call again. Errors: ZO_ERR_INVALID_ARGUMENT
 * (not a host device), those of zo_adam_create. */
zo_status zo_device_host_add_optimizer(zo_device *device);

/* Caps the device memory (alloc_device; pinned memory is host memory and not counted)
 * at `bytes`, counted as asked for (no padding): an allocation that would take the
 * buffers live past it fails with ZO_ERR_OUT_OF_MEMORY, naming zo.device_memory_budget,
 * the bytes asked, in use and the budget, and changes nothing. 0 removes the budget
 * (none at creation). memory_info then answers like a GPU of `bytes`. Thread-safe.
 * Errors: ZO_ERR_INVALID_ARGUMENT (not a host device; `bytes` below the device memory
 * already in use, the budget then unchanged). */
zo_status zo_device_host_set_budget(zo_device *device, uint64_t bytes);

/* The budget (0: none), the device bytes live now, and the most live at once since the
 * device was created or zo_device_host_reset_high_water (also memory_high_water's
 * answer). 0 for NULL or a device that is not a host device. Thread-safe. */
uint64_t zo_device_host_budget(const zo_device *device);
uint64_t zo_device_host_in_use(const zo_device *device);
uint64_t zo_device_host_high_water(const zo_device *device);

/* Starts the high-water mark again from the bytes in use now, e.g. to measure the
 * steps apart from the set-up. No-op on NULL or a device that is not a host device. */
void zo_device_host_reset_high_water(zo_device *device);

#endif
