/* zo_adam_cuda_step in a build without CUDA: refused, saying why. */
#include "adam_cuda.h"

#include "error.h"

zo_status zo_adam_cuda_step(const zo_adam_hparams *hparams, uint64_t step, const zo_adam_buffers *buffers,
                            void *stream)
{
    (void)hparams, (void)step, (void)buffers, (void)stream;
    return zo_fail(ZO_ERR_NOT_SUPPORTED, "zo_adam_cuda_step: built without CUDA (nvcc not found)");
}
