/* The device weights of a delayed update (zo.delayed_param_update): after step t the
 * device still holds the weights of step t - 1, which the next forward uses; the
 * master weights are already those of step t. A checkpoint keeps both, so a resumed
 * run sees what the uninterrupted one would. Internal. */
#ifndef ZO_CHECKPOINT_DEVICE_H
#define ZO_CHECKPOINT_DEVICE_H

#include "engine_internal.h"

/* Save: this rank's pieces of the device weights (its shard's elements, in the device
 * dtype) copied into new pinned memory at *out; free it with
 * zo_device_free_pinned(&engine->device, ...). Errors: ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
zo_status zo_copy_device_pieces(zo_engine *engine, void **out);

/* Load, after zo_engine_refresh_device_weights put the master weights on the device
 * and in the staging buffer: puts every rank's saved `pieces` on the device instead,
 * through `bucket_buffer` (pinned, a bucket of the device dtype), and marks the staged
 * master weights as the update the next zo_engine_step sends up. Collective. */
zo_status zo_restore_lagging_device(zo_engine *engine, const void *pieces, void *bucket_buffer);

#endif
