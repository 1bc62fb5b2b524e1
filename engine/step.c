/* The pipeline of one micro-step: gradients copied down bucket by bucket as they are
 * ready, stats on the worker as they land, the step decided in zo_engine_step, and the
 * update run bucket by bucket on the worker, each bucket's weights copied up at once. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "error.h"
#include "lr_schedule.h"
#include "moments_state.h"
#include "optimizer_state.h"
#include "stage3.h"
#include "stage3_shard.h"

static size_t zo_bucket_elems(const zo_engine *e, size_t bucket)
{
    return zo_bucket_end(&e->layout, bucket) - zo_bucket_begin(&e->layout, bucket);
}

static void *zo_at(void *base, size_t elem, size_t elem_bytes) { return (char *)base + elem * elem_bytes; }

static bool zo_accumulation_boundary(const zo_engine *e)
{
    return (e->micro_steps + 1) % e->accumulation_steps == 0;
}

void zo_engine_wait_published(zo_engine *e, size_t bucket)
{
    pthread_mutex_lock(&e->lock);
    while (e->bucket_generation[bucket] < e->wanted_generation)
        pthread_cond_wait(&e->bucket_published, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

void zo_engine_publish(zo_engine *e, size_t bucket, uint64_t generation)
{
    pthread_mutex_lock(&e->lock);
    e->bucket_generation[bucket] = generation;
    pthread_cond_broadcast(&e->bucket_published);
    pthread_mutex_unlock(&e->lock);
}

/* Tells the trace and the observer what the worker just did with a bucket. */
static void zo_report_worker_span(zo_engine *e, zo_pipeline_event event, size_t bucket, double begin, double end)
{
    if (e->trace)
        zo_trace_span(e->trace, event == ZO_EVENT_BUCKET_STATS ? ZO_TRACK_STATS : ZO_TRACK_UPDATE,
                      event == ZO_EVENT_BUCKET_STATS ? "grad stats" : "Adam update", bucket, begin, end);
    if (e->observer)
        e->observer(e->observer_user, event, bucket, begin, end);
}

/* Sums bucket b's gradient over the ranks, in place: afterwards this rank's piece of the
 * sum lies at the start of `grad` (one rank's communicator does nothing in place). */
static zo_status zo_reduce_bucket(zo_engine *e, size_t bucket, void *grad, zo_dtype dtype)
{
    return zo_engine_collective_done(
        e, zo_comm_reduce_scatter_sum(&e->comm, grad, grad, zo_piece_elems(&e->layout, bucket), dtype));
}

/* The host strategy's stats: bucket b's gradient is on the host. Reduce it over the
 * ranks, accumulate it (over micro-steps) and, at an accumulation boundary, measure this
 * rank's piece. With accumulation, stage 2 reduces every micro-step and keeps only the
 * piece's sum; stage 1 sums the whole bucket locally and reduces it once, at the
 * boundary. Its collectives run even after a failure here: the other ranks make them
 * too (the micro-step is then dropped on every rank, whatever the data). */
zo_status zo_host_bucket_stats(zo_engine *e, size_t bucket, zo_grad_stats *out)
{
    size_t begin = zo_bucket_begin(&e->layout, bucket), elems = zo_bucket_elems(e, bucket);
    size_t piece = zo_piece_elems(&e->layout, bucket);
    void *grad = zo_at(e->grads_landing, begin, e->dtype_bytes);
    bool boundary = zo_accumulation_boundary(e);
    zo_status status = ZO_OK;
    if (e->stage3) /* only its parameters came down: the gaps must sum as zeros */
        zo_stage3_clear_gaps(e, bucket);
    if (e->accumulated) {
        float *sum = e->accumulated + zo_accumulated_offset(e, bucket);
        bool first = e->micro_steps % e->accumulation_steps == 0;
        bool sharded = e->settings.stage >= 2;
        size_t n = sharded ? piece : elems;
        if (sharded)
            status = zo_reduce_bucket(e, bucket, grad, e->dtype);
        if (status == ZO_OK)
            status = first ? zo_adam_cast(e->adam, sum, ZO_DTYPE_F32, grad, e->dtype, n, 1.0f)
                           : zo_adam_accumulate(e->adam, sum, grad, e->dtype, n);
        if (boundary && !sharded) {
            zo_status reduced = zo_reduce_bucket(e, bucket, sum, ZO_DTYPE_F32);
            status = status ? status : reduced;
        }
        if (status == ZO_OK && boundary)
            status = zo_adam_grad_stats(e->adam, sum, ZO_DTYPE_F32, piece, out);
    } else {
        status = zo_reduce_bucket(e, bucket, grad, e->dtype);
        if (status == ZO_OK)
            status = zo_adam_grad_stats(e->adam, grad, e->dtype, piece, out);
    }
    return status;
}

/* Worker: bucket b's gradient is where the optimizer-state strategy reads it: its stats
 * (reduced and accumulated first, on the host strategy). */
static zo_status zo_process_bucket(zo_engine *e, size_t bucket)
{
    double started = zo_now_seconds();
    zo_grad_stats stats = {0};
    zo_status status = e->optimizer_state->bucket_stats(e, bucket, &stats);
    e->bucket_stats[bucket] = (zo_bucket_stats){stats.sum_squares, stats.all_finite};
    double finished = zo_now_seconds();
    e->stats_seconds += finished - started;
    zo_report_worker_span(e, ZO_EVENT_BUCKET_STATS, bucket, started, finished);
    return status;
}

/* Worker: bucket b's gradient has landed in the pinned buffer. One rank processes it at
 * once; several must make their collectives in the same order, whatever order their
 * buckets land in, so each processes buckets last first (a backward's order) as soon as
 * all buckets after them are in. */
static zo_status zo_bucket_landed(void *arg)
{
    const zo_bucket_job *job = arg;
    zo_engine *e = job->engine;
    if (e->ranks == 1)
        return zo_process_bucket(e, job->bucket);
    e->bucket_landed[job->bucket] = true;
    size_t buckets = e->layout.bucket_count;
    zo_status status = ZO_OK;
    /* on after a failure: the other ranks reduce these buckets too */
    while (e->buckets_reduced < buckets && e->bucket_landed[buckets - 1 - e->buckets_reduced]) {
        zo_status processed = zo_process_bucket(e, buckets - 1 - e->buckets_reduced++);
        status = status ? status : processed;
    }
    return status;
}

/* Several ranks, caller's thread, the worker idle: the buckets this rank never
 * processed in this micro-step (a copy never started: a missing grad_ready, a failed
 * launch) still take part in their collectives, in the same last-first order, so the
 * other ranks' reduce-scatters are answered. What they sum does not matter: a rank that
 * gets here has failed, and the micro-step is dropped on every rank. */
static zo_status zo_catch_up_reductions(zo_engine *e)
{
    size_t buckets = e->layout.bucket_count;
    zo_status status = ZO_OK;
    while (e->buckets_reduced < buckets) {
        zo_status processed = zo_process_bucket(e, buckets - 1 - e->buckets_reduced++);
        status = status ? status : processed;
    }
    return status;
}

/* Trace marks run on the copy streams around each copy (only when tracing). */
static zo_status zo_mark_copy_down_begin(void *arg)
{
    const zo_bucket_job *job = arg;
    job->engine->copy_down_began[job->bucket] = zo_now_seconds();
    return ZO_OK;
}

static zo_status zo_mark_copy_up_begin(void *arg)
{
    const zo_bucket_job *job = arg;
    job->engine->copy_up_began[job->bucket] = zo_now_seconds();
    return ZO_OK;
}

static zo_status zo_mark_copy_up_end(void *arg)
{
    const zo_bucket_job *job = arg;
    zo_engine *e = job->engine;
    zo_trace_span(e->trace, ZO_TRACK_H2D, "weights up", job->bucket, e->copy_up_began[job->bucket], zo_now_seconds());
    return ZO_OK;
}

/* d2h stream, after bucket b's copy: hand the bucket to the worker. */
static zo_status zo_bucket_copied_down(void *arg)
{
    zo_bucket_job *job = arg;
    zo_engine *e = job->engine;
    if (e->trace)
        zo_trace_span(e->trace, ZO_TRACK_D2H, "gradients down", job->bucket, e->copy_down_began[job->bucket],
                      zo_now_seconds());
    return zo_device_launch_host(&e->worker_device, e->worker, zo_bucket_landed, job);
}

/* Bucket b has every gradient: copy it down (after the loop's stream has written it,
 * when it gave one), then let the worker see it. */
static zo_status zo_start_bucket_copy(zo_engine *e, size_t bucket, bool after_loop_stream)
{
    const zo_device *device = &e->device;
    size_t begin = zo_bucket_begin(&e->layout, bucket);
    /* the landing slice must not be overwritten while the last update still reads it
     * (the update reads the fp32 sum, or with a spare buffer the other one) */
    if (!e->accumulated && !e->pinned_grads_spare)
        zo_engine_wait_published(e, bucket);
    zo_status status = ZO_OK;
    if (after_loop_stream)
        status = zo_device_stream_wait_event(device, e->d2h_stream, e->grads_written[bucket]);
    if (status == ZO_OK && e->trace)
        status = zo_device_launch_host(device, e->d2h_stream, zo_mark_copy_down_begin, &e->jobs[bucket]);
    /* "device": the gradients stay; stage 3: each came down at its grad_ready */
    if (status == ZO_OK && e->optimizer_state->copies_gradients_down && !e->stage3)
        status = zo_device_copy_async(device, zo_at(e->grads_landing, begin, e->dtype_bytes),
                                      zo_at(e->device_grads, begin, e->dtype_bytes),
                                      zo_bucket_elems(e, bucket) * e->dtype_bytes, e->d2h_stream);
    if (status == ZO_OK)
        status = zo_device_launch_host(device, e->d2h_stream, zo_bucket_copied_down, &e->jobs[bucket]);
    return status;
}

/* The checks grad_ready and wait_params share: a real parameter, and a stream only
 * where the backend takes one. */
static zo_status zo_check_loop_call(const zo_engine *e, size_t param, const void *stream, const char *call)
{
    zo_status status = zo_check_param_index(e, param, call);
    if (status == ZO_OK && stream && !zo_device_takes_external_streams(&e->device))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: the %s backend takes no stream (pass NULL once the work is done)",
                       call, zo_device_name(&e->device));
    return status;
}

zo_status zo_engine_grad_ready(zo_engine *e, size_t param, void *stream)
{
    zo_status checked = zo_check_loop_call(e, param, stream, "zo_engine_grad_ready");
    if (checked != ZO_OK)
        return checked;
    if (e->param_ready[param])
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_engine_grad_ready: parameter %zu (%s) is already ready in micro-step %llu",
                       param, e->layout.param_names[param], (unsigned long long)e->micro_steps + 1);
    /* stage 3: the gradient comes down from its slot now, which frees the slot */
    zo_status copied = e->stage3 ? zo_stage3_grad_ready(e, param, stream) : ZO_OK;
    if (copied != ZO_OK)
        return copied;
    size_t first = zo_param_first_bucket(&e->layout, param), last = zo_param_last_bucket(&e->layout, param);
    /* a bucket this parameter completes: its copy must follow the loop's stream */
    for (size_t b = first; stream && b <= last; b++)
        if (e->bucket_pending[b] == 1) {
            zo_status status = zo_device_event_record_external(&e->device, e->grads_written[b], stream);
            if (status != ZO_OK)
                return status;
        }
    e->param_ready[param] = true;
    for (size_t b = first; b <= last; b++)
        if (--e->bucket_pending[b] == 0) {
            /* kept for the step too: this micro-step cannot succeed without the bucket */
            zo_status status = zo_start_bucket_copy(e, b, stream != NULL);
            if (status != ZO_OK)
                return zo_engine_defer_failure(e, status);
        }
    return ZO_OK;
}

zo_status zo_engine_fetch(zo_engine *e, size_t param, void *stream)
{
    zo_status checked = zo_check_loop_call(e, param, stream, "zo_engine_fetch");
    if (checked != ZO_OK)
        return checked;
    return e->stage3 ? zo_stage3_fetch(e, param, stream) : zo_engine_wait_params(e, param, stream);
}

zo_status zo_engine_release(zo_engine *e, size_t param, void *stream)
{
    zo_status checked = zo_check_loop_call(e, param, stream, "zo_engine_release");
    if (checked != ZO_OK)
        return checked;
    return e->stage3 ? zo_stage3_release(e, param, stream) : ZO_OK; /* stages 0-2: it stays */
}

zo_status zo_engine_wait_params(zo_engine *e, size_t param, void *stream)
{
    zo_status checked = zo_check_loop_call(e, param, stream, "zo_engine_wait_params");
    if (checked != ZO_OK)
        return checked;
    if (e->stage3 && !zo_stage3_persistent_weights(e, param)) /* a streamed parameter */
        return zo_stage3_fetch(e, param, stream);
    double started = zo_now_seconds();
    for (size_t b = zo_param_first_bucket(&e->layout, param); b <= zo_param_last_bucket(&e->layout, param);
         b++) {
        zo_engine_wait_published(e, b);
        /* the loop's stream waits on the device; without one, the caller waits here */
        zo_status status = stream ? zo_device_external_stream_wait_event(&e->device, stream, e->h2d_done[b])
                                  : zo_device_event_synchronize(&e->device, e->h2d_done[b]);
        if (status != ZO_OK)
            return status;
    }
    if (e->trace)
        zo_trace_span(e->trace, ZO_TRACK_LOOP, "wait params", zo_param_first_bucket(&e->layout, param), started,
                      zo_now_seconds());
    return ZO_OK;
}

/* Queues bucket b's staged weights up, records its event and publishes it as
 * `generation`. Runs on the worker. */
static zo_status zo_send_bucket_up(zo_engine *e, size_t b, uint64_t generation)
{
    const zo_device *device = &e->device;
    size_t begin = zo_bucket_begin(&e->layout, b);
    zo_status status = ZO_OK;
    if (e->trace)
        status = zo_device_launch_host(device, e->h2d_stream, zo_mark_copy_up_begin, &e->jobs[b]);
    if (status == ZO_OK && e->stage3) /* the others are fetched from the pinned weights */
        status = zo_stage3_send_bucket_up(e, b);
    else if (status == ZO_OK)
        status = zo_device_copy_async(device, zo_at(e->device_weights, begin, e->dtype_bytes),
                                      zo_at(e->pinned_weights, begin, e->dtype_bytes),
                                      zo_bucket_elems(e, b) * e->dtype_bytes, e->h2d_stream);
    if (status == ZO_OK && e->trace)
        status = zo_device_launch_host(device, e->h2d_stream, zo_mark_copy_up_end, &e->jobs[b]);
    if (status == ZO_OK)
        status = zo_device_event_record(device, e->h2d_done[b], e->h2d_stream);
    /* publish even on failure: a forward waiting for this bucket must not hang */
    zo_engine_publish(e, b, generation);
    return status;
}

/* Worker, delayed update: send up a bucket updated during the last micro-step. */
static zo_status zo_send_delayed_bucket_up(void *arg)
{
    const zo_bucket_job *job = arg;
    return zo_send_bucket_up(job->engine, job->bucket, job->engine->sending_generation);
}

/* Every rank updated its piece of bucket b: gather the others' into the staging bucket
 * before it goes up (in place: nothing to do for one rank). Collective. Stage 3 over
 * several ranks keeps its own pieces only, and gathers the persistent parameters'. */
static zo_status zo_gather_updated_bucket(zo_engine *e, size_t b)
{
    if (zo_weights_sharded(e))
        return zo_stage3_gather_persistent(e, b);
    size_t piece = zo_piece_elems(&e->layout, b);
    char *bucket = zo_at(e->pinned_weights, zo_bucket_begin(&e->layout, b), e->dtype_bytes);
    return zo_engine_collective_done(
        e, zo_comm_allgather(&e->comm, bucket + e->rank * piece * e->dtype_bytes, bucket,
                                  piece * e->dtype_bytes));
}

/* The host update of bucket b with the current plan on this rank's piece of the state
 * at `state` (master weights and moments, wherever the strategy keeps them), into the
 * staging buffer, sent up at once (the delayed update sends it at the next micro-step
 * instead). A `prior` failure skips Adam but not the gather and the send-up (the other
 * ranks gather, forwards wait); *updated says whether Adam ran and succeeded. */
zo_status zo_host_update_piece(zo_engine *e, size_t b, const zo_host_state_piece *state, zo_status prior,
                               bool *updated)
{
    const zo_update_plan *plan = &e->plan;
    size_t begin = zo_bucket_begin(&e->layout, b), piece = zo_piece_elems(&e->layout, b);
    /* this rank's piece of the summed gradient: where zo_process_bucket left it */
    size_t grad_offset = e->accumulated ? zo_accumulated_offset(e, b) : begin;
    void *weights_out = zo_pinned_piece(e, b);

    /* the staging slice is free once its previous copy up has run */
    zo_status status = prior ? prior : zo_device_event_synchronize(&e->device, e->h2d_done[b]);
    zo_adam_buffers buffers = {
        .n = piece,
        .master = state->master,
        .exp_avg = state->exp_avg,
        .exp_avg_sq = state->exp_avg_sq,
        .moments_dtype = e->settings.moments_dtype,
        .exp_avg_scale = state->exp_avg_scale,
        .exp_avg_sq_scale = state->exp_avg_sq_scale,
        .first_index = state->first_index,
        .grad = zo_at((void *)plan->grad, grad_offset, zo_dtype_size(plan->grad_dtype)),
        .grad_dtype = plan->grad_dtype,
        .grad_scale = plan->grad_scale,
        .weights_out = weights_out,
        .weights_out_dtype = e->dtype,
    };
    if (status == ZO_OK)
        status = zo_adam_step(e->adam, &plan->hparams, plan->step, &buffers);
    *updated = status == ZO_OK;
    if (status != ZO_OK)
        e->update_incomplete = true;
    /* even after a failure: the other ranks gather this bucket too */
    zo_status gathered = zo_gather_updated_bucket(e, b);
    status = status ? status : gathered;
    if (!e->settings.delayed_param_update) {
        zo_status sent = zo_send_bucket_up(e, b, plan->generation);
        status = status ? status : sent;
    }
    return status;
}

/* The host strategy's update: the piece's state is in the host copies. */
static zo_status zo_host_update_bucket(zo_engine *e, size_t b)
{
    size_t shard = zo_shard_offset(&e->layout, b);
    zo_host_state_piece state = {.master = e->master + shard};
    zo_moments_point(e, shard, &state);
    bool updated;
    return zo_host_update_piece(e, b, &state, ZO_OK, &updated);
}

/* Worker: update bucket b where the optimizer state lives. */
static zo_status zo_update_bucket(void *arg)
{
    const zo_bucket_job *job = arg;
    zo_engine *e = job->engine;
    size_t b = job->bucket;
    double started = zo_now_seconds();
    if (b == 0)
        e->update_started = started;
    zo_status status = e->optimizer_state->update_bucket(e, b);
    double finished = zo_now_seconds();
    if (b + 1 == e->layout.bucket_count)
        e->update_seconds = finished - e->update_started;
    zo_report_worker_span(e, ZO_EVENT_BUCKET_UPDATED, b, started, finished);
    return status;
}

/* Queues `job` for every bucket on the worker; on a failure the buckets left out are
 * published as `generation` so no forward waits for them forever. *queued: how many
 * were queued (the first ones). */
static zo_status zo_queue_bucket_jobs(zo_engine *e, zo_host_fn job, uint64_t generation, size_t *queued)
{
    for (size_t b = 0; b < e->layout.bucket_count; b++) {
        zo_status status = zo_device_launch_host(&e->worker_device, e->worker, job, &e->jobs[b]);
        if (status != ZO_OK) {
            for (size_t rest = b; rest < e->layout.bucket_count; rest++)
                zo_engine_publish(e, rest, generation);
            *queued = b;
            return status;
        }
    }
    *queued = e->layout.bucket_count;
    return ZO_OK;
}

/* Makes forwards wait for `generation` from now on. */
static void zo_want_generation(zo_engine *e, uint64_t generation)
{
    pthread_mutex_lock(&e->lock);
    e->wanted_generation = generation;
    pthread_mutex_unlock(&e->lock);
}

/* Delayed update: the last update's weights go up now, after the backward that still
 * used the previous ones. */
static zo_status zo_send_delayed_update(zo_engine *e)
{
    if (!e->unsent_generation)
        return ZO_OK;
    e->sending_generation = e->unsent_generation;
    e->unsent_generation = 0;
    zo_want_generation(e, e->sending_generation);
    size_t queued;
    return zo_queue_bucket_jobs(e, zo_send_delayed_bucket_up, e->sending_generation, &queued);
}

/* Names up to five parameters whose grad_ready is missing. */
static zo_status zo_report_missing(const zo_engine *e)
{
    char names[512] = "";
    size_t missing = 0;
    for (size_t i = 0; i < e->layout.param_count; i++)
        if (!e->param_ready[i] && missing++ < 5) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", e->layout.param_names[i]);
        }
    return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                   "zo_engine_step: %zu parameter(s) have no grad_ready in micro-step %llu: %s%s", missing,
                   (unsigned long long)e->micro_steps + 1, names, missing > 5 ? ", ..." : "");
}

/* Waits for the micro-step's copies and stats; errors of either stream come back, and
 * those of the last update's copies up (done by now: this micro-step's forward waited
 * for them), so a failed upload fails the next step instead of passing unseen. */
static zo_status zo_wait_for_gradients(zo_engine *e)
{
    zo_status status = zo_device_stream_synchronize(&e->device, e->d2h_stream);
    zo_status worker = zo_device_stream_synchronize(&e->worker_device, e->worker);
    zo_status h2d = zo_device_stream_synchronize(&e->device, e->h2d_stream);
    return status ? status : worker ? worker : h2d;
}

static void zo_start_next_micro_step(zo_engine *e)
{
    memset(e->param_ready, 0, e->layout.param_count * sizeof *e->param_ready);
    memcpy(e->bucket_pending, e->layout.bucket_param_count, e->layout.bucket_count * sizeof *e->bucket_pending);
    memset(e->bucket_landed, 0, e->layout.bucket_count * sizeof *e->bucket_landed);
    e->buckets_reduced = 0;
    e->micro_steps++;
    e->stats_seconds = 0.0;
    if (e->pinned_grads_spare) /* the delayed update reads the buffer just filled */
        e->grads_landing = e->grads_landing == e->pinned_grads ? e->pinned_grads_spare : e->pinned_grads;
}

/* Queues the update of every bucket, first layers first. */
static zo_status zo_queue_update(zo_engine *e, double lr, float grad_scale, const void *grad)
{
    e->plan = (zo_update_plan){.hparams = e->settings.adam,
                               .step = e->steps,
                               .grad = e->accumulated ? (const void *)e->accumulated : grad,
                               .grad_dtype = e->accumulated ? ZO_DTYPE_F32 : e->dtype,
                               .grad_scale = grad_scale};
    e->plan.hparams.lr = (float)lr;
    e->plan.generation = ++e->generation;
    if (e->settings.delayed_param_update)
        e->unsent_generation = e->plan.generation;
    else
        zo_want_generation(e, e->plan.generation);
    size_t queued;
    zo_status status = zo_queue_bucket_jobs(e, zo_update_bucket, e->plan.generation, &queued);
    if (status == ZO_OK || e->ranks == 1)
        return status;
    /* The other ranks gather every bucket: once the queued updates are done, gather the
     * rest here, in order, with this rank's pieces left as they were. The ranks' master
     * weights now differ, and the next step must fail on all of them. */
    char why[512];
    snprintf(why, sizeof why, "%s", zo_last_error());
    zo_device_stream_synchronize(&e->worker_device, e->worker);
    for (size_t b = queued; b < e->layout.bucket_count; b++)
        zo_gather_updated_bucket(e, b);
    e->update_incomplete = true;
    return zo_engine_defer_failure(e, zo_fail(status, "%s", why));
}

/* A failure of this rank's, its message kept (later calls overwrite zo_last_error). */
typedef struct zo_local_failure {
    zo_status status;
    char message[512];
} zo_local_failure;

/* Keeps the first failure noted. */
static void zo_note_failure(zo_local_failure *failure, zo_status status, const char *message)
{
    if (status != ZO_OK && failure->status == ZO_OK) {
        failure->status = status;
        snprintf(failure->message, sizeof failure->message, "%s", message);
    }
}

/* The micro-step's gradients are lost: the accumulation window starts over. */
static void zo_drop_micro_step(zo_engine *e)
{
    uint64_t into_window = e->micro_steps % e->accumulation_steps;
    e->micro_steps += into_window ? e->accumulation_steps - into_window : 0;
}

/* Waits for the micro-step's work and, with several ranks, makes the collectives this
 * rank still owes; notes what failed here, earliest cause first. */
static void zo_finish_micro_step_work(zo_engine *e, bool missing, zo_local_failure *local)
{
    zo_note_failure(local, e->deferred_failure, e->deferred_message);
    if (missing)
        zo_note_failure(local, zo_report_missing(e), zo_last_error());
    zo_status waited = zo_wait_for_gradients(e);
    zo_note_failure(local, waited, zo_last_error());
    if (e->ranks > 1) {
        zo_status caught_up = zo_catch_up_reductions(e);
        zo_note_failure(local, caught_up, zo_last_error());
    }
}

/* The step proper, once the ranks agree that none failed: skip it on an overflow, or
 * clip and queue the update. */
static zo_status zo_decide_step(zo_engine *e, const zo_step_agreement *agreed, const void *landed,
                                zo_step_info *result)
{
    bool finite = agreed->nonfinite_pieces == 0.0;
    /* DeepSpeed averages over micro-steps and ranks */
    double scale = e->scaler.scale * (double)e->accumulation_steps * (double)e->ranks;
    result->overflow = !finite;
    result->grad_norm = finite ? sqrt(agreed->sum_squares) / scale : INFINITY;
    if (!finite) {
        result->skipped = true;
        return zo_loss_scaler_update(&e->scaler, true);
    }
    double clip = e->settings.gradient_clipping;
    if (clip > 0.0 && clip / (result->grad_norm + 1e-6) < 1.0) /* DeepSpeed's clip_coef */
        result->clip_coefficient = clip / (result->grad_norm + 1e-6);
    e->steps++;
    result->lr = zo_lr_at_step(&e->settings.scheduler, e->settings.adam.lr, e->steps);
    zo_status status = zo_queue_update(e, result->lr, (float)(result->clip_coefficient / scale), landed);
    return status ? status : zo_loss_scaler_update(&e->scaler, false);
}

zo_status zo_engine_step(zo_engine *e, zo_step_info *info)
{
    if (!e)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_step: engine is NULL");
    bool missing = false;
    for (size_t i = 0; i < e->layout.param_count; i++)
        missing = missing || !e->param_ready[i];
    /* one rank returns at once; several must still meet the others in the collectives */
    if (missing && e->ranks == 1)
        return zo_report_missing(e);
    double started = zo_now_seconds();
    zo_local_failure local = {0};
    zo_finish_micro_step_work(e, missing, &local);
    if (e->trace)
        zo_trace_span(e->trace, ZO_TRACK_LOOP, "step: wait for gradients", (size_t)-1, started, zo_now_seconds());
    zo_step_info result = {.wait_seconds = zo_now_seconds() - started,
                           .stats_seconds = e->stats_seconds,
                           .update_seconds = e->update_seconds,
                           .boundary = zo_accumulation_boundary(e),
                           .clip_coefficient = 1.0};
    if (e->stage3) { /* before the update may write the pinned weights fetches read */
        zo_stage3_step_figures figures;
        zo_note_failure(&local, zo_stage3_end_micro_step(e, &figures), zo_last_error());
        result.fetches = figures.fetches;
        result.prefetch_hits = figures.prefetch_hits;
        result.reuses = figures.reuses;
        result.bytes_fetched = figures.bytes_fetched;
        result.prefetch_order_matched = figures.order_matched;
        result.fetch_update_wait_seconds = figures.update_wait_seconds;
    }
    const void *landed = e->grads_landing; /* before the next micro-step swaps it */
    zo_start_next_micro_step(e);
    if (local.status == ZO_OK)
        zo_note_failure(&local, zo_send_delayed_update(e), zo_last_error());
    e->deferred_failure = ZO_OK; /* reported now, by this step */
    if (local.status != ZO_OK && e->ranks == 1) {
        zo_drop_micro_step(e);
        return zo_fail(local.status, "%s", local.message);
    }

    /* every rank, every micro-step (one rank: at boundaries, where the stats are summed) */
    zo_step_agreement agreed = {0};
    if (result.boundary || e->ranks > 1) {
        zo_status status = zo_engine_agree_on_step(e, result.boundary, local.status != ZO_OK, &agreed);
        if (status != ZO_OK || agreed.failed_ranks > 0) {
            uint64_t failed_micro_step = e->micro_steps;
            zo_drop_micro_step(e);
            e->update_incomplete = false; /* said now, by this step */
            return zo_engine_step_failure(e, failed_micro_step, local.status, local.message, status, &agreed);
        }
    }
    zo_status status = result.boundary ? zo_decide_step(e, &agreed, landed, &result) : ZO_OK;
    result.micro_step = e->micro_steps;
    result.step = e->steps;
    result.loss_scale = (float)e->scaler.scale;
    if (info)
        *info = result;
    return status;
}

/* The host copies are the state: nothing to move between them and anywhere else. */
static zo_status zo_host_state_in_place(zo_engine *e, size_t offset, size_t elems)
{
    (void)e, (void)offset, (void)elems;
    return ZO_OK;
}

static zo_status zo_host_nothing_to_move(zo_engine *e)
{
    (void)e; /* the worker's stream is the one to wait for, and the engine does */
    return ZO_OK;
}

static void zo_host_nothing_to_free(zo_engine *e) { (void)e; }

const zo_optimizer_state_ops zo_optimizer_state_host = {
    .name = "host",
    .copies_gradients_down = true,
    .bucket_stats = zo_host_bucket_stats,
    .update_bucket = zo_host_update_bucket,
    .put_master = zo_host_state_in_place,
    .get_master = zo_host_state_in_place,
    .put_state = zo_host_nothing_to_move,
    .get_state = zo_host_nothing_to_move,
    .synchronize = zo_host_nothing_to_move,
    .destroy = zo_host_nothing_to_free,
};
