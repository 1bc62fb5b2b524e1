/* zo_engine_load: the manifest checked against the engine, this rank's shard read
 * whole into temporary buffers and its checksums verified, all ranks agreeing that all
 * succeeded; only then is the engine's state replaced and the device refreshed. */
#include <stdlib.h>
#include <string.h>

#include "checkpoint_device.h"
#include "checkpoint_paths.h"
#include "checkpoint_shard.h"
#include "durable_io.h"
#include "error.h"
#include "zo/checkpoint.h"

static const char zo_load_call[] = "zo_engine_load";

/* The state read from one shard, not yet the engine's. */
typedef struct zo_loaded_state {
    zo_manifest manifest;
    void *tensors[ZO_SHARD_TENSORS]; /* master, exp_avg, exp_avg_sq[, device_weights] */
    void *bucket_buffer;             /* pinned: restoring lagging device weights    */
} zo_loaded_state;

static void zo_loaded_state_free(zo_engine *e, zo_loaded_state *s)
{
    zo_manifest_free(&s->manifest);
    for (size_t t = 0; t < ZO_SHARD_TENSORS; t++)
        free(s->tensors[t]);
    if (s->bucket_buffer)
        e->device.ops->free_pinned(e->device.ctx, s->bucket_buffer);
}

/* Lagging device weights are restored only into an engine that delays its updates too;
 * otherwise the device gets the master weights (the lag is dropped). */
static bool zo_restores_lag(const zo_engine *e, const zo_loaded_state *s)
{
    return s->manifest.device_lags && e->settings.delayed_param_update;
}

/* Where to read: <dir>, or <dir>.old when a save on a file system without an atomic
 * exchange crashed between its two renames (<dir>.old is then the whole old one). */
static zo_status zo_checkpoint_dir_to_read(const char *dir, const char **out,
                                           zo_checkpoint_paths *paths)
{
    zo_status status = zo_checkpoint_paths_for(dir, zo_load_call, paths);
    if (status != ZO_OK)
        return status;
    *out = zo_io_is_dir(paths->dir)       ? paths->dir
           : zo_io_is_dir(paths->retired) ? paths->retired
                                          : NULL;
    if (!*out)
        return zo_fail(ZO_ERR_IO, "zo_engine_load: there is no checkpoint directory %s",
                       paths->dir);
    return ZO_OK;
}

static zo_status zo_read_shard(zo_engine *e, const char *dir, zo_loaded_state *s)
{
    zo_st_file file;
    const zo_st_entry *entries[ZO_SHARD_TENSORS];
    zo_status status = zo_shard_open(dir, &s->manifest, e->rank, &file, entries);
    for (size_t t = 0; status == ZO_OK && t < zo_shard_tensor_count(&s->manifest); t++) {
        size_t bytes = (size_t)(entries[t]->end - entries[t]->begin);
        if (!(s->tensors[t] = malloc(bytes ? bytes : 1)))
            status = zo_fail(ZO_ERR_OUT_OF_MEMORY,
                             "zo_engine_load: no host memory to read %zu bytes of %s (a load "
                             "reads the whole shard before replacing the engine's state)",
                             bytes, entries[t]->name);
        else
            status = zo_st_read(&file, entries[t], s->tensors[t]);
    }
    if (file.fd >= 0)
        zo_st_close(&file);
    /* allocated now, so that nothing but the device can fail once the state is replaced */
    if (status == ZO_OK && zo_restores_lag(e, s))
        status = e->device.ops->alloc_pinned(e->device.ctx, e->layout.bucket_elems * e->dtype_bytes,
                                             &s->bucket_buffer);
    return status;
}

static zo_status zo_read_checkpoint(zo_engine *e, const char *dir, zo_loaded_state *s)
{
    const char *source;
    zo_checkpoint_paths paths;
    zo_status status = zo_checkpoint_dir_to_read(dir, &source, &paths);
    if (status == ZO_OK)
        status = zo_manifest_read(source, &s->manifest);
    if (status == ZO_OK)
        status = zo_manifest_check_engine(&s->manifest, e, source);
    return status ? status : zo_read_shard(e, source, s);
}

/* The loss scaler's running state carries over; its settings (dynamic or not, window,
 * hysteresis, minimum) are the engine's own config's, which may have changed. */
static void zo_restore_scaler(zo_loss_scaler *scaler, const zo_loss_scaler *saved)
{
    scaler->iteration = saved->iteration;
    scaler->last_overflow_iteration = saved->last_overflow_iteration;
    if (!scaler->dynamic || !saved->dynamic)
        return;
    scaler->scale = saved->scale < scaler->min_scale ? scaler->min_scale : saved->scale;
    scaler->hysteresis_left =
        saved->hysteresis_left < scaler->hysteresis ? saved->hysteresis_left : scaler->hysteresis;
}

static void zo_commit(zo_engine *e, zo_loaded_state *s)
{
    size_t shard = zo_shard_elems(&e->layout),
           moment_bytes = shard * zo_dtype_size(e->settings.moments_dtype);
    memcpy(e->master, s->tensors[ZO_SHARD_MASTER], shard * sizeof(float));
    memcpy(e->exp_avg, s->tensors[ZO_SHARD_EXP_AVG], moment_bytes);
    memcpy(e->exp_avg_sq, s->tensors[ZO_SHARD_EXP_AVG_SQ], moment_bytes);
    e->steps = s->manifest.steps;
    e->micro_steps = s->manifest.micro_steps;
    zo_restore_scaler(&e->scaler, &s->manifest.scaler);
}

uint64_t zo_engine_micro_step_count(const zo_engine *e) { return e ? e->micro_steps : 0; }
uint64_t zo_engine_step_count(const zo_engine *e) { return e ? e->steps : 0; }

zo_status zo_engine_load(zo_engine *e, const char *dir)
{
    if (!e || !dir || !dir[0])
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_load: %s",
                       !e ? "engine is NULL" : "dir is NULL or empty");
    for (size_t i = 0; i < e->layout.param_count; i++)
        if (e->param_ready[i])
            return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                           "zo_engine_load: a micro-step is in progress (parameter %s is "
                           "ready): call zo_engine_step first",
                           e->layout.param_names[i]);
    zo_loaded_state state = {0};
    zo_status status = zo_engine_synchronize(e);
    if (status == ZO_OK)
        status = zo_read_checkpoint(e, dir, &state);
    status = zo_checkpoint_agree(e, status, zo_load_call);
    if (status == ZO_OK) {
        zo_commit(e, &state);
        status = zo_engine_refresh_device_weights(e);
        if (status == ZO_OK && zo_restores_lag(e, &state))
            status = zo_restore_lagging_device(e, state.tensors[ZO_SHARD_DEVICE_WEIGHTS],
                                               state.bucket_buffer);
    }
    zo_loaded_state_free(e, &state);
    return status;
}
