/* zo_cuda_device_count() in a build without CUDA: says so. */
#include "zo/cuda.h"

#include "error.h"

bool zo_cuda_built(void) { return false; }

zo_status zo_cuda_device_count(int *count)
{
    if (count)
        *count = 0;
    return zo_fail(ZO_ERR_NOT_SUPPORTED,
                   "libzo was built without CUDA (nvcc not found, or -Dcuda=disabled)");
}
