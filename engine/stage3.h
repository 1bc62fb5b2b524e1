/* ZeRO stage 3 in the engine: the 16-bit weights live in the pinned host buffer the
 * update writes (e->pinned_weights); the device holds the persistent parameters for
 * good and the others only while the loop has them fetched, in a pool of slots
 * bounded by stage3_max_live_parameters. Gradients go into slots of a second pool and
 * down to the host per parameter at grad_ready. The first micro-step's fetch order is
 * recorded and later fetches copy ahead along it. Internal. */
#ifndef ZO_STAGE3_H
#define ZO_STAGE3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/status.h"

struct zo_engine;
typedef struct zo_stage3 zo_stage3;

/* Allocates the pools, the persistent buffers and the per-parameter events, after the
 * layout and the device exist. Errors: ZO_ERR_CONFIG (a parameter the pool cannot
 * hold), ZO_ERR_NOT_SUPPORTED (settings stage 3 cannot run with, by name),
 * ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
zo_status zo_stage3_create(struct zo_engine *e);
/* Frees what create made; the streams must be drained. NULL is a no-op. */
void zo_stage3_destroy(struct zo_engine *e);

/* zo_engine_fetch / zo_engine_release / zo_engine_weights / zo_engine_grads for a
 * stage-3 engine (engine.h describes them). */
zo_status zo_stage3_fetch(struct zo_engine *e, size_t param, void *stream);
zo_status zo_stage3_release(struct zo_engine *e, size_t param, void *stream);
void *zo_stage3_weights(struct zo_engine *e, size_t param);
void *zo_stage3_grads(struct zo_engine *e, size_t param);

/* grad_ready's part: queues the parameter's gradient from its slot into the landing
 * buffer on the d2h stream, after the loop's stream (NULL: done) has written it. */
zo_status zo_stage3_grad_ready(struct zo_engine *e, size_t param, void *stream);

/* Worker, before bucket b's gradient is reduced: zeroes the landing buffer between
 * its parameters. Stages 1/2 copy the whole bucket down (the gaps come as zeros);
 * stage 3 copies parameters only, and an in-place reduce-scatter leaves sums there. */
void zo_stage3_clear_gaps(struct zo_engine *e, size_t bucket);

/* Queues the persistent parameters' part of bucket b up from the pinned weights on the
 * h2d stream (what a stage-1/2 engine does for the whole bucket). */
zo_status zo_stage3_send_bucket_up(struct zo_engine *e, size_t bucket);

/* Several ranks, after this rank updated its piece of bucket b: gathers the persistent
 * parameters' parts of the bucket from every rank into their host copy, which
 * zo_stage3_send_bucket_up sends. Collective (the worker, every bucket in order). */
zo_status zo_stage3_gather_persistent(struct zo_engine *e, size_t bucket);

/* At zo_engine_step, before the update may write the pinned weights: waits for every
 * fetch copy, releases what the loop still holds and drops unclaimed prefetches, and
 * reports the micro-step's fetch figures. */
typedef struct zo_stage3_step_figures {
    uint64_t fetches, prefetch_hits, reuses, bytes_fetched;
    bool order_matched;
    double update_wait_seconds;
} zo_stage3_step_figures;
zo_status zo_stage3_end_micro_step(struct zo_engine *e, zo_stage3_step_figures *figures);

/* Copies every persistent parameter up from the pinned weights (set_master, load). */
zo_status zo_stage3_refresh_persistent(struct zo_engine *e);

/* The device address of a persistent parameter (NULL for a streamed one). */
void *zo_stage3_persistent_weights(struct zo_engine *e, size_t param);

/* Several ranks: the host copy of a persistent parameter's whole 16-bit weights (NULL
 * for a streamed one, or with one rank). */
void *zo_stage3_persistent_host(struct zo_engine *e, size_t param);

#endif
