/* zo_device_open: the one place that knows which backends exist and picks one for
 * zo.device, so the engine includes no backend's header. */
#include "device.h"
#include "device/cuda/backend.h"
#include "error.h"
#include "notice.h"

zo_status zo_device_open(zo_device_kind kind, int ordinal, zo_device *out, char *notice,
                         size_t notice_bytes)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_open: out is NULL");
    *out = (zo_device){0};
    if (kind == ZO_DEVICE_HOST)
        return zo_device_host_create(out);
    if (kind != ZO_DEVICE_CUDA && kind != ZO_DEVICE_AUTO)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_open: unknown device kind %d", (int)kind);
    zo_status status = zo_device_cuda_create(ordinal, out);
    if (status == ZO_OK || kind == ZO_DEVICE_CUDA)
        return status;
    /* "auto": the host backend, saying why (after what the notice says already) */
    zo_notice_append(notice, notice_bytes, "zo.device \"auto\": %s; using the host backend", zo_last_error());
    return zo_device_host_create(out);
}

void zo_device_close(zo_device *device)
{
    if (!device || !device->ops)
        return;
    device->ops->destroy(device->ctx);
    *device = (zo_device){0};
}

zo_status zo_device_lacks(const zo_device *device, const char *operation)
{
    return zo_fail(ZO_ERR_NOT_SUPPORTED, "the %s device has no %s (an optional operation it lacks)",
                   device->ops->name, operation);
}
