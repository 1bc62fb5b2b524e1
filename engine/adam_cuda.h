/* Adam on the GPU, for offload_optimizer.device "none" on the CUDA backend: the same
 * step as cpu_adam's zo_adam_step over arrays in device memory. Internal; the engine
 * and tests call it, the public API does not show it yet. */
#ifndef ZO_ADAM_CUDA_H
#define ZO_ADAM_CUDA_H

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
zo_status zo_adam_cuda_step(const zo_adam_hparams *hparams, uint64_t step, const zo_adam_buffers *buffers,
                            void *stream);

#ifdef __cplusplus
}
#endif

#endif
