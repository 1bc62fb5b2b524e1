/* adam.h in a build without CUDA: every call refused, saying why. */
#include "adam.h"

#include "error.h"

static zo_status zo_no_cuda(const char *call)
{
    return zo_fail(ZO_ERR_NOT_SUPPORTED, "%s: built without CUDA (nvcc not found)", call);
}

zo_status zo_adam_cuda_step(const zo_adam_hparams *hparams, uint64_t step,
                            const zo_adam_buffers *buffers, void *stream)
{
    (void)hparams, (void)step, (void)buffers, (void)stream;
    return zo_no_cuda("zo_adam_cuda_step");
}

zo_status zo_adam_cuda_grad_stats(const void *grad, zo_dtype dtype, size_t n, void *scratch,
                                  void *stream, zo_grad_stats *out)
{
    (void)grad, (void)dtype, (void)n, (void)scratch, (void)stream, (void)out;
    return zo_no_cuda("zo_adam_cuda_grad_stats");
}

zo_status zo_adam_cuda_stream_create(void **out)
{
    *out = NULL;
    return zo_no_cuda("zo_adam_cuda_stream_create");
}

void zo_adam_cuda_stream_destroy(void *stream) { (void)stream; }

zo_status zo_adam_cuda_stream_synchronize(void *stream)
{
    (void)stream;
    return zo_no_cuda("zo_adam_cuda_stream_synchronize");
}

zo_status zo_adam_cuda_copy(void *dst, const void *src, size_t bytes, bool to_device)
{
    (void)dst, (void)src, (void)bytes, (void)to_device;
    return zo_no_cuda("zo_adam_cuda_copy");
}
