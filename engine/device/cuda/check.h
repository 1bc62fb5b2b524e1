/* ZO_CUDA_CHECK: turns a failed CUDA runtime call into a zo_status with the call and
 * CUDA's own message; never aborts. Internal, CUDA builds only. */
#ifndef ZO_CUDA_CHECK_H
#define ZO_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "error.h"

#define ZO_CUDA_CHECK(call)                                                              \
    do {                                                                                 \
        cudaError_t zo_cuda_error_ = (call);                                             \
        if (zo_cuda_error_ != cudaSuccess)                                               \
            return zo_fail(ZO_ERR_DEVICE, "%s failed: %s (%s, CUDA error %d)", #call,     \
                           cudaGetErrorString(zo_cuda_error_),                            \
                           cudaGetErrorName(zo_cuda_error_), (int)zo_cuda_error_);        \
    } while (0)

#endif
