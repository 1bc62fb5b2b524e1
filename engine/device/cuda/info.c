/* zo_cuda_device_count() on the CUDA runtime. */
#include "zo/cuda.h"

#include "check.h"

bool zo_cuda_built(void) { return true; }

zo_status zo_cuda_device_count(int *count)
{
    if (!count)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_cuda_device_count: count is NULL");
    *count = 0;
    /* Without a driver this returns cudaErrorInsufficientDriver (35), not
     * cudaErrorNoDevice, and leaves its output unset: any error means no device. */
    int found = 0;
    ZO_CUDA_CHECK(cudaGetDeviceCount(&found));
    if (found <= 0)
        return zo_fail(ZO_ERR_DEVICE, "cudaGetDeviceCount found no CUDA device");
    *count = found;
    return ZO_OK;
}
