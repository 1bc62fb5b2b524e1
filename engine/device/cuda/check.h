/* ZO_CUDA_CHECK: turns a failed CUDA runtime call into a zo_status with the call and
 * CUDA's own message (zo/cuda_check.h's format, shared with the bench and examples);
 * never aborts. Internal, CUDA builds only. */
#ifndef ZO_ENGINE_CUDA_CHECK_H
#define ZO_ENGINE_CUDA_CHECK_H

#include "error.h"
#include "zo/cuda_check.h"

#define ZO_CUDA_CHECK(call)                                                                \
    ZO_CUDA_TRY(call, return zo_fail(ZO_ERR_DEVICE, ZO_CUDA_ERROR_FORMAT,                   \
                                     ZO_CUDA_ERROR_ARGS(#call, zo_cuda_error_)))

/* ZO_CUDA_CHECK's message for an error already in hand (the call's text given). */
#define ZO_CUDA_FAIL(status, call_text, error) \
    zo_fail((status), ZO_CUDA_ERROR_FORMAT, ZO_CUDA_ERROR_ARGS(call_text, error))

#endif
