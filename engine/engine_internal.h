/* The engine's state, shared by engine.c (life cycle, accessors) and step.c
 * (the pipeline). Internal. */
#ifndef ZO_ENGINE_INTERNAL_H
#define ZO_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "comm/comm.h"
#include "device.h"
#include "loss_scaler.h"
#include "partition.h"
#include "topology/topology.h"
#include "trace.h"
#include "zo/adam.h"
#include "zo/engine.h"

/* One bucket's gradient stats of the current micro-step, written by the worker. */
typedef struct zo_bucket_stats {
    double sum_squares;
    bool all_finite;
} zo_bucket_stats;

/* What a queued job needs: the engine and its bucket (one per bucket, made at create
 * time so the hot path allocates nothing). */
typedef struct zo_bucket_job {
    struct zo_engine *engine;
    size_t bucket;
} zo_bucket_job;

/* The update every bucket job of one generation applies: written by zo_engine_step
 * before it queues the jobs, read by the worker. */
typedef struct zo_update_plan {
    zo_adam_hparams hparams;
    uint64_t step;
    const void *grad; /* the flat gradient the update reads, of grad_dtype */
    zo_dtype grad_dtype;
    float grad_scale;
    uint64_t generation;
} zo_update_plan;

/* What the pipeline tells an observer as it runs (the trace writer, and tests that
 * need to hold the worker at a known point). Called on the thread doing the work. */
typedef enum zo_pipeline_event {
    ZO_EVENT_BUCKET_STATS,   /* the worker measured (and accumulated) a landed bucket */
    ZO_EVENT_BUCKET_UPDATED  /* the worker updated a bucket and queued its copy up   */
} zo_pipeline_event;

typedef void (*zo_pipeline_observer)(void *user, zo_pipeline_event event, size_t bucket,
                                     double begin_seconds, double end_seconds);

struct zo_engine {
    zo_settings settings;
    zo_partition layout;
    zo_dtype dtype;              /* of device weights and gradients */
    size_t dtype_bytes;
    uint64_t accumulation_steps; /* micro-steps per optimizer step   */

    /* The device, its copy streams, and a private host device whose one stream is the
     * engine's worker thread (stats, accumulation, Adam), on any backend. */
    zo_device device;
    zo_device worker_device;
    zo_device_stream *d2h_stream, *h2d_stream, *worker;
    /* The data-parallel ranks: this one owns piece `rank` of every bucket (partition.h)
     * and holds only those pieces of the host state. Collectives run on the worker
     * (per bucket, in a fixed order) or on the caller's thread while the worker is idle. */
    zo_comm comm;
    size_t rank, ranks;
    zo_device_event **h2d_done; /* per bucket: its weights of the last update are on the device */
    zo_device_event **grads_written; /* per bucket: the loop's stream has written its gradients */
    char notice[512];           /* what the engine chose for the user ("" if nothing)  */
    zo_memory_plan memory;      /* what it allocated, per rank                         */

    void *device_weights, *device_grads; /* flat, on the device                    */
    void *pinned_grads, *pinned_weights; /* flat staging buffers, page-locked host  */
    void *pinned_grads_spare;            /* delayed update: a second landing buffer,
                                            so the next backward's gradients never
                                            overwrite those the update still reads */
    void *grads_landing;                 /* where this micro-step's gradients land  */
    float *master;                       /* this rank's shard of the fp32 master weights
                                            (NULL with the "nvme" strategy: in its files) */
    void *exp_avg, *exp_avg_sq;          /* its shard of the moments, settings.moments_dtype */
    float *exp_avg_scale, *exp_avg_sq_scale; /* 8-bit moments: their block scales
                                                (moments_state.h), else NULL     */
    float *accumulated;                  /* fp32 gradient sum (accumulation > 1): the
                                            shard from stage 2, the whole flat space
                                            before (stage 1 reduces it at the boundary) */
    zo_adam *adam;
    zo_topology *topology;  /* this machine; placement: where the update runs */
    zo_placement placement;
    /* Where the optimizer state lives and Adam runs (optimizer_state.h): chosen once at
     * creation; device_update is the "device" strategy's own state (else NULL). */
    const struct zo_optimizer_state_ops *optimizer_state;
    struct zo_stage3 *stage3; /* zero_optimization.stage 3: stage3.c; else NULL */
    struct zo_device_update *device_update;
    struct zo_nvme_state *nvme_state; /* the "nvme" strategy's own state (else NULL) */

    /* this micro-step's readiness */
    bool *param_ready;
    size_t *bucket_pending;     /* parameters of the bucket not ready yet */
    zo_bucket_stats *bucket_stats;
    bool *bucket_landed;        /* several ranks: landed on the host, maybe not reduced */
    size_t buckets_reduced;     /* several ranks: reduced so far, last bucket first     */

    zo_bucket_job *jobs;
    zo_update_plan plan;

    zo_trace *trace;               /* NULL unless zo.trace is set                    */
    double *copy_down_began;       /* per bucket, for the trace                      */
    double *copy_up_began;
    zo_pipeline_observer observer; /* NULL: nobody listens */
    void *observer_user;

    zo_loss_scaler scaler;
    uint64_t micro_steps, steps;

    /* The update handshake: the worker publishes, per bucket, the generation of the
     * last update whose H2D copy it has queued; a forward waiting for a bucket first
     * waits for the current generation to be published, then for the copy's event. */
    pthread_mutex_t lock;
    pthread_cond_t bucket_published;
    uint64_t generation;         /* updates decided so far                       */
    uint64_t wanted_generation;  /* the update a forward waits for: the last one,
                                    or with delayed_param_update the one before  */
    uint64_t unsent_generation;  /* delayed_param_update: updated on the host, not
                                    yet sent up (0: none)                        */
    uint64_t sending_generation; /* the generation the queued send-up jobs publish */
    uint64_t *bucket_generation; /* per bucket, the update whose copy is queued  */
    double stats_seconds;        /* worker time on stats this micro-step         */
    double update_seconds;       /* worker time of the last whole update         */
    double update_started;       /* when the running update began (worker clock) */

    /* Failures the ranks must agree on (step_agreement.c). A failure this rank saw
     * where no agreement follows at once (a grad_ready that could not start a copy;
     * with several ranks zo_engine_synchronize, zo_engine_get_master, an update that
     * could not be queued) is kept until the next zo_engine_step, so every rank fails
     * that step together. ZO_OK: none. */
    zo_status deferred_failure;
    char deferred_message[512];
    bool update_incomplete; /* the worker skipped part of an update: this rank's master
                               weights may be partly updated (written by the worker,
                               read once it is idle) */
    bool comm_broken;       /* a collective timed out: requests stay posted that may
                               still touch the staging buffers, so destroy keeps them */
};

/* Keeps `status` (not ZO_OK) and zo_last_error() as this rank's deferred failure,
 * unless one is kept already. Returns `status`. */
zo_status zo_engine_defer_failure(zo_engine *engine, zo_status status);

/* Notes a collective's result: a timeout breaks the communicator for good. Returns
 * `status`. */
zo_status zo_engine_collective_done(zo_engine *engine, zo_status status);

/* What the ranks agreed at the end of a micro-step (all ranks get the same numbers). */
typedef struct zo_step_agreement {
    double sum_squares;       /* boundary: the squared norm of the summed gradient  */
    double nonfinite_pieces;  /* boundary: pieces holding an inf or NaN             */
    double failed_ranks;      /* ranks whose micro-step failed                      */
    double failed_rank_sum;   /* the sum of their ranks (the rank, when one failed) */
    double incomplete_ranks;  /* of which skipped part of their last update         */
} zo_step_agreement;

/* Collective (every rank, every micro-step when ranks > 1; at boundaries with one
 * rank): sums this rank's gradient stats (at a boundary) and whether it failed over
 * the ranks. Errors: the communicator's (then the ranks cannot agree again). */
zo_status zo_engine_agree_on_step(zo_engine *engine, bool boundary, bool failed, zo_step_agreement *out);

/* The error zo_engine_step returns for micro-step `micro_step` when the agreement
 * (`agreed`: its status) failed or found a failed rank: this rank's own failure
 * (`local`, `local_message`) if it had one, else ZO_ERR_PEER naming the failed rank. */
zo_status zo_engine_step_failure(const zo_engine *engine, uint64_t micro_step, zo_status local,
                                 const char *local_message, zo_status agreed, const zo_step_agreement *agreement);

/* ZO_OK when `engine` is not NULL and `param` is a registered parameter; otherwise
 * ZO_ERR_INVALID_ARGUMENT with a message starting with `call`. */
zo_status zo_check_param_index(const zo_engine *engine, size_t param, const char *call);

/* Seconds on a monotonic clock. */
double zo_now_seconds(void);

/* Where bucket b's piece starts in `accumulated`. */
static inline size_t zo_accumulated_offset(const zo_engine *e, size_t bucket)
{
    return e->settings.stage >= 2 ? zo_shard_offset(&e->layout, bucket) : zo_bucket_begin(&e->layout, bucket);
}

/* Casts this rank's pieces of the master weights into the staging buffer, gathers the
 * other ranks' pieces, and copies the whole flat space up to the device (with offload
 * "none", the master weights and moments go to the device's optimizer too).
 * Collective; synchronous; the worker must be idle. */
zo_status zo_engine_refresh_device_weights(zo_engine *engine);

/* Waits until bucket b's weights of the wanted generation are published and their
 * copy is queued (or there is nothing to wait for). */
void zo_engine_wait_published(zo_engine *engine, size_t bucket);

/* Publishes bucket b as updated to `generation` (the worker, step.c): forwards waiting
 * for it go on to its copy's event. */
void zo_engine_publish(zo_engine *engine, size_t bucket, uint64_t generation);

#endif
