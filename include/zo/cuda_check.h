/* One way to check a CUDA runtime call, for libzo, its bench and its examples, and for
 * a training loop's own CUDA code: the call's text, CUDA's message and the error's
 * name and number, in one format. Header-only; include it after cuda_runtime.h is
 * reachable (it includes it). What to do on failure is the caller's: libzo returns a
 * zo_status (engine/device/cuda/check.h), the examples print and leave by a label. */
#ifndef ZO_CUDA_CHECK_H
#define ZO_CUDA_CHECK_H

#include <cuda_runtime.h>

/* printf format and arguments of a failed call: "cudaMalloc(&p, n) failed: out of
 * memory (cudaErrorMemoryAllocation, CUDA error 2)". */
#define ZO_CUDA_ERROR_FORMAT "%s failed: %s (%s, CUDA error %d)"
#define ZO_CUDA_ERROR_ARGS(call_text, error) \
    (call_text), cudaGetErrorString(error), cudaGetErrorName(error), (int)(error)

/* Runs `call`; if it does not return cudaSuccess, runs the statement(s) `on_error`,
 * which see the error as zo_cuda_error_ (for ZO_CUDA_ERROR_ARGS(#call, zo_cuda_error_)).
 * Never aborts by itself. */
#define ZO_CUDA_TRY(call, on_error)                  \
    do {                                             \
        cudaError_t zo_cuda_error_ = (call);         \
        if (zo_cuda_error_ != cudaSuccess) {         \
            on_error;                                \
        }                                            \
    } while (0)

#endif
