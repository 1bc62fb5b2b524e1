/* The CUDA backend in a build without CUDA: says so, so the engine can always ask. */
#include "backend.h"

#include "error.h"

static const char zo_no_cuda[] =
    "libzo was built without CUDA (nvcc not found, or -Dcuda=disabled)";

zo_status zo_device_cuda_create(int ordinal, zo_device *out)
{
    (void)ordinal;
    if (out)
        *out = (zo_device){0};
    return zo_fail(ZO_ERR_NOT_SUPPORTED, "no CUDA device: %s", zo_no_cuda);
}

zo_status zo_device_cuda_memory(const zo_device *device, size_t *free_bytes, size_t *total_bytes)
{
    (void)device;
    if (free_bytes)
        *free_bytes = 0;
    if (total_bytes)
        *total_bytes = 0;
    return zo_fail(ZO_ERR_NOT_SUPPORTED, "zo_device_cuda_memory: %s", zo_no_cuda);
}
