/* What the CUDA side of this build can see. Guide: docs/engine.md (devices). */
#ifndef ZO_CUDA_H
#define ZO_CUDA_H

#include <stdbool.h>

#include "zo/api.h"
#include "zo/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether libzo was built with the CUDA backend (nvcc was found). */
ZO_API bool zo_cuda_built(void);

/* Sets *count to the number of usable CUDA devices.
 * Errors: ZO_ERR_NOT_SUPPORTED (built without CUDA), ZO_ERR_DEVICE (no driver or no
 * GPU; the message carries the CUDA error), ZO_ERR_INVALID_ARGUMENT (count NULL).
 * *count is 0 on any error. */
ZO_API zo_status zo_cuda_device_count(int *count);

#ifdef __cplusplus
}
#endif

#endif
