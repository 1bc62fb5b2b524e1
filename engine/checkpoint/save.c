/* zo_engine_save: the new checkpoint is built whole in <dir>.tmp (every rank writes
 * its shard, rank 0 the manifest last, everything fsync'ed), then swapped with <dir>
 * in one atomic rename and the parent directory fsync'ed. A crash before the swap
 * leaves the old <dir> untouched; after it, the new one is complete. A save that fails
 * before the swap removes the <dir>.tmp it made. A symbolic link at <dir> means its
 * target (paths.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "device_state.h"
#include "paths.h"
#include "shard.h"
#include "durable_io.h"
#include "optimizer_state.h"
#include "error.h"
#include "zo/checkpoint.h"

static const char zo_save_call[] = "zo_engine_save";

/* A 48-bit id for this save, the same on every rank (rank 0's, summed with zeros:
 * exact in a double), so a shard left from another save is never taken for this one. */
static zo_status zo_agree_save_id(zo_engine *e, uint64_t *id)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t mine =
        ((uint64_t)now.tv_nsec * 2654435761u ^ (uint64_t)now.tv_sec << 20 ^ (uint64_t)getpid()) &
        0xFFFFFFFFFFFFull;
    double value = e->rank == 0 ? (double)mine : 0.0;
    zo_status status = zo_comm_allreduce_sum_f64(&e->comm, &value, 1);
    *id = (uint64_t)value;
    return status;
}

/* Rank 0: an empty <dir>.tmp, after finishing what a crashed save left behind (and
 * refusing a <dir>.tmp or <dir>.old that zo did not make: zo_checkpoint_recover). */
static zo_status zo_prepare_staging(const zo_checkpoint_paths *p)
{
    zo_status status = zo_checkpoint_recover(p);
    if (status == ZO_OK && zo_io_is_dir(p->dir) &&
        !zo_io_dir_holds_only(p->dir, zo_checkpoint_owns_file))
        return zo_fail(
            ZO_ERR_IO,
            "zo_engine_save: %s exists and holds files that are not part of a zo checkpoint; "
            "choose another directory",
            p->dir);
    if (status == ZO_OK)
        status = zo_io_remove_checkpoint_dir(p->staging, zo_checkpoint_owns_file);
    return status ? status : zo_io_mkdir(p->staging);
}

/* Tensor t of the shard from where the strategy keeps it ("nvme": its file), a chunk
 * at a time, so a save needs no copy of the state in host memory. */
static zo_status zo_append_streamed(zo_engine *e, zo_st_writer *writer, size_t tensor, size_t shard)
{
    size_t elem_bytes = zo_optimizer_state_elem_bytes(e, tensor);
    size_t chunk = shard < ((size_t)1 << 20) ? shard : (size_t)1 << 20;
    void *buffer = malloc(chunk ? chunk * elem_bytes : 1);
    if (!buffer)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_save: out of memory for a chunk of %zu elements", chunk);
    zo_status status = ZO_OK;
    for (size_t at = 0; status == ZO_OK && at < shard; at += chunk) {
        size_t count = shard - at < chunk ? shard - at : chunk;
        if ((status = zo_optimizer_state_read(e, tensor, at, buffer, count)) == ZO_OK)
            status = zo_st_writer_append(writer, buffer, count * elem_bytes);
    }
    free(buffer);
    return status;
}

/* This rank's shard file: its tensors, in the order of zo_shard_tensor_names. */
static zo_status zo_write_shard_tensors(zo_engine *e, const zo_manifest *m, const char *path,
                                        const void *device_pieces)
{
    const void *all[ZO_SHARD_TENSORS] = {e->master,        e->exp_avg,        e->exp_avg_sq,
                                         e->exp_avg_scale, e->exp_avg_sq_scale, device_pieces};
    size_t which[ZO_SHARD_TENSORS]; /* the tensors present, in the file's order */
    zo_st_tensor tensors[ZO_SHARD_TENSORS];
    size_t count = 0;
    for (size_t t = 0; t < ZO_SHARD_TENSORS; t++)
        if (zo_shard_has_tensor(m, t)) {
            which[count] = t;
            tensors[count++] = (zo_st_tensor){zo_shard_tensor_names[t], zo_shard_tensor_dtype(m, t),
                                              zo_shard_tensor_elems(m, t)};
        }
    json_t *metadata = zo_shard_metadata(m, e->rank);
    if (!metadata)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_save: out of memory");
    zo_st_writer writer;
    zo_status status = zo_st_writer_open(&writer, path, tensors, count, metadata);
    json_decref(metadata);
    for (size_t k = 0; status == ZO_OK && k < count; k++) {
        size_t t = which[k];
        /* master weights and moments where the strategy keeps them ("nvme": its file) */
        bool streamed = t <= ZO_SHARD_EXP_AVG_SQ && e->optimizer_state->read_shard;
        status = streamed ? zo_append_streamed(e, &writer, t, tensors[k].elems)
                          : zo_st_writer_append(&writer, all[t], tensors[k].elems * zo_dtype_size(tensors[k].dtype));
        if (status != ZO_OK)
            zo_st_writer_abort(&writer);
    }
    return status ? status : zo_st_writer_finish(&writer);
}

static zo_status zo_write_shard(zo_engine *e, const zo_manifest *m, const char *staging)
{
    char path[4200];
    zo_checkpoint_shard_path(staging, e->rank, e->ranks, path, sizeof path);
    void *device_pieces = NULL;
    zo_status status = m->device_lags ? zo_copy_device_pieces(e, &device_pieces) : ZO_OK;
    if (status == ZO_OK)
        status = zo_write_shard_tensors(e, m, path, device_pieces);
    if (device_pieces)
        zo_device_free_pinned(&e->device, device_pieces);
    return status;
}

/* Rank 0, once every shard is durable: the manifest last, then the swap. */
static zo_status zo_publish(const zo_manifest *m, const zo_checkpoint_paths *p, bool *swapped)
{
    zo_status status = zo_manifest_write(m, p->staging);
    if (status == ZO_OK)
        status = zo_io_sync_dir(p->staging);
    if (status == ZO_OK)
        status = zo_checkpoint_swap_in(p, swapped);
    return status;
}

/* Rank 0, after a save failed before its swap: the <dir>.tmp it made is removed, so a
 * failed save leaves nothing behind; if that fails too, the message says so. */
static zo_status zo_discard_staging(zo_status failure, const zo_checkpoint_paths *p)
{
    char cause[1024]; /* zo_fail writes where zo_last_error() points */
    snprintf(cause, sizeof cause, "%s", zo_last_error());
    if (zo_io_remove_checkpoint_dir(p->staging, zo_checkpoint_owns_file) == ZO_OK)
        return zo_fail(failure, "%s", cause);
    return zo_fail(failure, "%s; removing %s, which this save made, failed too: %s", cause,
                   p->staging, zo_last_error());
}

static zo_status zo_check_save_call(const zo_engine *e, const char *dir)
{
    if (!e || !dir || !dir[0])
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_save: %s",
                       !e ? "engine is NULL" : "dir is NULL or empty");
    zo_status status = zo_checkpoint_check_between_micro_steps(e, zo_save_call);
    if (status != ZO_OK)
        return status;
    if (e->micro_steps % e->accumulation_steps != 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_engine_save: micro-step %llu is inside an accumulation of %llu "
                       "micro-steps: save after the zo_engine_step that ends it",
                       (unsigned long long)e->micro_steps,
                       (unsigned long long)e->accumulation_steps);
    return ZO_OK;
}

zo_status zo_engine_save(zo_engine *e, const char *dir)
{
    zo_status status = zo_check_save_call(e, dir);
    if (status != ZO_OK)
        return status;
    zo_checkpoint_paths paths;
    uint64_t save_id = 0;
    zo_manifest manifest = {0};
    if ((status = zo_checkpoint_paths_for(dir, zo_save_call, &paths)) == ZO_OK)
        status = zo_engine_synchronize(e);
    if (status == ZO_OK) /* the "device" strategy: the state to save is there */
        status = e->optimizer_state->get_state(e);
    /* collective: every rank takes part whatever its own status, or the others hang */
    zo_status agreed_id = zo_agree_save_id(e, &save_id);
    if (status == ZO_OK && (status = agreed_id) == ZO_OK)
        status = zo_manifest_from_engine(e, save_id, &manifest);
    status = zo_checkpoint_agree(e, status, zo_save_call);
    bool staged = false, swapped = false; /* rank 0 made <dir>.tmp / swapped it in */
    if (status == ZO_OK) {
        zo_status prepared = e->rank == 0 ? zo_prepare_staging(&paths) : ZO_OK;
        staged = e->rank == 0 && prepared == ZO_OK;
        status = zo_checkpoint_agree(e, prepared, zo_save_call);
    }
    if (status == ZO_OK)
        status = zo_checkpoint_agree(e, zo_write_shard(e, &manifest, paths.staging), zo_save_call);
    if (status == ZO_OK)
        status = zo_checkpoint_agree(
            e, e->rank == 0 ? zo_publish(&manifest, &paths, &swapped) : ZO_OK, zo_save_call);
    if (status != ZO_OK && staged && !swapped) /* every rank is done writing into it */
        status = zo_discard_staging(status, &paths);
    zo_manifest_free(&manifest);
    return status;
}
