/* zo_engine_load in two passes over this rank's shard, so that a load needs no second
 * copy of the state in host memory (host memory is what zo is short of):
 * 1. check: the manifest against the engine, the shard's metadata and shapes, and every
 *    tensor streamed through its CRC; all ranks agree that all passed. Every bad input
 *    is refused here, the engine untouched.
 * 2. replace: the tensors read straight into the engine's state, their CRCs checked
 *    again; then the scalars, and the device refreshed. Only a file that changes or
 *    fails to read between the passes can fail here, leaving the state partly replaced
 *    (the message says so). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_state.h"
#include "paths.h"
#include "shard.h"
#include "durable_io.h"
#include "crc32c.h"
#include "error.h"
#include "optimizer_state.h"
#include "zo/checkpoint.h"

static const char zo_load_call[] = "zo_engine_load";

/* A checked checkpoint, not yet the engine's. */
typedef struct zo_loaded_state {
    zo_manifest manifest;
    zo_st_file file; /* this rank's shard, open between the passes */
    const zo_st_entry *entries[ZO_SHARD_TENSORS];
    void *device_pieces; /* a delayed update's lagging weights, read in pass 1 (2 B/param) */
    void *bucket_buffer; /* pinned: to put them on the device                        */
} zo_loaded_state;

static void zo_loaded_state_free(zo_engine *e, zo_loaded_state *s)
{
    zo_manifest_free(&s->manifest);
    if (s->file.fd >= 0)
        zo_st_close(&s->file);
    free(s->device_pieces);
    if (s->bucket_buffer)
        zo_device_free_pinned(&e->device, s->bucket_buffer);
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

/* Pass 1 on the shard: every tensor through its CRC; the lagging device weights (if
 * they are to be restored) kept, with the pinned buffer that takes them up. */
static zo_status zo_check_shard(zo_engine *e, const char *dir, zo_loaded_state *s)
{
    zo_status status = zo_shard_open(dir, &s->manifest, e->rank, &s->file, s->entries);
    for (size_t t = 0; status == ZO_OK && t < ZO_SHARD_DEVICE_WEIGHTS; t++)
        if (s->entries[t]) /* the state's tensors, the 8-bit moments' scales if any */
            status = zo_st_verify(&s->file, s->entries[t]);
    if (status != ZO_OK || !zo_restores_lag(e, s))
        return status;
    const zo_st_entry *lagging = s->entries[ZO_SHARD_DEVICE_WEIGHTS];
    size_t bytes = (size_t)(lagging->end - lagging->begin);
    if (!(s->device_pieces = malloc(bytes ? bytes : 1)))
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "zo_engine_load: no host memory for %zu bytes of lagging device weights",
                       bytes);
    if ((status = zo_st_read(&s->file, lagging, s->device_pieces)) != ZO_OK)
        return status;
    return zo_device_alloc_pinned(&e->device, e->layout.bucket_elems * e->dtype_bytes,
                                       &s->bucket_buffer);
}

/* Reads from *source (paths->dir or paths->retired). */
static zo_status zo_read_checkpoint(zo_engine *e, const char *dir, zo_loaded_state *s,
                                    const char **source, zo_checkpoint_paths *paths)
{
    zo_status status = zo_checkpoint_dir_to_read(dir, source, paths);
    if (status == ZO_OK)
        status = zo_manifest_read(*source, &s->manifest);
    if (status == ZO_OK)
        status = zo_manifest_check_engine(&s->manifest, e, *source);
    return status ? status : zo_check_shard(e, *source, s);
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

/* Tensor t into where the strategy keeps the shard ("nvme": its file), a chunk at a
 * time (pass 1 checked its CRC). */
static zo_status zo_read_streamed(zo_engine *e, const zo_loaded_state *s, size_t tensor)
{
    size_t elem_bytes = zo_optimizer_state_elem_bytes(e, tensor);
    size_t shard = zo_shard_elems(&e->layout);
    size_t chunk = shard < ((size_t)1 << 20) ? shard : (size_t)1 << 20;
    void *buffer = malloc(chunk ? chunk * elem_bytes : 1);
    if (!buffer)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_load: out of memory for a chunk of %zu elements", chunk);
    zo_status status = ZO_OK;
    const zo_st_entry *entry = s->entries[tensor];
    uint32_t crc = 0;
    for (size_t at = 0; status == ZO_OK && at < shard; at += chunk) {
        size_t count = shard - at < chunk ? shard - at : chunk;
        status = zo_st_read_range(&s->file, entry, at * elem_bytes, count * elem_bytes, buffer);
        crc = zo_crc32c_update(crc, buffer, count * elem_bytes);
        if (status == ZO_OK)
            status = zo_optimizer_state_write(e, tensor, at, buffer, count);
    }
    free(buffer);
    if (status == ZO_OK && entry->has_checksum && crc != entry->checksum) /* checked again, as zo_st_read does */
        status = zo_fail(ZO_ERR_IO, "%s: checksum mismatch in tensor %s (crc32c %08x, the file says %08x)",
                         s->file.path, entry->name, crc, entry->checksum);
    return status;
}

/* Pass 2: the tensors straight into the engine's state (their sizes were checked
 * against the engine's shard in pass 1), then the scalars. */
static zo_status zo_replace_state(zo_engine *e, zo_loaded_state *s)
{
    void *state[] = {e->master, e->exp_avg, e->exp_avg_sq, e->exp_avg_scale, e->exp_avg_sq_scale};
    for (size_t t = 0; t < ZO_SHARD_DEVICE_WEIGHTS; t++) {
        if (!s->entries[t])
            continue;
        /* master weights and moments where the strategy keeps them ("nvme": its file) */
        bool streamed = t <= ZO_SHARD_EXP_AVG_SQ && e->optimizer_state->write_shard;
        zo_status status = streamed ? zo_read_streamed(e, s, t) : zo_st_read(&s->file, s->entries[t], state[t]);
        if (status != ZO_OK) {
            char cause[1024]; /* zo_fail writes where zo_last_error() points */
            snprintf(cause, sizeof cause, "%s", zo_last_error());
            return zo_fail(status,
                           "%s (the file changed or failed after it was checked): the engine's "
                           "state is now partly replaced; load a good checkpoint before training",
                           cause);
        }
    }
    e->steps = s->manifest.steps;
    e->micro_steps = s->manifest.micro_steps;
    zo_restore_scaler(&e->scaler, &s->manifest.scaler);
    return ZO_OK;
}

/* The state is the checkpoint's, but the device failed to take its weights. */
static zo_status zo_fail_on_device(zo_status status, const char *source)
{
    char cause[1024]; /* zo_fail writes where zo_last_error() points */
    snprintf(cause, sizeof cause, "%s", zo_last_error());
    return zo_fail(status,
                   "zo_engine_load: the state was replaced from %s, but sending the weights to "
                   "the device failed: %s; the device may hold other weights: load again before "
                   "training",
                   source, cause);
}

/* A load that found only <dir>.old says so through zo_engine_notice. */
static void zo_notice_read_aside(zo_engine *e, const zo_checkpoint_paths *paths)
{
    size_t used = strlen(e->notice);
    snprintf(e->notice + used, sizeof e->notice - used,
             "%szo_engine_load: %s was missing; loaded %s, left by a save that crashed between "
             "its two renames (the next save puts it back)",
             used ? "; " : "", paths->dir, paths->retired);
}

zo_status zo_engine_load(zo_engine *e, const char *dir)
{
    if (!e || !dir || !dir[0])
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_load: %s",
                       !e ? "engine is NULL" : "dir is NULL or empty");
    zo_loaded_state state = {.file = {.fd = -1}};
    zo_status status = zo_checkpoint_check_between_micro_steps(e, zo_load_call);
    if (status != ZO_OK)
        return status;
    status = zo_engine_synchronize(e);
    const char *source = NULL;
    zo_checkpoint_paths paths;
    if (status == ZO_OK)
        status = zo_read_checkpoint(e, dir, &state, &source, &paths);
    status = zo_checkpoint_agree(e, status, zo_load_call);
    if (status == ZO_OK) { /* every rank replaced its state, or none goes on to the device */
        status = zo_checkpoint_agree(e, zo_replace_state(e, &state), zo_load_call);
        if (status == ZO_ERR_PEER)
            status = zo_fail(status,
                             "zo_engine_load: another rank failed to read its shard after "
                             "checking it (its own error says why); rank %zu replaced its state: "
                             "load a good checkpoint before training",
                             e->rank);
    }
    if (status == ZO_OK) {
        status = zo_engine_refresh_device_weights(e);
        if (status == ZO_OK && zo_restores_lag(e, &state))
            status = zo_restore_lagging_device(e, state.device_pieces, state.bucket_buffer);
        if (status != ZO_OK)
            status = zo_fail_on_device(status, source);
        else if (source == paths.retired)
            zo_notice_read_aside(e, &paths);
        if (status == ZO_OK)
            zo_manifest_note_version(&state.manifest, e, source);
    }
    zo_loaded_state_free(e, &state);
    return status;
}
