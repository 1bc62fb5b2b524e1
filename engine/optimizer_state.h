/* Where the optimizer's state (fp32 master weights, both moments) lives and where Adam
 * runs: ONE strategy per engine, chosen at creation, instead of branches over the
 * pipeline. "host" (step.c): the offloaded path, gradients copied down, cpu_adam on the
 * host state, weights copied up. "device" (device_update.c): offload_optimizer.device
 * "none" on a device with the optimizer operations; nothing crosses PCIe in a step.
 * The pipeline around them (worker, buckets, events, generations) is the same. Internal. */
#ifndef ZO_OPTIMIZER_STATE_H
#define ZO_OPTIMIZER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "engine_internal.h"

typedef struct zo_optimizer_state_ops {
    const char *name; /* "host", "device", "nvme" */
    /* Whether each bucket's gradients are copied down to the landing buffer. */
    bool copies_gradients_down;

    /* Worker: bucket b's gradient is where this strategy reads it (landed, or written
     * on the device): reduce and accumulate it as the settings say and, at an
     * accumulation boundary, measure this rank's piece into *out. */
    zo_status (*bucket_stats)(zo_engine *e, size_t bucket, zo_grad_stats *out);
    /* Worker: Adam on bucket b with e->plan and the new weights on their way to the
     * device; the bucket is published (now, or by the delayed update's send-up). */
    zo_status (*update_bucket)(zo_engine *e, size_t bucket);

    /* The host master weights [offset, offset + elems) were set: copy them where the
     * state lives; or fetch them from there into the host copy. */
    zo_status (*put_master)(zo_engine *e, size_t offset, size_t elems);
    zo_status (*get_master)(zo_engine *e, size_t offset, size_t elems);
    /* The whole state (master weights and moments) from the host copies after a load,
     * or into them before a save. */
    zo_status (*put_state)(zo_engine *e);
    zo_status (*get_state)(zo_engine *e);
    /* Optional: NULL where the host copies (e->master, e->exp_avg, e->exp_avg_sq) hold
     * this rank's whole shard. Otherwise (the "nvme" strategy: the shard lives in
     * files), reads or writes `count` elements of tensor `tensor` (0 master, 1 exp_avg,
     * 2 exp_avg_sq: a checkpoint shard's order) from element `shard_offset` of the
     * shard, synchronously, the worker idle. Use zo_optimizer_state_read / _write. */
    zo_status (*read_shard)(zo_engine *e, size_t tensor, size_t shard_offset, void *out, size_t count);
    zo_status (*write_shard)(zo_engine *e, size_t tensor, size_t shard_offset, const void *in, size_t count);
    /* Waits until every update this strategy queued has run. */
    zo_status (*synchronize)(zo_engine *e);
    /* Waits for its work and frees what it holds (the engine frees the rest). */
    void (*destroy)(zo_engine *e);
} zo_optimizer_state_ops;

extern const zo_optimizer_state_ops zo_optimizer_state_host;   /* step.c          */
extern const zo_optimizer_state_ops zo_optimizer_state_device; /* device_update.c */
extern const zo_optimizer_state_ops zo_optimizer_state_nvme;   /* nvme/state.c    */

/* The element size of tensor `tensor` (0 master: f32; 1 exp_avg, 2 exp_avg_sq:
 * moments_dtype), wherever the strategy keeps it. */
static inline size_t zo_optimizer_state_elem_bytes(const zo_engine *e, size_t tensor)
{
    return tensor == 0 ? sizeof(float) : zo_dtype_size(e->settings.moments_dtype);
}

/* Element `shard_offset` of the host copy of tensor `tensor` (0 master, 1 exp_avg,
 * 2 exp_avg_sq). */
static inline char *zo_optimizer_state_host_at(const zo_engine *e, size_t tensor, size_t shard_offset)
{
    char *host = tensor == 0 ? (char *)e->master : tensor == 1 ? (char *)e->exp_avg : (char *)e->exp_avg_sq;
    return host + shard_offset * zo_optimizer_state_elem_bytes(e, tensor);
}

/* `count` elements of tensor `tensor` of this rank's shard from element `shard_offset`,
 * wherever the strategy keeps them (the worker idle). */
static inline zo_status zo_optimizer_state_read(zo_engine *e, size_t tensor, size_t shard_offset, void *out,
                                                size_t count)
{
    if (e->optimizer_state->read_shard)
        return e->optimizer_state->read_shard(e, tensor, shard_offset, out, count);
    memcpy(out, zo_optimizer_state_host_at(e, tensor, shard_offset), count * zo_optimizer_state_elem_bytes(e, tensor));
    return ZO_OK;
}

static inline zo_status zo_optimizer_state_write(zo_engine *e, size_t tensor, size_t shard_offset, const void *in,
                                                 size_t count)
{
    if (e->optimizer_state->write_shard)
        return e->optimizer_state->write_shard(e, tensor, shard_offset, in, count);
    memcpy(zo_optimizer_state_host_at(e, tensor, shard_offset), in, count * zo_optimizer_state_elem_bytes(e, tensor));
    return ZO_OK;
}

/* One bucket piece of the state where Adam reads and writes it. */
typedef struct zo_host_state_piece {
    float *master;
    void *exp_avg, *exp_avg_sq;          /* settings.moments_dtype */
    float *exp_avg_scale, *exp_avg_sq_scale; /* 8-bit moments: their blocks' scales */
    uint64_t first_index;                /* 8-bit moments: the piece's index in the shard */
} zo_host_state_piece;

/* The host strategy's pieces, shared with the "nvme" strategy, which runs the same
 * work on the ring's buffers (step.c). Worker only. zo_host_bucket_stats: reduce,
 * accumulate and measure bucket b's landed gradient. zo_host_update_piece: Adam on bucket
 * b with e->plan on `state`, the weights staged, gathered and sent up (or left for the
 * delayed update); a `prior` failure skips Adam but still gathers and publishes;
 * *updated: Adam ran and succeeded. */
zo_status zo_host_bucket_stats(zo_engine *e, size_t bucket, zo_grad_stats *out);
zo_status zo_host_update_piece(zo_engine *e, size_t bucket, const zo_host_state_piece *state, zo_status prior,
                               bool *updated);

/* At engine creation, after the buffers: "nvme" for offload_optimizer.device "nvme"
 * (zo_nvme_state_start: nvme/state.h); "device" for offload "none" where the device
 * is a GPU (zo_device_update_start, which refuses what it cannot do by name), else
 * "host" (on the host backend "none" is the offloaded path: the same work on the same
 * memory). */
zo_status zo_optimizer_state_choose(zo_engine *e);

#endif
