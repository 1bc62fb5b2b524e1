/* offload_optimizer.device "nvme": the "nvme" strategy of optimizer_state.h. This
 * rank's master weights and moments live in one preallocated file under nvme_path
 * (files.h), streamed bucket by bucket through a ring of buffer_count aligned,
 * page-locked buffers with io_uring (ring.h): while Adam runs on bucket k (the host
 * strategy's work, step.c, on the ring's buffer), bucket k+1 is read and bucket k-1
 * written. An I/O failure names the file, offset and errno, and the engine refuses
 * every later step until a checkpoint is loaded (the state on disk may be partly
 * updated). Built with liburing (state.c); without it, absent.c refuses by name. */
#ifndef ZO_NVME_STATE_H
#define ZO_NVME_STATE_H

#include "engine_internal.h"

/* At engine creation, after the engine's buffers: the file, the ring, the strategy
 * (e->optimizer_state, e->nvme_state). Refuses by name what it cannot do: a
 * moments_dtype other than f32 and bf16, a build without liburing
 * (ZO_ERR_NOT_SUPPORTED). Errors: ZO_ERR_IO (the directory, the file, no space),
 * ZO_ERR_OUT_OF_MEMORY. */
zo_status zo_nvme_state_start(zo_engine *e);

#endif
