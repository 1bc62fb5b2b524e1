/* What only the host backend offers beyond device.h: an audit of what is still alive,
 * for tests to check that the engine frees everything and frees it once, and cpu_adam
 * as the optional optimizer operations, for tests of the device strategy. Internal. */
#ifndef ZO_DEVICE_HOST_H
#define ZO_DEVICE_HOST_H

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

#endif
