/* The CUDA backend's optional optimizer operations (device.h): the GPU Adam of adam.cu
 * on the backend's own streams, for offload_optimizer.device "none". */
#include "adam.h"
#include "error.h"
#include "internal.h"

zo_status zo_cuda_adam_grad_stats(void *ctx, const void *grad, zo_dtype dtype, size_t n, void *scratch,
                                  zo_device_stream *stream, zo_grad_stats *out)
{
    (void)ctx;
    if (!stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: adam_grad_stats: stream is NULL");
    return zo_adam_cuda_grad_stats(grad, dtype, n, scratch, stream->stream, out);
}

zo_status zo_cuda_adam_step(void *ctx, const zo_adam_hparams *hparams, uint64_t step,
                            const zo_adam_buffers *buffers, zo_device_stream *stream)
{
    (void)ctx;
    if (!stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: adam_step: stream is NULL");
    return zo_adam_cuda_step(hparams, step, buffers, stream->stream);
}

zo_status zo_cuda_copy_pageable(void *ctx, void *dst, const void *src, size_t bytes, bool to_device)
{
    (void)ctx;
    return zo_adam_cuda_copy(dst, src, bytes, to_device);
}
