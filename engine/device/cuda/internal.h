/* What the CUDA backend's files share (backend.c, optimizer.c): its context, streams
 * and events on the CUDA runtime. Internal to device/cuda/. */
#ifndef ZO_DEVICE_CUDA_INTERNAL_H
#define ZO_DEVICE_CUDA_INTERNAL_H

#include <cuda_runtime.h>
#include <pthread.h>

#include "device.h"

/* The message size of error.c, so a host function's message is kept whole. */
enum { ZO_CUDA_NAME_BYTES = 32, ZO_CUDA_MESSAGE_BYTES = 1024 };

typedef struct zo_cuda_device {
    int ordinal;
    /* Zero-fills new device buffers. cudaMemset would run on the legacy default stream,
     * which the backend's non-blocking streams do not wait for: a copy queued right
     * after the allocation could read the buffer before it is zero. */
    cudaStream_t zero_fill_stream;
} zo_cuda_device;

struct zo_device_stream {
    cudaStream_t stream;
    char name[ZO_CUDA_NAME_BYTES];
    pthread_mutex_t lock;  /* the host functions' error is written on CUDA's callback thread */
    zo_status first_error; /* since the last synchronize */
    char first_error_message[ZO_CUDA_MESSAGE_BYTES];
};

struct zo_device_event {
    cudaEvent_t event;
};


/* The optional optimizer operations of device.h (optimizer.c): device/cuda/adam.cu's
 * kernels on the stream's cudaStream_t. */
zo_status zo_cuda_adam_grad_stats(void *ctx, const void *grad, zo_dtype dtype, size_t n, void *scratch,
                                  zo_device_stream *stream, zo_grad_stats *out);
zo_status zo_cuda_adam_step(void *ctx, const zo_adam_hparams *hparams, uint64_t step,
                            const zo_adam_buffers *buffers, zo_device_stream *stream);
zo_status zo_cuda_copy_pageable(void *ctx, void *dst, const void *src, size_t bytes, bool to_device);

#endif
