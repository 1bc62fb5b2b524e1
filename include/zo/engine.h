/* The offload engine: a training loop hands it its parameters once, writes gradients
 * where it says, tells it when each is ready, and calls step. fp32 master weights and
 * Adam moments stay in host memory; the device holds fp16/bf16 (or fp32) weights and
 * gradients; copies run on their own streams, overlapped with the loop's work.
 * Guide: docs/engine.md; architecture: docs/design.md. */
#ifndef ZO_ENGINE_H
#define ZO_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/api.h"
#include "zo/config.h"
#include "zo/dtype.h"
#include "zo/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One parameter tensor, registered once at create time. */
typedef struct zo_param_desc {
    const char *name; /* for messages and traces; copied */
    size_t elems;     /* > 0                             */
} zo_param_desc;

typedef struct zo_engine zo_engine;

/* The memory an engine will need, worked out before anything is allocated. */
typedef struct zo_memory_plan {
    uint64_t param_elems;          /* the flat space, alignment padding included          */
    uint64_t device_bytes;         /* device weights + gradients (+ fp32 master weights and
                                      moments with offload_optimizer.device "none" on a GPU;
                                      stage 3: persistent params + slot pools)          */
    uint64_t pinned_bytes;         /* page-locked staging: gradients down, weights up
                                      (0 with offload_optimizer.pin_memory false)        */
    uint64_t host_bytes;           /* pageable: master weights, moments, accumulation,
                                      and the staging when it is not pinned             */
    uint64_t host_available_bytes; /* MemAvailable of this machine                        */
    uint64_t pinned_limit_bytes;   /* zo.max_pinned_bytes, 0 if none                      */
    bool device_is_host;           /* the host backend: "device" memory is host memory    */
    uint64_t device_free_bytes;    /* free GPU memory when known (at create), else 0      */
    bool fits;                     /* everything fits what is available and allowed       */
    char verdict[768];             /* why not, and which keys would make it fit           */
    /* ZeRO stage 3 (0 for stages 0-2): device_bytes is the persistent parameters'
     * weights and gradients plus the two slot pools, whatever the model's size. Taken
     * from the reserved room below: the struct keeps its size. */
    uint64_t stage3_persistent_bytes; /* weights + gradients of the persistent params */
    uint64_t stage3_pool_bytes;       /* the pool of weight slots                      */
    uint64_t stage3_grad_pool_bytes;  /* the pool of gradient slots                    */
    uint64_t device_limit_bytes;   /* what device_bytes was checked against: the GPU's
                                      free memory and zo.device_memory_budget, the
                                      smaller of those known; 0: not checked           */
    /* Room for later fields without changing the struct's size (the caller allocates
     * it): zo writes zeros here today. */
    unsigned char reserved[32];
} zo_memory_plan;

/* Works out the plan for these parameters and settings on `ranks` data-parallel ranks
 * (1 for one process) without allocating, and checks it against this machine.
 * zo_engine_create runs it first and refuses with the verdict when !fits.
 * Device bytes are checked against zo.device_memory_budget when set (and, at create
 * on a GPU, its free memory). With zero_optimization.stage 3 the device holds only
 * the persistent parameters and the slot pools (the stage3_* fields).
 * Errors: ZO_ERR_INVALID_ARGUMENT (NULL config or out, ranks 0, bad params),
 * ZO_ERR_CONFIG (what zo_engine_create would say, e.g. a stage3_max_live_parameters
 * that cannot hold the largest parameter), ZO_ERR_OUT_OF_MEMORY. */
ZO_API zo_status zo_engine_plan(const zo_config *config, const zo_param_desc *params, size_t param_count,
                                unsigned ranks, zo_memory_plan *out);

/* The host memory available now (MemAvailable from /proc/meminfo), in bytes; 0 when
 * unknown. The figure zo_engine_plan checks host memory against (host_available_bytes),
 * for sizing other allocations the same way. Never fails. */
ZO_API uint64_t zo_host_available_bytes(void);

/* Lays the parameters out in one flat, aligned device weight buffer and one device
 * gradient buffer, cuts the flat space into buckets of reduce_bucket_size elements,
 * and allocates the host state (master weights, moments). Master weights start at 0:
 * set them with zo_engine_set_master. The config is not kept (copy what you need).
 * Errors: ZO_ERR_INVALID_ARGUMENT (bad params), ZO_ERR_CONFIG (a setting the engine
 * cannot use, e.g. inconsistent batch sizes), ZO_ERR_NOT_SUPPORTED (a setting not
 * implemented yet, named), ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
ZO_API zo_status zo_engine_create(const zo_config *config, const zo_param_desc *params,
                                  size_t param_count, zo_engine **out);

/* Waits for the engine's queued work, frees everything, sets *engine to NULL. NULL
 * or *engine NULL is a no-op. */
ZO_API void zo_engine_destroy(zo_engine **engine);

/* The getters (the calls below that return a value, not a zo_status) cannot fail:
 * given a NULL engine each returns what its comment says (0, "", NULL or
 * ZO_DTYPE_F32) and leaves zo_last_error() alone. */

/* The element type of device weights and gradients: f16 with fp16.enabled, bf16
 * with bf16.enabled, else f32. ZO_DTYPE_F32 for NULL. */
ZO_API zo_dtype zo_engine_dtype(const zo_engine *engine);
/* The parameters registered and the buckets they were cut into; 0 for NULL. */
ZO_API size_t zo_engine_param_count(const zo_engine *engine);
ZO_API size_t zo_engine_bucket_count(const zo_engine *engine);
/* The name of the backend in use: "host" or "cuda"; "" for NULL. */
ZO_API const char *zo_engine_device_name(const zo_engine *engine);
/* ZeRO data parallelism: this process's rank and the number of ranks the optimizer
 * state is sharded over (zo.comm; 0 and 1 for one process). 0 and 0 for NULL. */
ZO_API size_t zo_engine_rank(const zo_engine *engine);
ZO_API size_t zo_engine_ranks(const zo_engine *engine);
/* The memory plan the engine was created with: what this rank holds (host_bytes is its
 * shard of the optimizer state). Errors: ZO_ERR_INVALID_ARGUMENT (NULL). */
ZO_API zo_status zo_engine_memory(const zo_engine *engine, zo_memory_plan *out);

/* What the engine decided on the user's behalf, "" if nothing: with zo.device "auto"
 * and no usable GPU, why it runs on the host backend. Owned by the engine; "" for
 * NULL. */
ZO_API const char *zo_engine_notice(const zo_engine *engine);
/* Where the host update runs, in words: this rank's cores, threads and NUMA nodes
 * and why (zo.threads, zo.bind), e.g. "local rank 0 of 1: 2 cores (CPUs 0-1) on NUMA
 * node 0; 2 threads, one per core; one NUMA node: memory needs no binding". Owned by
 * the engine; "" for NULL. */
ZO_API const char *zo_engine_placement(const zo_engine *engine);

/* The most device memory the engine held at once so far, in bytes, where the backend
 * keeps count (the host backend does; zo.device_memory_budget bounds it there); 0
 * where it does not, and for NULL. */
ZO_API uint64_t zo_engine_device_high_water(const zo_engine *engine);

/* Where parameter `param`'s device weights are (read by the forward) and where the
 * backward must write its gradient, in zo_engine_dtype(). NULL for a NULL engine or
 * a bad index (zo_last_error() is not set). Owned by the engine. */
ZO_API void *zo_engine_weights(zo_engine *engine, size_t param);
ZO_API void *zo_engine_grads(zo_engine *engine, size_t param);

/* Copies fp32 values into parameter `param`'s master weights and its device weights
 * (rounded). `values` holds the parameter's whole tensor: exactly the `elems` it was
 * registered with (zo_param_desc), read, not kept. Synchronous; call before training
 * or between steps. Errors: ZO_ERR_INVALID_ARGUMENT (engine or values NULL, a bad
 * index), ZO_ERR_NON_FINITE (an inf or NaN value, naming the parameter and element;
 * nothing changes), ZO_ERR_DEVICE; a failure of the update still running, which it
 * waits for. */
ZO_API zo_status zo_engine_set_master(zo_engine *engine, size_t param, const float *values);
/* Copies parameter `param`'s fp32 master weights out (waits for a running update)
 * into `values`, room for the `elems` it was registered with (zo_param_desc).
 * With several ranks each holds a piece: a collective, every rank asks for the same
 * parameter (set_master is not: every rank passes the whole values). Errors:
 * ZO_ERR_INVALID_ARGUMENT (engine or values NULL, a bad index), ZO_ERR_OUT_OF_MEMORY,
 * ZO_ERR_DEVICE or the error of a failed update; with several ranks ZO_ERR_PEER
 * (another rank failed) and ZO_ERR_TIMEOUT, as zo_engine_step. */
ZO_API zo_status zo_engine_get_master(zo_engine *engine, size_t param, float *values);

/* ZeRO stage 3 (zero_optimization.stage 3, offload_param.device "cpu"): the 16-bit
 * weights live in host memory and the device holds a parameter only between
 * zo_engine_fetch and zo_engine_release (persistent parameters, those below
 * stage3_param_persistence_threshold elements, stay). The rules of the pointers:
 * - zo_engine_weights(param) is valid from its fetch until its release (or the next
 *   zo_engine_step, which releases everything); before, it is NULL with the reason in
 *   zo_last_error(). Fetch it for the forward and again for the backward.
 * - zo_engine_grads(param) hands out a gradient slot for this micro-step on its first
 *   call; write the gradient there, then zo_engine_grad_ready copies it down and frees
 *   the slot. The slots hold stage3_max_live_parameters elements: a loop that asks for
 *   more gradients than that before their grad_ready gets NULL and the reason.
 * fetch copies the weights up on the engine's own stream (the loop's stream waits for
 * the copy on the device; NULL: the call waits) into a slot of the pool bounded by
 * stage3_max_live_parameters; a slot is reused only once the loop's stream has passed
 * the release. After the first micro-step, each fetch also copies ahead along the
 * order the first micro-step fetched in, up to stage3_prefetch_bucket_size elements;
 * a micro-step that fetches in another order still works and says so in
 * zo_step_info.prefetch_order_matched. With several ranks each keeps 1/N of the
 * 16-bit weights in host memory and a fetch gathers the parameter's from every rank
 * before its copy up (on the engine's stream, over a communicator of its own): every
 * rank makes the same fetch and release calls in the same order, as data-parallel
 * ranks running one model do (the order of grad_ready may differ). A fetch that
 * differs between ranks is found at its gather: the next zo_engine_step fails on every
 * rank (ZO_ERR_INVALID_ARGUMENT naming both parameters, or ZO_ERR_TIMEOUT after
 * zo.collective_timeout_seconds when a rank fetches less). In stages 0-2 every weight stays on the device:
 * fetch is zo_engine_wait_params and release does nothing, so one loop runs in every
 * stage. Errors: ZO_ERR_INVALID_ARGUMENT (NULL engine, a bad index, a stream on the
 * host backend; release of a parameter that is not fetched), ZO_ERR_OUT_OF_MEMORY
 * (fetch: the parameter does not fit beside those fetched and not released, naming
 * stage3_max_live_parameters; nothing changes), ZO_ERR_DEVICE. */
ZO_API zo_status zo_engine_fetch(zo_engine *engine, size_t param, void *stream);
ZO_API zo_status zo_engine_release(zo_engine *engine, size_t param, void *stream);

/* Forward: returns once parameter `param`'s updated weights are on the device (stream
 * NULL), or makes the loop's `stream` (a cudaStream_t on CUDA) wait for them on the
 * device; the call itself returns once their copy is queued. Only the bucket(s)
 * holding `param` are waited for. Errors: ZO_ERR_INVALID_ARGUMENT (engine NULL, a
 * bad index, a stream on the host backend), ZO_ERR_DEVICE. */
ZO_API zo_status zo_engine_wait_params(zo_engine *engine, size_t param, void *stream);

/* Backward: parameter `param`'s gradient is written (stream NULL: the work is done,
 * always so on the host backend), or will be once the loop's `stream` (a cudaStream_t
 * on CUDA) has run what is queued on it. When every parameter of a bucket is ready, its
 * copy to the host starts, ordered after that stream on the device. Any order is fine;
 * each parameter once per micro-step; one loop stream for all of them. Errors:
 * ZO_ERR_INVALID_ARGUMENT (bad index, ready twice, a stream on the host backend). */
ZO_API zo_status zo_engine_grad_ready(zo_engine *engine, size_t param, void *stream);

/* What a step did. zo_engine_step fills it when it returns ZO_OK (or ZO_ERR_NON_FINITE
 * at fp16.min_loss_scale); a step that fails otherwise leaves it untouched.
 * - Inside an accumulation window (!boundary) nothing was decided: skipped and
 *   overflow are false, grad_norm and lr are 0, clip_coefficient is 1.
 * - A skipped step (boundary, skipped and overflow true): grad_norm is INFINITY, lr is
 *   0 (no update ran and the scheduler did not advance), clip_coefficient is 1, step
 *   has not moved, and loss_scale is the scale for the next loss (lowered once the
 *   hysteresis is spent; unchanged with a static scale, bf16 or fp32).
 * - A step taken: grad_norm is the global norm of the unscaled gradient averaged over
 *   micro-steps and ranks, before clipping; lr the schedule's value for this step (in
 *   double; the update uses it rounded to float). */
typedef struct zo_step_info {
    uint64_t micro_step;      /* micro-steps so far, this one included                 */
    uint64_t step;            /* optimizer steps taken so far (skipped ones excluded)  */
    bool boundary;            /* this micro-step ended an accumulation: a step was decided */
    bool skipped;             /* the step was skipped (non-finite gradient)             */
    bool overflow;            /* some gradient was inf or NaN                           */
    float loss_scale;         /* the scale to multiply the next loss by                 */
    double grad_norm;         /* global L2 norm of the unscaled gradient, before clipping */
    double clip_coefficient;  /* what the gradient was multiplied by (<= 1)             */
    double lr;                /* the learning rate of this step                         */
    double wait_seconds;      /* in zo_engine_step, waiting for the last gradients      */
    double stats_seconds;     /* host time of the gradient stats (and accumulation)     */
    double update_seconds;    /* host time of the previous step's update (it runs while
                                 the loop goes on, so its length is known a step later) */
    /* zero_optimization.stage 3 (0 otherwise): this micro-step's copies of weights up to
     * the device, how many of them were copied ahead and claimed by a fetch, how many
     * fetches found the weights still in the slot released earlier in the micro-step
     * (no copy), the bytes copied, and whether the fetches followed the order recorded
     * in the first micro-step (false: prefetch was lost for the rest of the micro-step) */
    uint64_t fetches;
    uint64_t prefetch_hits;
    uint64_t reuses;
    uint64_t bytes_fetched;
    bool prefetch_order_matched;
    /* stage 3: of the loop's time in zo_engine_fetch, the part it waited for the last
     * update to write the parameter's weights (as stage 1/2's wait_params does; no
     * prefetch can hide it, a forward longer than the update does); the rest of a
     * fetch's time is its copy up. With a loop stream, what the call itself waited. */
    double fetch_update_wait_seconds;
} zo_step_info;

/* Ends a micro-step (call it after every backward, as with DeepSpeed): waits for this
 * micro-step's gradients to land on the host, and at the end of an accumulation
 * decides the step: skip it (non-finite gradient; the loss scale drops) or clip and
 * start the Adam update, bucket by bucket in forward order, each bucket's weights
 * going back to the device as soon as it is updated. Returns before the update ends;
 * zo_engine_wait_params orders the next forward after it. info may be NULL.
 * Errors: ZO_ERR_INVALID_ARGUMENT naming parameters whose grad_ready is missing
 * (one rank: nothing changes: report them and call step again; several ranks: the
 * micro-step fails and is dropped, as below), ZO_ERR_NON_FINITE when the loss scale is
 * already at fp16.min_loss_scale and still overflows, ZO_ERR_DEVICE.
 * With several ranks every rank calls it at every micro-step, and a failure on any rank
 * fails that micro-step on all (the others return ZO_ERR_PEER) and drops it everywhere;
 * ZO_ERR_TIMEOUT when a collective waited longer than zo.collective_timeout_seconds (a
 * rank is gone or skipped a step): the engine is then unusable. */
ZO_API zo_status zo_engine_step(zo_engine *engine, zo_step_info *info);

/* The current loss scale (1 without fp16); 0 for NULL. */
ZO_API float zo_engine_loss_scale(const zo_engine *engine);

/* With zo.trace set, waits for queued work and writes the trace so far (it is also
 * written at destroy, where an error cannot be reported). Errors: ZO_ERR_IO,
 * ZO_ERR_INVALID_ARGUMENT (no trace configured). */
ZO_API zo_status zo_engine_write_trace(zo_engine *engine);

/* Waits until every queued copy and update has finished. Errors:
 * ZO_ERR_INVALID_ARGUMENT (NULL), ZO_ERR_DEVICE, or the error of a failed update. */
ZO_API zo_status zo_engine_synchronize(zo_engine *engine);

/* Where the training is, for a resumed loop to find its place in the data: the
 * micro-steps taken (every zo_engine_step call, skipped steps included: the batches
 * consumed) and the optimizer steps taken (skipped ones excluded), as zo_engine_load
 * restores them. 0 for a NULL engine. */
ZO_API uint64_t zo_engine_micro_step_count(const zo_engine *engine);
ZO_API uint64_t zo_engine_step_count(const zo_engine *engine);

#ifdef __cplusplus
}
#endif

#endif
