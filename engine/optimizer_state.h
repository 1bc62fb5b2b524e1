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

#include "engine_internal.h"

typedef struct zo_optimizer_state_ops {
    const char *name; /* "host", "device" */
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
    /* Waits until every update this strategy queued has run. */
    zo_status (*synchronize)(zo_engine *e);
    /* Waits for its work and frees what it holds (the engine frees the rest). */
    void (*destroy)(zo_engine *e);
} zo_optimizer_state_ops;

extern const zo_optimizer_state_ops zo_optimizer_state_host;   /* step.c          */
extern const zo_optimizer_state_ops zo_optimizer_state_device; /* device_update.c */

/* At engine creation, after the buffers: "device" for offload "none" where the device
 * is a GPU (zo_device_update_start, which refuses what it cannot do by name), else
 * "host" (on the host backend "none" is the offloaded path: the same work on the same
 * memory). */
zo_status zo_optimizer_state_choose(zo_engine *e);

#endif
