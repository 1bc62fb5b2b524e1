/* The CUDA backend of engine/device.h (backend.c), and its stand-in for builds
 * without CUDA (backend_absent.c), so the engine can always ask for it. Internal;
 * it does not include cuda_runtime.h. */
#ifndef ZO_DEVICE_CUDA_H
#define ZO_DEVICE_CUDA_H

#include <stddef.h>

#include "device.h"

/* A device on CUDA GPU `ordinal`: buffers from cudaMalloc / cudaHostAlloc, streams that
 * never wait for the legacy default stream, events without timing, host functions
 * through cudaLaunchHostFunc. Operations that allocate or create make that GPU current
 * on the calling thread (cudaSetDevice, only when another one is) and leave it so. The external
 * streams of device.h are cudaStream_t; NULL (the legacy default stream) is refused:
 * name cudaStreamLegacy explicitly to mean it. Host functions run on CUDA's callback
 * thread and must not call CUDA; the backend's own operations refuse to run there
 * (ZO_ERR_INVALID_ARGUMENT) rather than deadlock.
 * On failure *out is {NULL, NULL}. Errors: ZO_ERR_INVALID_ARGUMENT (out NULL, ordinal
 * negative or past the last GPU), ZO_ERR_DEVICE ("no usable CUDA device: " and why:
 * no driver, no GPU, the GPU busy in exclusive mode; CUDA's message included),
 * ZO_ERR_OUT_OF_MEMORY, ZO_ERR_NOT_SUPPORTED (libzo built without CUDA). */
zo_status zo_device_cuda_create(int ordinal, zo_device *out);

/* The free and total bytes of the device's GPU (cudaMemGetInfo), for the memory plan.
 * Errors: ZO_ERR_INVALID_ARGUMENT (NULL, or not a CUDA device), ZO_ERR_DEVICE,
 * ZO_ERR_NOT_SUPPORTED (built without CUDA). Both outputs are 0 on failure. */
zo_status zo_device_cuda_memory(const zo_device *device, size_t *free_bytes, size_t *total_bytes);

#endif
