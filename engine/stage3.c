/* ZeRO stage 3's slots, fetches, prefetch and per-parameter gradient copies
 * (stage3.h). The pools are first-fit over the parameters that hold a slot: few
 * enough (a model's parameter tensors) that a scan per fetch costs nothing next to the
 * copy it starts, and nothing is allocated while training. */
#include "stage3.h"

#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "error.h"
#include "stage3_shard.h"
#include "stage3_sizes.h"
#include "update_placement.h"

/* A weight slot: fetched and held by the loop, fetched ahead and not yet claimed, or
 * given back (reusable once the loop's stream passes the release). */
typedef enum { ZO_WEIGHT_NONE, ZO_WEIGHT_LIVE, ZO_WEIGHT_PREFETCHED, ZO_WEIGHT_RELEASED } zo_weight_state;
/* A gradient slot: handed to the loop, or its copy down queued (reusable once done). */
typedef enum { ZO_GRAD_NONE, ZO_GRAD_ASSIGNED, ZO_GRAD_COPYING } zo_grad_state;

/* What the host functions the fetch stream runs for a parameter need: the wait for its
 * update before a prefetch's copy, and (when tracing) the stamps around the copy. */
typedef struct zo_fetch_mark {
    struct zo_engine *engine;
    size_t param;
    double began;
} zo_fetch_mark;

typedef struct zo_interval {
    uint64_t begin, end;
} zo_interval;

struct zo_stage3 {
    zo_stage3_sizes sizes;
    bool *persistent;
    uint64_t *persistent_offset;          /* per persistent parameter, in its buffers */
    void *persistent_weights, *persistent_grads, *pool, *grad_pool; /* device */
    zo_device_stream *fetch_stream;
    unsigned char *weight_state, *grad_state;
    bool *release_recorded;               /* released with a loop stream (else: done) */
    uint64_t *weight_offset, *grad_offset; /* in their pool, elements                */
    zo_device_event **fetched, **released, **grad_written, **grad_copied;
    zo_interval *scratch;                 /* the allocator's sorted occupied ranges   */
    size_t *bucket_first_param;           /* per bucket, the first parameter in it: the
                                             per-bucket work walks only its own       */
    size_t *copying;                      /* gradient slots copying down, in the d2h
                                             stream's order: they finish in this order */
    size_t copying_head, copying_tail;
    size_t *order;                        /* the first micro-step's fetches           */
    size_t order_length, position;
    zo_fetch_mark *fetch_marks;           /* per parameter                            */
    bool recording, matched;
    /* Several ranks (stage3_shard.h): the whole weights of what is fetched are gathered
     * on the fetch stream into the host slot of the same offset as its device slot, over
     * a communicator of their own (the worker's collectives run at the same time); the
     * persistent parameters' whole weights live in a host copy the worker gathers after
     * each update. The fetches run in the same order on every rank, as the calls that
     * queue them: slots are chosen from the loop's calls alone, never from timing. */
    zo_comm fetch_comm;
    void *gather_pool, *persistent_host;   /* pinned host, like pool / persistent     */
    size_t *fetch_part_bytes, *worker_part_bytes; /* per rank: allgatherv's counts    */
    uint64_t *fetched_by_rank;            /* per rank: the parameter its gather is for */
    bool fetch_comm_broken;               /* a gather timed out (read once drained)  */
    zo_status gather_failure;             /* the micro-step's first failed gather: the
                                             later ones are skipped, on every rank alike
                                             (the check that finds a fetch differing
                                             between ranks fails on all), so the ranks'
                                             gathers stay paired. The fetch stream's;
                                             cleared once it is drained */
    zo_stage3_step_figures figures;
};

static void *zo_device_at(void *base, uint64_t elem, size_t elem_bytes) { return (char *)base + elem * elem_bytes; }

/* What stage 3 cannot run with yet, by name. */
static zo_status zo_stage3_check_settings(const zo_engine *e)
{
    const zo_settings *s = &e->settings;
    const char *what = s->delayed_param_update         ? "zo.delayed_param_update"
                       /* on the host backend "none" is the offloaded path anyway */
                       : !s->offload_optimizer && zo_device_takes_external_streams(&e->device)
                           ? "offload_optimizer.device \"none\" on a GPU"
                       : !s->offload_param             ? "offload_param.device \"none\""
                                                       : NULL;
    if (!what)
        return ZO_OK;
    return zo_fail(ZO_ERR_NOT_SUPPORTED,
                   "zero_optimization.stage 3 with %s is not supported: stage 3 streams the 16-bit weights "
                   "from host memory (offload_param.device \"cpu\" with the optimizer offloaded)",
                   what);
}

static zo_status zo_alloc_events(const zo_device *device, size_t count, zo_device_event ***out)
{
    *out = calloc(count, sizeof **out);
    if (!*out)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for stage 3's events");
    for (size_t i = 0; i < count; i++) {
        zo_status status = zo_device_event_create(device, &(*out)[i]);
        if (status != ZO_OK)
            return status;
    }
    return ZO_OK;
}

static void zo_free_events(const zo_device *device, zo_device_event **events, size_t count)
{
    for (size_t i = 0; events && i < count; i++)
        if (events[i])
            zo_device_event_destroy(device, events[i]);
    free(events);
}

/* Several ranks: the fetches' communicator and the host copies gathers fill. */
static zo_status zo_stage3_create_gathers(zo_engine *e)
{
    zo_stage3 *s = e->stage3;
    zo_status status = ZO_OK;
    uint64_t persistent = s->sizes.persistent_elems, pool = s->sizes.pool_elems;
    s->fetch_part_bytes = calloc(e->ranks, sizeof *s->fetch_part_bytes);
    s->worker_part_bytes = calloc(e->ranks, sizeof *s->worker_part_bytes);
    s->fetched_by_rank = calloc(e->ranks, sizeof *s->fetched_by_rank);
    if (!s->fetch_part_bytes || !s->worker_part_bytes || !s->fetched_by_rank)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for stage 3's gathers");
    if ((status = zo_comm_duplicate(&e->comm, &s->fetch_comm)) != ZO_OK)
        return zo_fail(status, "zo_engine_create: zero_optimization.stage 3 over %zu ranks gathers the weights "
                               "it fetches over a second communicator: %s", e->ranks, zo_last_error());
    if ((persistent && (status = zo_engine_alloc_pinned_near(e, persistent * e->dtype_bytes, &s->persistent_host))) ||
        (pool && (status = zo_engine_alloc_pinned_near(e, pool * e->dtype_bytes, &s->gather_pool))))
        return status;
    return ZO_OK;
}

zo_status zo_stage3_create(zo_engine *e)
{
    zo_status status = zo_stage3_check_settings(e);
    if (status != ZO_OK)
        return status;
    size_t params = e->layout.param_count;
    zo_stage3 *s = e->stage3 = calloc(1, sizeof *s);
    if (!s)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for stage 3");
    s->persistent = calloc(params, sizeof *s->persistent);
    s->persistent_offset = calloc(params, sizeof *s->persistent_offset);
    s->weight_state = calloc(params, 1);
    s->grad_state = calloc(params, 1);
    s->release_recorded = calloc(params, sizeof *s->release_recorded);
    s->weight_offset = calloc(params, sizeof *s->weight_offset);
    s->grad_offset = calloc(params, sizeof *s->grad_offset);
    s->scratch = calloc(params, sizeof *s->scratch);
    s->order = calloc(2 * params, sizeof *s->order); /* forward and backward */
    s->bucket_first_param = calloc(e->layout.bucket_count, sizeof *s->bucket_first_param);
    s->copying = calloc(params, sizeof *s->copying); /* one grad_ready per micro-step each */
    if (!s->persistent || !s->persistent_offset || !s->weight_state || !s->grad_state || !s->release_recorded ||
        !s->weight_offset || !s->grad_offset || !s->scratch || !s->order || !s->bucket_first_param || !s->copying)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for stage 3's %zu parameters", params);
    s->recording = s->matched = true;
    for (size_t i = params; i-- > 0;) /* parameters lie in flat order: the lowest wins */
        for (size_t b = zo_param_first_bucket(&e->layout, i); b <= zo_param_last_bucket(&e->layout, i); b++)
            s->bucket_first_param[b] = i;
    if ((status = zo_stage3_sizes_for(&e->settings, &e->layout, s->persistent, &s->sizes)))
        return status;
    if (!(s->fetch_marks = calloc(params, sizeof *s->fetch_marks)))
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for stage 3's fetch marks");
    for (size_t i = 0; i < params; i++)
        s->fetch_marks[i] = (zo_fetch_mark){e, i, 0.0};
    uint64_t next = 0;
    for (size_t i = 0; i < params; i++)
        if (s->persistent[i])
            s->persistent_offset[i] = next, next += zo_stage3_aligned(e->layout.param_elems[i]);
    const zo_device *device = &e->device;
    size_t bytes = e->dtype_bytes;
    /* exactly what the memory plan counts (stage3_sizes.h); an empty buffer is none */
    uint64_t persistent = s->sizes.persistent_elems, pool = s->sizes.pool_elems;
    if ((persistent && (status = zo_device_alloc_device(device, persistent * bytes, &s->persistent_weights))) ||
        (persistent && (status = zo_device_alloc_device(device, persistent * bytes, &s->persistent_grads))) ||
        (pool && (status = zo_device_alloc_device(device, pool * bytes, &s->pool))) ||
        (pool && (status = zo_device_alloc_device(device, pool * bytes, &s->grad_pool))) ||
        (status = zo_device_stream_create(device, "fetch", &s->fetch_stream)) ||
        (status = zo_alloc_events(device, params, &s->fetched)) ||
        (status = zo_alloc_events(device, params, &s->released)) ||
        (status = zo_alloc_events(device, params, &s->grad_written)) ||
        (status = zo_alloc_events(device, params, &s->grad_copied)))
        return status;
    return zo_weights_sharded(e) ? zo_stage3_create_gathers(e) : ZO_OK;
}

void zo_stage3_destroy(zo_engine *e)
{
    zo_stage3 *s = e->stage3;
    if (!s)
        return;
    const zo_device *device = &e->device;
    size_t params = e->layout.param_count;
    if (s->fetch_stream)
        zo_device_stream_destroy(device, s->fetch_stream);
    zo_free_events(device, s->fetched, params);
    zo_free_events(device, s->released, params);
    zo_free_events(device, s->grad_written, params);
    zo_free_events(device, s->grad_copied, params);
    zo_device_free_device(device, s->persistent_weights);
    zo_device_free_device(device, s->persistent_grads);
    zo_device_free_device(device, s->pool);
    zo_device_free_device(device, s->grad_pool);
    /* the fetch stream is drained: a gather that timed out may still be posted, and
     * write its slot or the ranks' parameter check, or read the pinned weights: the
     * engine keeps those then. Likewise a persistent gather of the worker's that timed
     * out (e->comm_broken) may still write the persistent parameters' host copy. */
    if (!e->comm_broken)
        zo_device_free_pinned(device, s->persistent_host);
    if (s->fetch_comm_broken) {
        e->comm_broken = true;
    } else {
        zo_device_free_pinned(device, s->gather_pool);
        free(s->fetched_by_rank);
    }
    zo_comm_destroy(&s->fetch_comm);
    free(s->fetch_part_bytes), free(s->worker_part_bytes);
    free(s->persistent), free(s->persistent_offset), free(s->weight_state), free(s->grad_state);
    free(s->release_recorded), free(s->weight_offset), free(s->grad_offset), free(s->scratch), free(s->order);
    free(s->bucket_first_param), free(s->copying);
    free(s->fetch_marks);
    free(s);
    e->stage3 = NULL;
}

static int zo_compare_intervals(const void *a, const void *b)
{
    const zo_interval *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* First fit of `need` elements among the slots whose state is in `occupied` (a bit per
 * state). True and *offset when it fits. */
static bool zo_first_fit(const zo_engine *e, const unsigned char *state, const uint64_t *offsets, unsigned occupied,
                         uint64_t capacity, uint64_t need, uint64_t *offset)
{
    zo_stage3 *s = e->stage3;
    size_t used = 0;
    for (size_t i = 0; i < e->layout.param_count; i++)
        if (occupied & (1u << state[i]))
            s->scratch[used++] = (zo_interval){offsets[i], offsets[i] + zo_stage3_aligned(e->layout.param_elems[i])};
    qsort(s->scratch, used, sizeof *s->scratch, zo_compare_intervals);
    uint64_t candidate = 0;
    for (size_t k = 0; k < used; k++) {
        if (s->scratch[k].begin >= candidate + need)
            break;
        if (s->scratch[k].end > candidate)
            candidate = s->scratch[k].end;
    }
    if (candidate + need > capacity)
        return false;
    *offset = candidate;
    return true;
}

/* A weight slot for `param`. Slots given back are taken over after the fetch stream
 * waits for the loop to pass their release; unclaimed prefetches are dropped when
 * nothing else fits (`may_evict`). */
static zo_status zo_weight_slot(zo_engine *e, size_t param, bool may_evict, uint64_t *offset)
{
    zo_stage3 *s = e->stage3;
    size_t params = e->layout.param_count;
    uint64_t need = zo_stage3_aligned(e->layout.param_elems[param]);
    unsigned held = 1u << ZO_WEIGHT_LIVE | 1u << ZO_WEIGHT_PREFETCHED;
    /* space no released slot holds first: a parameter fetched again in this micro-step
     * (the backward after the forward) then finds its weights still there */
    bool fits = zo_first_fit(e, s->weight_state, s->weight_offset, held | 1u << ZO_WEIGHT_RELEASED,
                             s->sizes.pool_elems, need, offset) ||
                zo_first_fit(e, s->weight_state, s->weight_offset, held, s->sizes.pool_elems, need, offset);
    if (!fits && may_evict) {
        for (size_t i = 0; i < params; i++)
            if (s->weight_state[i] == ZO_WEIGHT_PREFETCHED)
                s->weight_state[i] = ZO_WEIGHT_NONE; /* its copy is queued before ours */
        fits = zo_first_fit(e, s->weight_state, s->weight_offset, held, s->sizes.pool_elems, need, offset);
    }
    if (!fits)
        return may_evict ? zo_fail(ZO_ERR_OUT_OF_MEMORY,
                                   "zo_engine_fetch: parameter %zu (%s, %zu elements) does not fit beside the "
                                   "parameters fetched and not released: zero_optimization.stage3_max_live_parameters "
                                   "(%llu elements) bounds them; release parameters the loop is done with, or raise it",
                                   param, e->layout.param_names[param], e->layout.param_elems[param],
                                   (unsigned long long)e->settings.stage3_max_live_parameters)
                         : ZO_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < params; i++) { /* released slots this one overlaps */
        uint64_t begin = s->weight_offset[i], end = begin + zo_stage3_aligned(e->layout.param_elems[i]);
        if (s->weight_state[i] != ZO_WEIGHT_RELEASED || end <= *offset || begin >= *offset + need)
            continue;
        if (s->release_recorded[i]) {
            zo_status status = zo_device_stream_wait_event(&e->device, s->fetch_stream, s->released[i]);
            if (status != ZO_OK)
                return status;
        }
        s->weight_state[i] = ZO_WEIGHT_NONE;
    }
    return ZO_OK;
}

/* Waits until every bucket of `param` holds the weights of the update forwards wait for. */
static void zo_wait_param_published(zo_engine *e, size_t param)
{
    for (size_t b = zo_param_first_bucket(&e->layout, param); b <= zo_param_last_bucket(&e->layout, param); b++)
        zo_engine_wait_published(e, b);
}

/* Whether every bucket of `param` holds the weights of the update forwards wait for. */
static bool zo_weights_published(zo_engine *e, size_t param)
{
    pthread_mutex_lock(&e->lock);
    bool published = true;
    for (size_t b = zo_param_first_bucket(&e->layout, param); b <= zo_param_last_bucket(&e->layout, param); b++)
        published = published && e->bucket_generation[b] >= e->wanted_generation;
    pthread_mutex_unlock(&e->lock);
    return published;
}

static zo_status zo_mark_fetch_begin(void *arg)
{
    ((zo_fetch_mark *)arg)->began = zo_now_seconds();
    return ZO_OK;
}

static zo_status zo_mark_fetch_end(void *arg)
{
    const zo_fetch_mark *mark = arg;
    zo_trace_span(mark->engine->trace, ZO_TRACK_FETCH, "fetch", mark->param, mark->began, zo_now_seconds());
    return ZO_OK;
}

/* Fetch stream: every rank's gather must be for the same parameter, else the pieces
 * would be mixed up (a loop that fetches in another order on some rank): an 8-byte
 * all-gather of the parameters first turns that into an error naming both. */
static zo_status zo_check_same_fetch(zo_engine *e, size_t param)
{
    zo_stage3 *s = e->stage3;
    s->fetched_by_rank[e->rank] = param;
    zo_status status = zo_comm_allgather(&s->fetch_comm, &s->fetched_by_rank[e->rank], s->fetched_by_rank,
                                         sizeof *s->fetched_by_rank);
    for (size_t r = 0; status == ZO_OK && r < e->ranks; r++)
        if (s->fetched_by_rank[r] != param)
            status = zo_fail(ZO_ERR_INVALID_ARGUMENT,
                             "zo_engine_fetch: rank %zu fetched parameter %zu (%s) where rank %zu fetched %llu: with "
                             "zero_optimization.stage 3 over several ranks every rank makes the same fetch calls in "
                             "the same order (the fetches gather the weights from every rank)",
                             e->rank, param, e->layout.param_names[param], r,
                             (unsigned long long)s->fetched_by_rank[r]);
    return status;
}

/* Fetch stream, several ranks: gathers the parameter's whole weights from every rank
 * into its host slot. This rank's pieces already hold the update forwards wait for:
 * a fetch waits for it before queueing the gather, a prefetch queues a wait for it
 * ahead (zo_prefetch). The slot's last copy up ran before (the stream's order). */
static zo_status zo_gather_fetched(void *arg)
{
    const zo_fetch_mark *mark = arg;
    zo_engine *e = mark->engine;
    zo_stage3 *s = e->stage3;
    size_t param = mark->param, begin = e->layout.param_offset[param];
    if (s->gather_failure != ZO_OK)
        return zo_fail(s->gather_failure, "zo_engine_fetch: parameter %zu (%s) not gathered: an earlier gather of "
                                          "this micro-step failed", param, e->layout.param_names[param]);
    zo_status status = zo_check_same_fetch(e, param);
    if (status == ZO_OK)
        status = zo_gather_weights(e, &s->fetch_comm, begin, begin + e->layout.param_elems[param],
                                   zo_device_at(s->gather_pool, s->weight_offset[param], e->dtype_bytes),
                                   s->fetch_part_bytes);
    if (status == ZO_ERR_TIMEOUT)
        s->fetch_comm_broken = true;
    s->gather_failure = status;
    return status;
}

/* Where the copy up of a parameter in slot `offset` reads its weights: the pinned
 * weights, or with several ranks the host slot its gather fills. */
static const void *zo_fetch_source(zo_engine *e, size_t param, uint64_t offset)
{
    zo_stage3 *s = e->stage3;
    if (zo_weights_sharded(e))
        return zo_device_at(s->gather_pool, offset, e->dtype_bytes);
    return (char *)e->pinned_weights + e->layout.param_offset[param] * e->dtype_bytes;
}

/* Queues `param`'s weights from the pinned buffer into its slot on the fetch stream
 * (gathered first, with several ranks). */
static zo_status zo_copy_up(zo_engine *e, size_t param, uint64_t offset)
{
    zo_stage3 *s = e->stage3;
    size_t bytes = e->layout.param_elems[param] * e->dtype_bytes;
    zo_fetch_mark *mark = e->trace ? &s->fetch_marks[param] : NULL;
    s->weight_offset[param] = offset;
    zo_status status = mark ? zo_device_launch_host(&e->device, s->fetch_stream, zo_mark_fetch_begin, mark) : ZO_OK;
    if (status == ZO_OK && zo_weights_sharded(e))
        status = zo_device_launch_host(&e->device, s->fetch_stream, zo_gather_fetched, &s->fetch_marks[param]);
    if (status == ZO_OK)
        status = zo_device_copy_async(&e->device, zo_device_at(s->pool, offset, e->dtype_bytes),
                                      zo_fetch_source(e, param, offset), bytes, s->fetch_stream);
    if (status == ZO_OK && mark)
        status = zo_device_launch_host(&e->device, s->fetch_stream, zo_mark_fetch_end, mark);
    if (status == ZO_OK)
        status = zo_device_event_record(&e->device, s->fetched[param], s->fetch_stream);
    if (status == ZO_OK) {
        s->figures.fetches++;
        s->figures.bytes_fetched += bytes;
    }
    return status;
}

/* Fetch stream, before a prefetch's copy: waits until the update has written the
 * parameter's pinned weights. The update of the last step never waits for the loop,
 * and zo_engine_step drains the fetch stream before it starts the next one, so this
 * wait ends, and it reads the generation the copy is for. */
static zo_status zo_wait_until_published(void *arg)
{
    const zo_fetch_mark *mark = arg;
    zo_wait_param_published(mark->engine, mark->param);
    return ZO_OK;
}

/* Copies ahead along the recorded order, up to stage3_prefetch_bucket_size elements,
 * never making the loop wait: a parameter whose update is not out yet is queued behind
 * a wait for it on the fetch stream (its copy starts the moment the update publishes
 * it, not at the loop's next fetch); one that does not fit beside the live ones ends
 * the prefetch. */
static void zo_prefetch(zo_engine *e)
{
    zo_stage3 *s = e->stage3;
    uint64_t ahead = 0;
    for (size_t k = s->position; k < s->order_length && ahead < e->settings.stage3_prefetch_bucket_size; k++) {
        size_t q = s->order[k];
        if (s->persistent[q] || s->weight_state[q] != ZO_WEIGHT_NONE) /* there already, or still in its slot */
            continue;
        uint64_t offset;
        if (zo_weight_slot(e, q, false, &offset) != ZO_OK ||
            (!zo_weights_published(e, q) &&
             zo_device_launch_host(&e->device, s->fetch_stream, zo_wait_until_published, &s->fetch_marks[q]) != ZO_OK) ||
            zo_copy_up(e, q, offset) != ZO_OK)
            return;
        s->weight_state[q] = ZO_WEIGHT_PREFETCHED;
        ahead += e->layout.param_elems[q];
    }
}

/* Follows the loop's fetches against the recorded order. */
static void zo_note_order(zo_stage3 *s, size_t param, size_t params)
{
    if (s->recording) {
        if (s->order_length < 2 * params)
            s->order[s->order_length++] = param;
        return;
    }
    if (s->matched && s->position < s->order_length && s->order[s->position] == param)
        s->position++;
    else
        s->matched = false;
}

zo_status zo_stage3_fetch(zo_engine *e, size_t param, void *stream)
{
    zo_stage3 *s = e->stage3;
    if (s->persistent[param])
        return zo_engine_wait_params(e, param, stream);
    zo_note_order(s, param, e->layout.param_count);
    zo_status status = ZO_OK;
    /* the update first (its copy, prefetched or not, follows it): timed apart */
    if (!zo_weights_published(e, param)) {
        double entered = zo_now_seconds();
        zo_wait_param_published(e, param);
        s->figures.update_wait_seconds += zo_now_seconds() - entered;
    }
    if (s->weight_state[param] == ZO_WEIGHT_PREFETCHED) {
        s->figures.prefetch_hits++;
    } else if (s->weight_state[param] == ZO_WEIGHT_RELEASED) {
        s->figures.reuses++; /* released in this micro-step, its slot not taken since */
    } else if (s->weight_state[param] != ZO_WEIGHT_LIVE) { /* its pinned weights are written */
        uint64_t offset;
        if ((status = zo_weight_slot(e, param, true, &offset)) || (status = zo_copy_up(e, param, offset)))
            return status;
    }
    s->weight_state[param] = ZO_WEIGHT_LIVE;
    /* the loop's stream waits on the device; without one, the caller waits here */
    status = stream ? zo_device_external_stream_wait_event(&e->device, stream, s->fetched[param])
                    : zo_device_event_synchronize(&e->device, s->fetched[param]);
    if (status == ZO_OK && !s->recording && s->matched)
        zo_prefetch(e);
    return status;
}

zo_status zo_stage3_release(zo_engine *e, size_t param, void *stream)
{
    zo_stage3 *s = e->stage3;
    if (s->persistent[param])
        return ZO_OK; /* it stays on the device */
    if (s->weight_state[param] != ZO_WEIGHT_LIVE)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_engine_release: parameter %zu (%s) is not fetched: release follows zo_engine_fetch", param,
                       e->layout.param_names[param]);
    zo_status status = stream ? zo_device_event_record_external(&e->device, s->released[param], stream) : ZO_OK;
    if (status != ZO_OK)
        return status;
    s->release_recorded[param] = stream != NULL;
    s->weight_state[param] = ZO_WEIGHT_RELEASED;
    return ZO_OK;
}

void *zo_stage3_persistent_weights(zo_engine *e, size_t param)
{
    zo_stage3 *s = e->stage3;
    return s->persistent[param] ? zo_device_at(s->persistent_weights, s->persistent_offset[param], e->dtype_bytes)
                                : NULL;
}

void *zo_stage3_persistent_host(zo_engine *e, size_t param)
{
    zo_stage3 *s = e->stage3;
    return s->persistent[param] && s->persistent_host
               ? zo_device_at(s->persistent_host, s->persistent_offset[param], e->dtype_bytes)
               : NULL;
}

void *zo_stage3_weights(zo_engine *e, size_t param)
{
    zo_stage3 *s = e->stage3;
    if (s->persistent[param])
        return zo_stage3_persistent_weights(e, param);
    if (s->weight_state[param] == ZO_WEIGHT_LIVE)
        return zo_device_at(s->pool, s->weight_offset[param], e->dtype_bytes);
    zo_fail(ZO_ERR_INVALID_ARGUMENT,
            "zo_engine_weights: parameter %zu (%s) is not fetched: with zero_optimization.stage 3 its weights are "
            "on the device only between zo_engine_fetch and zo_engine_release",
            param, e->layout.param_names[param]);
    return NULL;
}

/* Gradient slots whose copy down is done are free again; with `wait`, waits for all.
 * The copies run in the d2h stream's order, so the first unfinished one ends the walk:
 * one event query per slot freed, not one per parameter. */
static void zo_reclaim_gradient_slots(zo_engine *e, bool wait)
{
    zo_stage3 *s = e->stage3;
    while (s->copying_head < s->copying_tail) {
        size_t i = s->copying[s->copying_head];
        bool done = s->grad_state[i] != ZO_GRAD_COPYING; /* taken back by zo_stage3_grads */
        if (!done && wait)
            done = zo_device_event_synchronize(&e->device, s->grad_copied[i]) == ZO_OK;
        else if (!done && zo_device_event_query(&e->device, s->grad_copied[i], &done) != ZO_OK)
            done = false;
        if (!done)
            return;
        if (s->grad_state[i] == ZO_GRAD_COPYING)
            s->grad_state[i] = ZO_GRAD_NONE;
        s->copying_head++;
    }
}

void *zo_stage3_grads(zo_engine *e, size_t param)
{
    zo_stage3 *s = e->stage3;
    if (s->persistent[param])
        return zo_device_at(s->persistent_grads, s->persistent_offset[param], e->dtype_bytes);
    if (s->grad_state[param] == ZO_GRAD_ASSIGNED)
        return zo_device_at(s->grad_pool, s->grad_offset[param], e->dtype_bytes);
    if (s->grad_state[param] == ZO_GRAD_COPYING)
        zo_device_event_synchronize(&e->device, s->grad_copied[param]); /* its slot is rewritten */
    s->grad_state[param] = ZO_GRAD_NONE;
    uint64_t need = zo_stage3_aligned(e->layout.param_elems[param]), offset;
    unsigned held = 1u << ZO_GRAD_ASSIGNED | 1u << ZO_GRAD_COPYING;
    zo_reclaim_gradient_slots(e, false);
    bool fits = zo_first_fit(e, s->grad_state, s->grad_offset, held, s->sizes.grad_pool_elems, need, &offset);
    if (!fits) {
        zo_reclaim_gradient_slots(e, true);
        fits = zo_first_fit(e, s->grad_state, s->grad_offset, held, s->sizes.grad_pool_elems, need, &offset);
    }
    if (!fits) {
        zo_fail(ZO_ERR_OUT_OF_MEMORY,
                "zo_engine_grads: no gradient slot for parameter %zu (%s): the slots (stage3_max_live_parameters, "
                "%llu elements) hold gradients whose zo_engine_grad_ready has not come: call it as each gradient "
                "is written",
                param, e->layout.param_names[param], (unsigned long long)s->sizes.grad_pool_elems);
        return NULL;
    }
    s->grad_offset[param] = offset;
    s->grad_state[param] = ZO_GRAD_ASSIGNED;
    return zo_device_at(s->grad_pool, offset, e->dtype_bytes);
}

zo_status zo_stage3_grad_ready(zo_engine *e, size_t param, void *stream)
{
    zo_stage3 *s = e->stage3;
    const void *source;
    if (s->persistent[param])
        source = zo_device_at(s->persistent_grads, s->persistent_offset[param], e->dtype_bytes);
    else if (s->grad_state[param] == ZO_GRAD_ASSIGNED)
        source = zo_device_at(s->grad_pool, s->grad_offset[param], e->dtype_bytes);
    else
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_engine_grad_ready: parameter %zu (%s) has no gradient slot: write its gradient where "
                       "zo_engine_grads points first",
                       param, e->layout.param_names[param]);
    /* the landing slice must not be overwritten while the last update still reads it */
    if (!e->accumulated)
        zo_wait_param_published(e, param);
    const zo_device *device = &e->device;
    zo_status status = ZO_OK;
    if (stream && ((status = zo_device_event_record_external(device, s->grad_written[param], stream)) ||
                   (status = zo_device_stream_wait_event(device, e->d2h_stream, s->grad_written[param]))))
        return status;
    size_t offset = e->layout.param_offset[param];
    if ((status = zo_device_copy_async(device, (char *)e->grads_landing + offset * e->dtype_bytes, source,
                                       e->layout.param_elems[param] * e->dtype_bytes, e->d2h_stream)) ||
        (status = zo_device_event_record(device, s->grad_copied[param], e->d2h_stream)))
        return status;
    if (!s->persistent[param]) {
        s->grad_state[param] = ZO_GRAD_COPYING;
        s->copying[s->copying_tail++] = param;
    }
    return ZO_OK;
}

void zo_stage3_clear_gaps(zo_engine *e, size_t bucket)
{
    size_t begin = zo_bucket_begin(&e->layout, bucket), end = zo_bucket_end(&e->layout, bucket);
    size_t cleared_to = begin; /* parameters lie in flat order */
    for (size_t i = e->stage3->bucket_first_param[bucket]; i <= e->layout.param_count && cleared_to < end; i++) {
        size_t first = i < e->layout.param_count ? e->layout.param_offset[i] : end;
        size_t last = i < e->layout.param_count ? first + e->layout.param_elems[i] : end;
        if (last <= cleared_to)
            continue;
        size_t gap_end = first < end ? first : end;
        if (gap_end > cleared_to)
            memset((char *)e->grads_landing + cleared_to * e->dtype_bytes, 0, (gap_end - cleared_to) * e->dtype_bytes);
        cleared_to = last;
    }
}

/* The part [*from, *to) of bucket b that persistent parameter i holds, if it holds one
 * (the walks below start at the bucket's first parameter and stop past its end). */
static bool zo_persistent_part(const zo_engine *e, size_t i, size_t bucket, size_t *from, size_t *to)
{
    size_t begin = zo_bucket_begin(&e->layout, bucket), end = zo_bucket_end(&e->layout, bucket);
    size_t first = e->layout.param_offset[i], last = first + e->layout.param_elems[i];
    *from = first > begin ? first : begin, *to = last < end ? last : end;
    return e->stage3->persistent[i] && *from < *to;
}

/* Where element `elem` (in the flat space) of persistent parameter i lies in `base`, a
 * buffer laid out as the persistent parameters (device weights, or the host copy). */
static void *zo_persistent_at(const zo_engine *e, void *base, size_t i, size_t elem)
{
    return zo_device_at(base, e->stage3->persistent_offset[i] + (elem - e->layout.param_offset[i]), e->dtype_bytes);
}

zo_status zo_stage3_send_bucket_up(zo_engine *e, size_t bucket)
{
    zo_stage3 *s = e->stage3;
    size_t end = zo_bucket_end(&e->layout, bucket), from, to;
    for (size_t i = s->bucket_first_param[bucket]; i < e->layout.param_count && e->layout.param_offset[i] < end; i++) {
        if (!zo_persistent_part(e, i, bucket, &from, &to))
            continue;
        const void *source = zo_weights_sharded(e) /* gathered after the update */
                                 ? zo_persistent_at(e, s->persistent_host, i, from)
                                 : (char *)e->pinned_weights + from * e->dtype_bytes;
        zo_status status = zo_device_copy_async(&e->device, zo_persistent_at(e, s->persistent_weights, i, from),
                                                source, (to - from) * e->dtype_bytes, e->h2d_stream);
        if (status != ZO_OK)
            return status;
    }
    return ZO_OK;
}

zo_status zo_stage3_gather_persistent(zo_engine *e, size_t bucket)
{
    zo_stage3 *s = e->stage3;
    zo_status status = ZO_OK;
    size_t end = zo_bucket_end(&e->layout, bucket), from, to;
    for (size_t i = s->bucket_first_param[bucket]; i < e->layout.param_count && e->layout.param_offset[i] < end; i++) {
        if (!zo_persistent_part(e, i, bucket, &from, &to))
            continue;
        /* a failure stops nothing: every rank makes every gather */
        zo_status gathered = zo_engine_collective_done(
            e, zo_gather_weights(e, &e->comm, from, to, zo_persistent_at(e, s->persistent_host, i, from),
                                 s->worker_part_bytes));
        status = status ? status : gathered;
        if (gathered == ZO_ERR_TIMEOUT)
            break; /* the communicator is broken: every later gather fails at once */
    }
    return status;
}

zo_status zo_stage3_end_micro_step(zo_engine *e, zo_stage3_step_figures *figures)
{
    zo_stage3 *s = e->stage3;
    zo_status status = zo_device_stream_synchronize(&e->device, s->fetch_stream);
    s->gather_failure = ZO_OK;
    for (size_t i = 0; i < e->layout.param_count; i++) {
        /* the update rewrites the weights: no slot holds current ones after it; the
         * loop's backward is done with every slot (its releases have passed) */
        if (s->weight_state[i] == ZO_WEIGHT_RELEASED && s->release_recorded[i]) {
            zo_status passed = zo_device_event_synchronize(&e->device, s->released[i]);
            status = status ? status : passed;
        }
        s->weight_state[i] = ZO_WEIGHT_NONE;
        s->grad_state[i] = ZO_GRAD_NONE;     /* the copies down are done (step waited) */
    }
    s->copying_head = s->copying_tail = 0;
    *figures = s->figures;
    figures->order_matched = !s->recording && s->matched && s->position == s->order_length;
    s->figures = (zo_stage3_step_figures){0};
    if (s->order_length > 0)
        s->recording = false;
    s->position = 0;
    s->matched = true;
    return status;
}

zo_status zo_stage3_refresh_persistent(zo_engine *e)
{
    for (size_t b = 0; b < e->layout.bucket_count; b++) {
        zo_status status = zo_stage3_send_bucket_up(e, b);
        if (status != ZO_OK)
            return status;
    }
    return zo_device_stream_synchronize(&e->device, e->h2d_stream);
}
