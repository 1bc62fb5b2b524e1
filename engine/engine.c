/* The engine's life cycle: settings checks, layout, the ranks' agreement, the device and
 * its streams, the host state; and the accessors of the public API. The pipeline is
 * step.c, the master weights' accessors master.c. */
#include "zo/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "create_checks.h"
#include "engine_internal.h"
#include "comm/choose.h"
#include "config/batch_size.h"
#include "update_placement.h"
#include "error.h"
#include "fault_injection.h"
#include "host_pages.h"
#include "memory_plan.h"
#include "moments_state.h"
#include "nvme/files.h"
#include "optimizer_state.h"
#include "stage3.h"
#include "stage3_shard.h"
#include "zo/cuda.h"

double zo_now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static zo_dtype zo_device_dtype_for(const zo_settings *s)
{
    return s->fp16_enabled ? ZO_DTYPE_F16 : s->bf16_enabled ? ZO_DTYPE_BF16 : ZO_DTYPE_F32;
}

static void *zo_host_zeroed(zo_engine *e, size_t bytes)
{
    if (zo_fault_hit(ZO_FAULT_HOST_ALLOC))
        return NULL;
    void *ptr = zo_host_pages_alloc(bytes);
    if (ptr)
        zo_engine_place_host_pages(e, ptr, bytes);
    return ptr;
}

/* Staging buffers: page-locked by the device (offload_optimizer.pin_memory, the
 * default), or ordinary pageable memory, which a GPU copies from more slowly and
 * without overlap. */
static zo_status zo_alloc_staging(zo_engine *e, size_t bytes, void **out)
{
    if (e->settings.pin_memory) {
        zo_status status = zo_engine_alloc_pinned_near(e, bytes, out); /* on the placement's nodes */
        if (status == ZO_ERR_OUT_OF_MEMORY) { /* no fallback: the user asked for overlap */
            char reason[512];                  /* zo_fail cannot read the message it writes */
            snprintf(reason, sizeof reason, "%s", zo_last_error());
            zo_fail(status,
                    "zo_engine_create: staging buffers: %s (offload_optimizer.pin_memory false "
                    "uses pageable memory)",
                    reason);
        }
        return status;
    }
    *out = zo_host_zeroed(e, bytes);
    return *out ? ZO_OK
                : zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for %zu bytes of staging",
                          bytes);
}

static void zo_free_staging(zo_engine *e, void *ptr)
{
    if (e->settings.pin_memory)
        zo_device_free_pinned(&e->device, ptr);
    else
        zo_host_pages_free(ptr);
}

/* The host backend hands out its device and pinned buffers untouched: they are set up
 * here like the engine's own state (its placement, the update's threads), so that the
 * first step does not take their page faults on one thread. A GPU's pinned memory
 * (cudaHostAlloc) is resident already and is left alone. */
static void zo_place_host_backend_buffers(zo_engine *e)
{
    if (!e->memory.device_is_host)
        return;
    bool pinned = e->settings.pin_memory; /* else the staging is zo_host_zeroed's, placed */
    size_t flat = e->layout.padded_elems * e->dtype_bytes;
    /* each with its own size: stage 3 over several ranks pins only this rank's shard
     * of the weights (stage3_shard.h) */
    struct {
        void *data;
        size_t bytes;
    } buffers[] = {{e->device_weights, flat},
                   {e->device_grads, flat},
                   {pinned ? e->pinned_grads : NULL, flat},
                   {pinned ? e->pinned_weights : NULL, zo_pinned_weight_elems(e) * e->dtype_bytes},
                   {pinned ? e->pinned_grads_spare : NULL, flat}};
    for (size_t k = 0; k < sizeof buffers / sizeof buffers[0]; k++)
        if (buffers[k].data)
            zo_engine_place_host_pages(e, buffers[k].data, buffers[k].bytes);
}

/* The device buffers, the staging buffers and the host state. */
static zo_status zo_engine_allocate(zo_engine *e)
{
    const zo_device *device = &e->device;
    size_t elems = e->layout.padded_elems, shard = zo_shard_elems(&e->layout);
    size_t moment_bytes = shard * zo_dtype_size(e->settings.moments_dtype); /* codes with 8 bits */
    zo_status status;
    /* stage 3 keeps the weights in the pinned buffer and gives the device slots
     * (stage3.c); stages 0-2 keep every weight and gradient on the device */
    bool flat_on_device = e->settings.stage < 3;
    if ((flat_on_device && (status = zo_device_alloc_device(device, elems * e->dtype_bytes, &e->device_weights))) ||
        (flat_on_device && (status = zo_device_alloc_device(device, elems * e->dtype_bytes, &e->device_grads))) ||
        (status = zo_alloc_staging(e, elems * e->dtype_bytes, &e->pinned_grads)) ||
        (status = zo_alloc_staging(e, zo_pinned_weight_elems(e) * e->dtype_bytes, &e->pinned_weights)))
        return status;
    /* "nvme": the state lives in files, streamed through a ring (nvme/state.c) */
    bool host_state = !e->settings.nvme.enabled;
    bool scaled_moments = e->settings.moments_dtype == ZO_DTYPE_Q8;
    if (host_state) {
        e->master = zo_host_zeroed(e, shard * sizeof(float));
        e->exp_avg = zo_host_zeroed(e, moment_bytes);
        e->exp_avg_sq = zo_host_zeroed(e, moment_bytes);
    }
    if (scaled_moments) { /* in host memory with every strategy (8 bytes a block of 256) */
        e->exp_avg_scale = zo_host_zeroed(e, zo_q8_block_count(shard) * sizeof(float));
        e->exp_avg_sq_scale = zo_host_zeroed(e, zo_q8_block_count(shard) * sizeof(float));
    }
    /* With accumulation the update reads the fp32 sum (a shard of it from stage 2, which
     * reduces every micro-step); without it, the delayed update (which overlaps the next
     * backward) alternates between two landing buffers. */
    if (e->accumulation_steps > 1)
        e->accumulated = zo_host_zeroed(e, (e->settings.stage >= 2 ? shard : elems) * sizeof(float));
    else if (e->settings.delayed_param_update &&
             (status = zo_alloc_staging(e, elems * e->dtype_bytes, &e->pinned_grads_spare)))
        return status;
    e->grads_landing = e->pinned_grads;
    size_t buckets = e->layout.bucket_count, params = e->layout.param_count;
    e->param_ready = calloc(params, sizeof *e->param_ready);
    e->bucket_pending = calloc(buckets, sizeof *e->bucket_pending);
    e->bucket_stats = calloc(buckets, sizeof *e->bucket_stats);
    e->bucket_landed = calloc(buckets, sizeof *e->bucket_landed);
    e->bucket_generation = calloc(buckets, sizeof *e->bucket_generation);
    e->h2d_done = calloc(buckets, sizeof *e->h2d_done);
    e->grads_written = calloc(buckets, sizeof *e->grads_written);
    e->jobs = calloc(buckets, sizeof *e->jobs);
    e->copy_down_began = calloc(buckets, sizeof *e->copy_down_began);
    e->copy_up_began = calloc(buckets, sizeof *e->copy_up_began);
    if (!e->jobs || !e->grads_written || !e->copy_down_began || !e->copy_up_began ||
        (host_state && (!e->master || !e->exp_avg || !e->exp_avg_sq)) ||
        (scaled_moments && (!e->exp_avg_scale || !e->exp_avg_sq_scale)) ||
        (e->accumulation_steps > 1 && !e->accumulated) ||
        !e->param_ready || !e->bucket_pending || !e->bucket_stats || !e->bucket_landed || !e->bucket_generation || !e->h2d_done)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "zo_engine_create: out of host memory for %zu parameters (%llu bytes of "
                       "host state)",
                       elems, (unsigned long long)e->memory.host_bytes);
    zo_place_host_backend_buffers(e);
    for (size_t b = 0; b < buckets; b++) {
        e->jobs[b] = (zo_bucket_job){.engine = e, .bucket = b};
        if ((status = zo_device_event_create(device, &e->h2d_done[b])) ||
            (status = zo_device_event_create(device, &e->grads_written[b])))
            return status;
    }
    memcpy(e->bucket_pending, e->layout.bucket_param_count, buckets * sizeof *e->bucket_pending);
    return e->settings.stage == 3 ? zo_stage3_create(e) : ZO_OK;
}

/* Refuses before allocating anything when the plan does not fit this machine; keeps
 * the plan for zo_engine_memory. */
static zo_status zo_engine_check_plan(zo_engine *e)
{
    zo_memory_plan plan;
    bool device_is_host = !zo_device_takes_external_streams(&e->device);
    size_t free_bytes = 0, total_bytes = 0;
    if (!device_is_host && zo_device_memory_info(&e->device, &free_bytes, &total_bytes) != ZO_OK)
        free_bytes = 0; /* unknown: the allocation itself will tell */
    uint64_t nvme_free = 0; /* "nvme": a directory that cannot be read is an I/O error, not a plan */
    zo_status status = e->settings.nvme.enabled ? zo_nvme_free_bytes(e->settings.nvme.path, &nvme_free) : ZO_OK;
    if (status == ZO_OK)
        status = zo_plan_for_layout(&e->settings, &e->layout, e->accumulation_steps, device_is_host, free_bytes,
                                    &nvme_free, &plan);
    if (status != ZO_OK)
        return status;
    if (!plan.fits)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: %s", plan.verdict);
    e->memory = plan;
    return ZO_OK;
}

/* zo.device: "cuda" must get a GPU; "auto" takes one if it can and otherwise says,
 * in zo_engine_notice, why it fell back to the host backend. */
static zo_status zo_engine_choose_device(zo_engine *e)
{
    /* one rank per GPU: the node's ranks take its GPUs in turn (with CUDA_VISIBLE_DEVICES
     * set per rank, each sees one GPU: ordinal 0) */
    int gpus = 0, local_rank = 0, local_ranks = 1, ordinal = 0;
    if (e->settings.device != ZO_DEVICE_HOST) {
        const char *source;
        zo_topology_local_rank(&local_rank, &local_ranks, &source);
        ordinal = zo_cuda_device_count(&gpus) == ZO_OK && gpus > 0 ? local_rank % gpus : 0;
    }
    /* the notice goes after what zo.comm may have said */
    return zo_device_open(e->settings.device, ordinal, &e->device, e->notice, sizeof e->notice);
}

static zo_status zo_engine_start_device(zo_engine *e)
{
    zo_status status;
    if ((status = zo_engine_choose_device(e)) ||
        (status = zo_device_set_memory_budget(&e->device, e->settings.device_memory_budget)) ||
        (status = zo_device_open(ZO_DEVICE_HOST, 0, &e->worker_device, NULL, 0)))
        return status;
    if ((status = zo_device_stream_create(&e->device, "d2h", &e->d2h_stream)) ||
        (status = zo_device_stream_create(&e->device, "h2d", &e->h2d_stream)) ||
        (status = zo_device_stream_create(&e->worker_device, "host update", &e->worker)))
        return status;
    return zo_engine_place_update(e);
}

/* With several ranks each writes a trace of its own: "t.json" becomes "t.rank1.json". */
static void zo_trace_path_for_rank(const char *path, size_t rank, size_t ranks, char *out, size_t size)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        dot = path + strlen(path);
    if (ranks == 1)
        snprintf(out, size, "%s", path);
    else
        snprintf(out, size, "%.*s.rank%zu%s", (int)(dot - path), path, rank, dot);
}

/* Everything one rank sets up on its own, before the ranks compare notes. */
static zo_status zo_engine_build(zo_engine *e, const zo_param_desc *params, size_t param_count)
{
    const zo_settings *settings = &e->settings;
    zo_status status = zo_resolve_accumulation(settings, e->ranks, &e->accumulation_steps);
    if (status != ZO_OK)
        return status;
    if (e->ranks > 1 && settings->stage == 0)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "zero_optimization.stage is 0 with %zu ranks: plain data parallelism (every rank "
                       "holding the whole optimizer state) is not implemented; use stage 1 or 2",
                       e->ranks);
    char trace_path[sizeof settings->trace_file + 32];
    zo_trace_path_for_rank(settings->trace_file, e->rank, e->ranks, trace_path, sizeof trace_path);
    if ((status = zo_check_param_names(params, param_count)) ||
        (settings->trace_file[0] && (status = zo_trace_open(trace_path, &e->trace))) ||
        (status = zo_partition_build(params, param_count,
                                     zo_layout_bucket_elems(settings->reduce_bucket_size, settings->moments_dtype,
                                                            e->ranks),
                                     e->ranks, &e->layout)) ||
        (status = zo_engine_start_device(e)) || (status = zo_engine_check_plan(e)) ||
        (status = zo_engine_allocate(e)))
        return status;
    return zo_optimizer_state_choose(e);
}

zo_status zo_engine_create(const zo_config *config, const zo_param_desc *params, size_t param_count,
                           zo_engine **out)
{
    if (!out || !config)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_create: %s is NULL", !out ? "out" : "config");
    *out = NULL;
    const zo_settings *settings = zo_config_settings(config);
    zo_engine *e = calloc(1, sizeof *e);
    if (!e)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory");
    e->settings = *settings;
    e->dtype = zo_device_dtype_for(settings);
    e->dtype_bytes = zo_dtype_size(e->dtype);
    zo_loss_scaler_init(&e->scaler, settings);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->bucket_published, NULL);
    e->optimizer_state = &zo_optimizer_state_host; /* until zo_optimizer_state_choose */

    zo_status status = zo_comm_choose(settings->comm, &e->comm, e->notice, sizeof e->notice);
    if (status == ZO_OK) {
        e->rank = (size_t)zo_comm_rank(&e->comm);
        e->ranks = (size_t)zo_comm_size(&e->comm);
        /* before the first collective: creation's own agreement may wait for a peer too */
        status = zo_comm_set_timeout(&e->comm, settings->collective_timeout_seconds);
    }
    if (status == ZO_OK) {
        status = zo_engine_agree(e, zo_engine_build(e, params, param_count));
    }
    if (status != ZO_OK) {
        zo_engine_destroy(&e);
        return status;
    }
    *out = e;
    return ZO_OK;
}

void zo_engine_destroy(zo_engine **engine)
{
    if (!engine || !*engine)
        return;
    zo_engine *e = *engine;
    const zo_device *device = &e->device;
    /* Streams drain their queues before they go, so no update is cut short; in the
     * order work flows: copies down feed the worker, whose updates feed copies up. */
    if (e->d2h_stream)
        zo_device_stream_destroy(device, e->d2h_stream);
    if (e->worker)
        zo_device_stream_destroy(&e->worker_device, e->worker);
    e->optimizer_state->destroy(e); /* after the worker that queues its work */
    if (e->h2d_stream)
        zo_device_stream_destroy(device, e->h2d_stream);
    for (size_t b = 0; e->h2d_done && b < e->layout.bucket_count; b++) {
        if (e->h2d_done[b])
            zo_device_event_destroy(device, e->h2d_done[b]);
        if (e->grads_written && e->grads_written[b])
            zo_device_event_destroy(device, e->grads_written[b]);
    }
    if (device->ops) {
        zo_stage3_destroy(e); /* after every stream that reads its slots */
        zo_device_free_device(device, e->device_weights);
        zo_device_free_device(device, e->device_grads);
        if (!e->comm_broken) { /* else a collective still posted may touch them: kept */
            zo_free_staging(e, e->pinned_grads);
            zo_free_staging(e, e->pinned_grads_spare);
            zo_free_staging(e, e->pinned_weights);
        }
        zo_device_close(&e->device);
    }
    zo_device_close(&e->worker_device);
    zo_trace_close(&e->trace); /* after the streams: every span is in */
    zo_adam_destroy(&e->adam);
    zo_topology_destroy(&e->topology);
    zo_host_pages_free(e->master), zo_host_pages_free(e->exp_avg);
    zo_host_pages_free(e->exp_avg_sq);
    zo_host_pages_free(e->exp_avg_scale), zo_host_pages_free(e->exp_avg_sq_scale);
    if (!e->comm_broken) /* stage 1 sends from it */
        zo_host_pages_free(e->accumulated);
    free(e->param_ready), free(e->bucket_pending), free(e->bucket_stats), free(e->bucket_landed);
    free(e->bucket_generation), free(e->h2d_done), free(e->grads_written), free(e->jobs);
    free(e->copy_down_began), free(e->copy_up_began);
    zo_partition_free(&e->layout);
    zo_comm_destroy(&e->comm);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->bucket_published);
    free(e);
    *engine = NULL;
}

zo_dtype zo_engine_dtype(const zo_engine *e) { return e ? e->dtype : ZO_DTYPE_F32; }
size_t zo_engine_param_count(const zo_engine *e) { return e ? e->layout.param_count : 0; }
size_t zo_engine_bucket_count(const zo_engine *e) { return e ? e->layout.bucket_count : 0; }
const char *zo_engine_device_name(const zo_engine *e) { return e ? zo_device_name(&e->device) : ""; }
const char *zo_engine_notice(const zo_engine *e) { return e ? e->notice : ""; }
float zo_engine_loss_scale(const zo_engine *e) { return e ? (float)e->scaler.scale : 0.0f; }
size_t zo_engine_rank(const zo_engine *e) { return e ? e->rank : 0; }
size_t zo_engine_ranks(const zo_engine *e) { return e ? e->ranks : 0; }
uint64_t zo_engine_micro_step_count(const zo_engine *e) { return e ? e->micro_steps : 0; }
uint64_t zo_engine_step_count(const zo_engine *e) { return e ? e->steps : 0; }

zo_status zo_engine_memory(const zo_engine *e, zo_memory_plan *out)
{
    if (!e || !out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_memory: %s is NULL", !e ? "engine" : "out");
    *out = e->memory;
    return ZO_OK;
}

void *zo_engine_weights(zo_engine *e, size_t param)
{
    if (!e || param >= e->layout.param_count)
        return NULL;
    if (e->stage3)
        return zo_stage3_weights(e, param);
    return (char *)e->device_weights + e->layout.param_offset[param] * e->dtype_bytes;
}

uint64_t zo_engine_device_high_water(const zo_engine *e)
{
    uint64_t bytes = 0;
    if (!e || !e->device.ops || zo_device_memory_high_water(&e->device, &bytes) != ZO_OK)
        return 0;
    return bytes;
}

void *zo_engine_grads(zo_engine *e, size_t param)
{
    if (!e || param >= e->layout.param_count)
        return NULL;
    if (e->stage3)
        return zo_stage3_grads(e, param);
    return (char *)e->device_grads + e->layout.param_offset[param] * e->dtype_bytes;
}

zo_status zo_engine_synchronize(zo_engine *e)
{
    if (!e)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_synchronize: engine is NULL");
    zo_status status = zo_device_stream_synchronize(&e->worker_device, e->worker);
    zo_status d2h = zo_device_stream_synchronize(&e->device, e->d2h_stream);
    zo_status h2d = zo_device_stream_synchronize(&e->device, e->h2d_stream);
    zo_status device = e->optimizer_state->synchronize(e);
    status = status ? status : d2h ? d2h : h2d ? h2d : device;
    /* the other ranks learn of it at the next step, which then fails on all */
    return e->ranks > 1 ? zo_engine_defer_failure(e, status) : status;
}

zo_status zo_engine_write_trace(zo_engine *e)
{
    if (!e)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_write_trace: engine is NULL");
    if (!e->trace)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_write_trace: zo.trace is not set");
    zo_status status = zo_engine_synchronize(e);
    return status ? status : zo_trace_write(e->trace);
}

zo_status zo_check_param_index(const zo_engine *e, size_t param, const char *call)
{
    if (!e)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: engine is NULL", call);
    if (param >= e->layout.param_count)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: parameter %zu does not exist (%zu registered)", call,
                       param, e->layout.param_count);
    return ZO_OK;
}
