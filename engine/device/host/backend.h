/* What only the host backend offers beyond device.h: an audit of what is still alive,
 * for tests to check that the engine frees everything and frees it once. Internal. */
#ifndef ZO_DEVICE_HOST_H
#define ZO_DEVICE_HOST_H

#include "device.h"

/* ZO_OK if no buffer, stream or event of the host device is alive and no free was
 * refused (a double free, a pointer it never handed out, or a device buffer given to
 * free_pinned or the reverse); otherwise ZO_ERR_INTERNAL with the counts in the message.
 * ZO_ERR_INVALID_ARGUMENT if `device` is not a host device. */
zo_status zo_device_host_audit(const zo_device *device);

#endif
