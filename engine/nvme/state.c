/* offload_optimizer.device "nvme": the "nvme" strategy of optimizer_state.h (state.h).
 * Per update, buckets in forward order: bucket k's record is read into ring slot
 * k % buffer_count ahead of its turn (pipeline_read), Adam runs on the slot (the host
 * strategy's work), and the record is written back behind (pipeline_write) while the
 * next bucket runs. The last bucket waits for every write, so between updates the file
 * holds the whole state and the ring is idle. */
#include "nvme/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "moments_state.h"
#include "nvme/files.h"
#include "nvme/ring.h"
#include "optimizer_state.h"

typedef struct zo_nvme_state zo_nvme_state;

struct zo_nvme_state {
    zo_nvme_file file;
    zo_nvme_ring ring;
    zo_nvme_record *records; /* per bucket: its tensors' places in its record   */
    uint64_t *record_offset; /* per bucket: where its record starts in the file */
    size_t next_read;        /* the next bucket of the running update to read   */
    size_t read_ahead;       /* buckets read ahead of the one Adam runs on      */
    /* After an I/O failure the file may hold a partly updated state: every step, save
     * and read of it is refused until a checkpoint load replaces it. */
    zo_status broken;
    char broken_message[1700];
};

static unsigned zo_slot_of(const zo_nvme_state *u, size_t bucket)
{
    return (unsigned)(bucket % u->ring.slot_count);
}

static zo_status zo_nvme_refusal(const zo_nvme_state *u)
{
    return zo_fail(u->broken, "%s", u->broken_message);
}

/* An I/O failure in an update: the state on disk may be partly updated from now on. */
static zo_status zo_nvme_break(zo_engine *e, zo_status status)
{
    zo_nvme_state *u = e->nvme_state;
    e->update_incomplete = true;
    if (u->broken == ZO_OK) {
        char cause[1400];
        snprintf(cause, sizeof cause, "%s", zo_last_error());
        u->broken = status;
        snprintf(u->broken_message, sizeof u->broken_message,
                 "%s; the optimizer state on NVMe may be partly updated, so the engine refuses "
                 "further steps: "
                 "resume from the last checkpoint (zo_engine_load)",
                 cause);
    }
    return zo_nvme_refusal(u);
}

/* Starts the reads of the running update's buckets up to `bucket` + read_ahead; bucket
 * `bucket` itself is always started (waiting, if need be, for its slot's last write),
 * later ones only into slots already free. */
static zo_status zo_nvme_start_reads(zo_engine *e, size_t bucket)
{
    zo_nvme_state *u = e->nvme_state;
    size_t last = bucket + u->read_ahead, count = e->layout.bucket_count;
    zo_status status = ZO_OK;
    for (size_t j = u->next_read; status == ZO_OK && j <= last && j < count; j++) {
        unsigned slot = zo_slot_of(u, j);
        if (j > bucket && zo_nvme_ring_slot_busy(&u->ring, slot))
            break; /* its record is still being written: read it in a later turn */
        if (j == bucket)
            status = zo_nvme_ring_wait_slot(&u->ring, slot);
        if (status == ZO_OK)
            status = zo_nvme_ring_read(&u->ring, slot, u->record_offset[j], u->records[j].bytes);
        if (status == ZO_OK)
            u->next_read = j + 1;
    }
    return status;
}

/* The state of bucket b's piece: master and moments (8-bit codes) in its slot, the
 * 8-bit moments' block scales in host memory. */
static zo_host_state_piece zo_nvme_piece(const zo_engine *e, size_t bucket)
{
    const zo_nvme_state *u = e->nvme_state;
    unsigned char *slot = zo_nvme_ring_slot(&u->ring, zo_slot_of(u, bucket));
    const zo_nvme_record *r = &u->records[bucket];
    zo_host_state_piece piece = {.master = (float *)(slot + r->offset[0]),
                                 .exp_avg = slot + r->offset[1],
                                 .exp_avg_sq = slot + r->offset[2]};
    zo_moment_scales_point(e, zo_shard_offset(&e->layout, bucket), &piece);
    return piece;
}

static zo_status zo_nvme_update_bucket(zo_engine *e, size_t bucket)
{
    zo_nvme_state *u = e->nvme_state;
    bool last = bucket + 1 == e->layout.bucket_count, updated = false;
    if (bucket == 0)
        u->next_read = 0;
    zo_status io = u->broken ? zo_nvme_refusal(u) : zo_nvme_start_reads(e, bucket);
    if (io == ZO_OK)
        io = zo_nvme_ring_wait_slot(&u->ring, zo_slot_of(u, bucket));
    if (io != ZO_OK && !u->broken)
        io = zo_nvme_break(e, io);
    zo_host_state_piece piece = zo_nvme_piece(e, bucket);
    /* a failed read still gathers and publishes the bucket: other ranks and forwards wait */
    zo_status status = zo_host_update_piece(e, bucket, &piece, io, &updated);
    if (updated) {
        unsigned slot = zo_slot_of(u, bucket);
        io = zo_nvme_ring_write(&u->ring, slot, u->record_offset[bucket], u->records[bucket].bytes);
        if (io == ZO_OK && !e->settings.nvme.pipeline_write)
            io = zo_nvme_ring_wait_slot(&u->ring, slot);
        if (io != ZO_OK && !u->broken)
            io = zo_nvme_break(e, io);
        status = status ? status : io;
    }
    if (last || u->broken) { /* nothing of this update may stay in flight */
        io = zo_nvme_ring_wait_all(&u->ring);
        if (io != ZO_OK && !u->broken)
            zo_nvme_break(e, io);
    }
    /* the message that says what to do (waits above may have written the bare cause) */
    return u->broken ? zo_nvme_refusal(u) : status;
}

/* Stats as on the host; its collectives run even when the state is broken (the other
 * ranks make them), then the micro-step is refused. */
static zo_status zo_nvme_bucket_stats(zo_engine *e, size_t bucket, zo_grad_stats *out)
{
    zo_status status = zo_host_bucket_stats(e, bucket, out);
    return e->nvme_state->broken ? zo_nvme_refusal(e->nvme_state) : status;
}

/* Calls `io` on each bucket's part of shard elements [shard_offset, + count) of tensor
 * `tensor`: the file offset, the element index into the caller's array, the count. */
static zo_status zo_nvme_shard_io(zo_engine *e, size_t tensor, size_t shard_offset, size_t count,
                                  char *data, bool write)
{
    zo_nvme_state *u = e->nvme_state;
    size_t elem_bytes = zo_optimizer_state_elem_bytes(e, tensor);
    size_t piece_of_full_bucket = e->layout.bucket_elems / e->ranks;
    zo_status status = ZO_OK;
    for (size_t done = 0; status == ZO_OK && done < count;) {
        size_t at = shard_offset + done, b = at / piece_of_full_bucket;
        size_t within = at - zo_shard_offset(&e->layout, b);
        size_t n = zo_piece_elems(&e->layout, b) - within;
        n = n < count - done ? n : count - done;
        uint64_t offset = u->record_offset[b] + u->records[b].offset[tensor] + within * elem_bytes;
        status =
            write ? zo_nvme_file_write(&u->file, offset, data + done * elem_bytes, n * elem_bytes)
                  : zo_nvme_file_read(&u->file, offset, data + done * elem_bytes, n * elem_bytes);
        done += n;
    }
    return status;
}

static zo_status zo_nvme_read_shard(zo_engine *e, size_t tensor, size_t shard_offset, void *out,
                                    size_t count)
{
    if (e->nvme_state->broken) /* never hand out (or save) a partly updated state */
        return zo_nvme_refusal(e->nvme_state);
    return zo_nvme_shard_io(e, tensor, shard_offset, count, out, false);
}

static zo_status zo_nvme_write_shard(zo_engine *e, size_t tensor, size_t shard_offset,
                                     const void *in, size_t count)
{
    return zo_nvme_shard_io(e, tensor, shard_offset, count, (char *)in, true);
}

/* The master accessors go through read_shard / write_shard: nothing more to move. */
static zo_status zo_nvme_nothing_to_move(zo_engine *e, size_t offset, size_t elems)
{
    (void)e, (void)offset, (void)elems;
    return ZO_OK;
}

/* After a load: the checkpoint's state is in the file whole (write_shard), so the
 * state is sound again. */
static zo_status zo_nvme_put_state(zo_engine *e)
{
    zo_nvme_state *u = e->nvme_state;
    u->broken = ZO_OK;
    u->broken_message[0] = '\0';
    return zo_nvme_ring_clear_failure(&u->ring);
}

/* Before a save: the file must hold a whole state. */
static zo_status zo_nvme_get_state(zo_engine *e)
{
    return e->nvme_state->broken ? zo_nvme_refusal(e->nvme_state) : ZO_OK;
}

/* Updates leave the ring idle; a failure was reported by the worker's own job. */
static zo_status zo_nvme_synchronize(zo_engine *e)
{
    zo_nvme_ring_wait_all(&e->nvme_state->ring);
    return ZO_OK;
}

static void zo_nvme_destroy(zo_engine *e)
{
    zo_nvme_state *u = e->nvme_state;
    if (!u)
        return;
    zo_nvme_ring_destroy(&u->ring); /* waits for the kernel before freeing its buffers */
    zo_nvme_file_close(&u->file);
    free(u->records), free(u->record_offset);
    free(u);
    e->nvme_state = NULL;
}

const zo_optimizer_state_ops zo_optimizer_state_nvme = {
    .name = "nvme",
    .copies_gradients_down = true,
    .bucket_stats = zo_nvme_bucket_stats,
    .update_bucket = zo_nvme_update_bucket,
    .put_master = zo_nvme_nothing_to_move,
    .get_master = zo_nvme_nothing_to_move,
    .put_state = zo_nvme_put_state,
    .get_state = zo_nvme_get_state,
    .read_shard = zo_nvme_read_shard,
    .write_shard = zo_nvme_write_shard,
    .synchronize = zo_nvme_synchronize,
    .destroy = zo_nvme_destroy,
};

zo_status zo_nvme_state_start(zo_engine *e)
{
    const zo_settings *s = &e->settings;
    zo_nvme_state *u = calloc(1, sizeof *u);
    if (!u)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory");
    u->file.ring_fd = u->file.buffered_fd = -1;
    /* from here on the strategy's destroy frees what was made, even after a failure */
    e->nvme_state = u;
    e->optimizer_state = &zo_optimizer_state_nvme;
    /* 8-bit moments: a byte a code in the file, the block scales in host memory */
    size_t buckets = e->layout.bucket_count, moment_bytes = zo_dtype_size(s->moments_dtype);
    u->records = calloc(buckets, sizeof *u->records);
    u->record_offset = calloc(buckets, sizeof *u->record_offset);
    if (!u->records || !u->record_offset)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for %zu buckets",
                       buckets);
    uint64_t at = 0;
    for (size_t b = 0; b < buckets; b++) {
        u->records[b] = zo_nvme_record_for(zo_piece_elems(&e->layout, b), moment_bytes);
        u->record_offset[b] = at;
        at += u->records[b].bytes;
    }
    /* one slot for Adam, one for the write behind; the rest read ahead */
    u->read_ahead =
        s->nvme.pipeline_read ? s->nvme.buffer_count - 1 - (s->nvme.pipeline_write ? 1 : 0) : 0;
    zo_nvme_sizes sizes = zo_nvme_sizes_for(&e->layout, moment_bytes, s->nvme.buffer_count);
    zo_status status = zo_nvme_file_create(&u->file, s->nvme.path, e->rank, sizes.file_bytes,
                                           s->nvme.fast_init, e->notice, sizeof e->notice);
    if (status == ZO_OK)
        status = zo_nvme_ring_create(&u->ring, &u->file, (unsigned)s->nvme.buffer_count,
                                     sizes.record_bytes, s, e->notice, sizeof e->notice);
    return status;
}

zo_status zo_engine_nvme_stream(zo_engine *e, uint64_t *bytes, double *seconds)
{
    if (!e || !bytes || !seconds)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_nvme_stream: %s is NULL",
                       !e       ? "engine"
                       : !bytes ? "bytes"
                                : "seconds");
    zo_nvme_state *u = e->nvme_state;
    if (!u)
        return zo_fail(
            ZO_ERR_NOT_SUPPORTED,
            "zo_engine_nvme_stream: the optimizer state is not on NVMe (offload_optimizer.device "
            "is not \"nvme\")");
    zo_status status = zo_engine_synchronize(e);
    if (status == ZO_OK && u->broken)
        status = zo_nvme_refusal(u);
    if (status != ZO_OK)
        return status;
    uint64_t read_before, written_before, read_after, written_after;
    zo_nvme_ring_bytes(&u->ring, &read_before, &written_before);
    double started = zo_now_seconds();
    u->next_read = 0;
    /* the update's schedule, with the Adam of each bucket left out */
    for (size_t b = 0; status == ZO_OK && b < e->layout.bucket_count; b++) {
        unsigned slot = zo_slot_of(u, b);
        if ((status = zo_nvme_start_reads(e, b)) ||
            (status = zo_nvme_ring_wait_slot(&u->ring, slot)) ||
            (status = zo_nvme_ring_write(&u->ring, slot, u->record_offset[b], u->records[b].bytes)))
            break;
        if (!e->settings.nvme.pipeline_write)
            status = zo_nvme_ring_wait_slot(&u->ring, slot);
    }
    zo_status drained = zo_nvme_ring_wait_all(&u->ring);
    status = status ? status : drained;
    *seconds = zo_now_seconds() - started;
    zo_nvme_ring_bytes(&u->ring, &read_after, &written_after);
    *bytes = read_after - read_before + written_after - written_before;
    return status ? zo_nvme_break(e, status) : ZO_OK;
}
