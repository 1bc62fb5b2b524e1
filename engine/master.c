/* The master weights from outside: set and get per parameter, where each rank holds
 * only its pieces of every bucket (partition.h), and the refresh of the device weights
 * from them (after a checkpoint load). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "error.h"
#include "optimizer_state.h"
#include "stage3.h"
#include "stage3_shard.h"

static zo_status zo_check_param(const zo_engine *e, size_t param, const void *values, const char *call)
{
    if (!values)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: values is NULL", call);
    return zo_check_param_index(e, param, call);
}

/* The part of parameter `param` that lies in this rank's piece of `bucket`: flat
 * elements [*begin, *end), empty when begin == end. */
static void zo_param_in_piece(const zo_engine *e, size_t param, size_t bucket, size_t *begin, size_t *end)
{
    size_t piece = zo_piece_begin(&e->layout, bucket, e->rank);
    size_t piece_end = piece + zo_piece_elems(&e->layout, bucket);
    size_t first = e->layout.param_offset[param], last = first + e->layout.param_elems[param];
    *begin = first > piece ? first : piece;
    *end = last < piece_end ? last : piece_end;
    if (*end < *begin)
        *end = *begin;
}

/* Where flat element `elem` of this rank's piece of `bucket` lives in the shard. */
static size_t zo_shard_index(const zo_engine *e, size_t bucket, size_t elem)
{
    return zo_shard_offset(&e->layout, bucket) + (elem - zo_piece_begin(&e->layout, bucket, e->rank));
}

/* An inf or NaN master weight would poison every later step (Adam carries it into the
 * moments, the weights and the gradient norm): refused by name, nothing changed. The
 * check runs on cpu_adam's vector stats; the scalar search only names the culprit. */
static zo_status zo_check_finite_values(const zo_engine *e, size_t param, const float *values)
{
    size_t elems = e->layout.param_elems[param];
    zo_grad_stats stats;
    zo_status status = zo_adam_grad_stats(e->adam, values, ZO_DTYPE_F32, elems, &stats);
    if (status != ZO_OK || stats.all_finite)
        return status;
    size_t bad = 0;
    while (bad < elems && isfinite(values[bad]))
        bad++;
    return zo_fail(ZO_ERR_NON_FINITE,
                   "zo_engine_set_master: parameter %zu (%s) has %s at element %zu of %zu: master weights "
                   "must be finite; nothing was changed",
                   param, e->layout.param_names[param], isnan(values[bad]) ? "NaN" : "inf", bad, elems);
}

zo_status zo_engine_set_master(zo_engine *e, size_t param, const float *values)
{
    zo_status status = zo_check_param(e, param, values, "zo_engine_set_master");
    if (status == ZO_OK)
        status = zo_check_finite_values(e, param, values);
    if (status == ZO_OK)
        status = zo_engine_synchronize(e);
    if (status != ZO_OK)
        return status;
    size_t offset = e->layout.param_offset[param], elems = e->layout.param_elems[param];
    for (size_t b = zo_param_first_bucket(&e->layout, param); b <= zo_param_last_bucket(&e->layout, param); b++) {
        size_t begin, end;
        zo_param_in_piece(e, param, b, &begin, &end);
        if (end == begin)
            continue;
        /* the host copy, or where the strategy keeps the shard ("nvme": its file) */
        if ((status = zo_optimizer_state_write(e, 0, zo_shard_index(e, b, begin), values + (begin - offset),
                                               end - begin)))
            return status;
        if (!zo_weights_sharded(e))
            continue;
        /* stage 3 over several ranks: this rank's pieces of the 16-bit weights */
        char *piece = (char *)zo_pinned_piece(e, b) + (begin - zo_piece_begin(&e->layout, b, e->rank)) * e->dtype_bytes;
        if ((status = zo_adam_cast(e->adam, piece, e->dtype, values + (begin - offset), ZO_DTYPE_F32, end - begin,
                                   1.0f)))
            return status;
    }
    /* the "device" strategy (offload "none") keeps master weights of its own there */
    if ((status = e->optimizer_state->put_master(e, offset, elems)))
        return status;
    /* every rank has all the values: the device weights need no gathering */
    void *staged = (char *)e->pinned_weights + offset * e->dtype_bytes;
    if (zo_weights_sharded(e)) /* a persistent parameter's whole weights: its host copy */
        staged = zo_stage3_persistent_host(e, param);
    /* stage 3: the pinned weights are the home of a streamed parameter's weights */
    void *on_device = e->stage3 ? zo_stage3_persistent_weights(e, param) : zo_engine_weights(e, param);
    if ((staged && (status = zo_adam_cast(e->adam, staged, e->dtype, values, ZO_DTYPE_F32, elems, 1.0f))) ||
        (on_device && (status = zo_device_copy_async(&e->device, on_device, staged, elems * e->dtype_bytes,
                                                     e->h2d_stream))))
        return status;
    return zo_device_stream_synchronize(&e->device, e->h2d_stream);
}

/* Gathers every rank's piece of `bucket`'s master weights into `whole` (the bucket's
 * elements, in flat order). Collective. */
static zo_status zo_gather_master_bucket(zo_engine *e, size_t bucket, float *whole)
{
    size_t piece = zo_piece_elems(&e->layout, bucket);
    float *mine = whole + e->rank * piece;
    zo_status status = zo_optimizer_state_read(e, 0, zo_shard_offset(&e->layout, bucket), mine, piece);
    /* even after a failure: the other ranks gather too */
    zo_status gathered = zo_engine_collective_done(e, zo_comm_allgather(&e->comm, mine, whole, piece * sizeof(float)));
    return status ? status : gathered;
}

zo_status zo_engine_get_master(zo_engine *e, size_t param, float *values)
{
    zo_status status = zo_check_param(e, param, values, "zo_engine_get_master");
    if (status != ZO_OK)
        return status;
    status = zo_device_stream_synchronize(&e->worker_device, e->worker);
    size_t offset = e->layout.param_offset[param], elems = e->layout.param_elems[param];
    if (status == ZO_OK) /* the "device" strategy: fetch the device's master weights */
        status = e->optimizer_state->get_master(e, offset, elems);
    if (status != ZO_OK && e->ranks == 1)
        return status;
    /* several ranks: a failed update still joins the gathers the others make, and
     * fails the next step on every rank */
    zo_status local = e->ranks > 1 ? zo_engine_defer_failure(e, status) : ZO_OK;
    char why[512];
    snprintf(why, sizeof why, "%s", local ? zo_last_error() : "");
    if (e->ranks == 1) /* the shard is the whole flat space */
        return zo_optimizer_state_read(e, 0, offset, values, elems);
    /* room for the largest bucket this parameter overlaps (the last one may be short) */
    size_t first = zo_param_first_bucket(&e->layout, param), last = zo_param_last_bucket(&e->layout, param);
    size_t room = 0;
    for (size_t b = first; b <= last; b++) {
        size_t bucket = zo_bucket_end(&e->layout, b) - zo_bucket_begin(&e->layout, b);
        room = bucket > room ? bucket : room;
    }
    float *whole = malloc(room * sizeof *whole);
    if (!whole)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_get_master: no memory to gather a bucket of %zu elements",
                       room);
    status = ZO_OK;
    for (size_t b = first; status == ZO_OK && b <= last; b++) {
        status = zo_gather_master_bucket(e, b, whole);
        size_t bucket_begin = zo_bucket_begin(&e->layout, b), bucket_end = zo_bucket_end(&e->layout, b);
        size_t begin = offset > bucket_begin ? offset : bucket_begin;
        size_t end = offset + elems < bucket_end ? offset + elems : bucket_end;
        if (status == ZO_OK)
            memcpy(values + (begin - offset), whole + (begin - bucket_begin), (end - begin) * sizeof(float));
    }
    if (!e->comm_broken) /* else a gather still posted may write into it: kept */
        free(whole);
    return local ? zo_fail(local, "%s", why) : status;
}

zo_status zo_engine_refresh_device_weights(zo_engine *e)
{
    zo_status status = zo_engine_synchronize(e);
    if (status == ZO_OK) /* the "device" strategy: the optimizer's state is there */
        status = e->optimizer_state->put_state(e);
    /* "nvme": each piece's master weights come from its file into a bucket's room */
    float *piece_room = NULL;
    if (status == ZO_OK && !e->master && !(piece_room = malloc(e->layout.bucket_elems * sizeof(float))))
        status = zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_load: no memory for a bucket of %zu master weights",
                         e->layout.bucket_elems);
    /* a local failure stops the work, not the gathers: the other ranks make them too */
    for (size_t b = 0; b < e->layout.bucket_count; b++) {
        size_t begin = zo_bucket_begin(&e->layout, b), piece = zo_piece_elems(&e->layout, b);
        size_t shard = zo_shard_offset(&e->layout, b);
        char *bucket = (char *)e->pinned_weights + begin * e->dtype_bytes; /* unless sharded */
        char *mine = zo_pinned_piece(e, b);
        if (status == ZO_OK && piece_room)
            status = zo_optimizer_state_read(e, 0, shard, piece_room, piece);
        if (status == ZO_OK)
            status = zo_adam_cast(e->adam, mine, e->dtype, piece_room ? piece_room : e->master + shard,
                                  ZO_DTYPE_F32, piece, 1.0f);
        /* stage 3 over several ranks: each keeps its own pieces; the persistent
         * parameters' whole weights are gathered for the device */
        zo_status gathered =
            zo_weights_sharded(e)
                ? zo_stage3_gather_persistent(e, b)
                : zo_engine_collective_done(e, zo_comm_allgather(&e->comm, mine, bucket, piece * e->dtype_bytes));
        status = status ? status : gathered;
        if (gathered != ZO_OK)
            break; /* the communicator failed: every rank's gathers fail */
        if (status == ZO_OK && !e->stage3) /* stage 3: below, the persistent ones only */
            status = zo_device_copy_async(&e->device, (char *)e->device_weights + begin * e->dtype_bytes,
                                               bucket, piece * e->layout.ranks * e->dtype_bytes, e->h2d_stream);
    }
    free(piece_room);
    if (status == ZO_OK && e->stage3)
        status = zo_stage3_refresh_persistent(e);
    zo_status synced = zo_device_stream_synchronize(&e->device, e->h2d_stream);
    return status ? status : synced;
}
