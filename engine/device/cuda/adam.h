/* Adam on the GPU, for offload_optimizer.device "none" on the CUDA backend: the same
 * step as cpu_adam's zo_adam_step over arrays in device memory. Internal; the engine
 * and tests call it, the public API does not show it yet. */
#ifndef ZO_ADAM_CUDA_H
#define ZO_ADAM_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/adam.h"
#include "zo/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Queues one Adam/AdamW step number `step` over buffers->n elements on `stream` (a
 * cudaStream_t; NULL for the default stream) and returns once it is queued. Every
 * pointer in `buffers` is device memory (cudaMalloc); the formula, the order of the
 * operations, the per-step constants (computed on the host by cpu_adam's own code)
 * and the fp16/bf16 rounding are zo_adam_step's, each operation correctly rounded
 * with no fused multiply-add, so the result is the same bits as zo_adam_step on the
 * same inputs. Arguments are checked as zo_adam_step checks them.
 * Errors: ZO_ERR_INVALID_ARGUMENT (the bad field named), ZO_ERR_NOT_SUPPORTED (built
 * without CUDA), ZO_ERR_DEVICE (the launch failed; CUDA's message). */
zo_status zo_adam_cuda_step(const zo_adam_hparams *hparams, uint64_t step,
                            const zo_adam_buffers *buffers, void *stream);

/* Device scratch bytes zo_adam_cuda_grad_stats needs: one partial result per block. */
enum {
    ZO_ADAM_CUDA_STATS_BLOCKS = 256,
    ZO_ADAM_CUDA_STATS_SCRATCH_BYTES = 2 * ZO_ADAM_CUDA_STATS_BLOCKS * 8
};

/* The gradient stats of n device elements of `dtype` (sum of squares in double and
 * the finite check), computed on `stream` and waited for: a fixed grid, each block's
 * partial sum in a fixed order into `scratch` (device memory of
 * ZO_ADAM_CUDA_STATS_SCRATCH_BYTES), added on the host in block order, so a run
 * repeats its bits; they are not zo_adam_grad_stats' bits (another summation order).
 * Errors: ZO_ERR_NOT_SUPPORTED (no CUDA), ZO_ERR_DEVICE, ZO_ERR_INVALID_ARGUMENT. */
zo_status zo_adam_cuda_grad_stats(const void *grad, zo_dtype dtype, size_t n, void *scratch,
                                  void *stream, zo_grad_stats *out);

/* A non-blocking stream of its own for the device update (*out a cudaStream_t), its
 * destruction (NULL is a no-op), and waiting for it. Errors: ZO_ERR_NOT_SUPPORTED,
 * ZO_ERR_DEVICE. */
zo_status zo_adam_cuda_stream_create(void **out);
void zo_adam_cuda_stream_destroy(void *stream);
zo_status zo_adam_cuda_stream_synchronize(void *stream);

/* Copies `bytes` between device memory and ordinary (pageable) host memory, and waits:
 * to_device true copies host -> device. Errors: ZO_ERR_NOT_SUPPORTED, ZO_ERR_DEVICE. */
zo_status zo_adam_cuda_copy(void *dst, const void *src, size_t bytes, bool to_device);

#ifdef __cplusplus
}
#endif

#endif
