/* The host backend's table of device operations: argument checks, then the streams of
 * stream.c, the events of event.c and the buffers of memory.c (and its budget). */
#include "backend.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "event.h"
#include "memory.h"
#include "stream.h"
#include "zo/engine.h"

typedef struct zo_host_device {
    zo_host_memory memory;
    atomic_size_t live_streams, live_events; /* for zo_device_host_audit */
    zo_adam *kernels; /* the optimizer operations' (zo_device_host_add_optimizer), or NULL */
} zo_host_device;

static zo_status zo_alloc_device(void *ctx, size_t bytes, void **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: alloc_device: out is NULL");
    return zo_host_memory_alloc(&((zo_host_device *)ctx)->memory, bytes, ZO_HOST_BUFFER_DEVICE,
                                out);
}

static void zo_free_device(void *ctx, void *ptr)
{
    zo_host_memory_free(&((zo_host_device *)ctx)->memory, ptr, ZO_HOST_BUFFER_DEVICE);
}

static zo_status zo_alloc_pinned(void *ctx, size_t bytes, void **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: alloc_pinned: out is NULL");
    return zo_host_memory_alloc(&((zo_host_device *)ctx)->memory, bytes, ZO_HOST_BUFFER_PINNED,
                                out);
}

static void zo_free_pinned(void *ctx, void *ptr)
{
    zo_host_memory_free(&((zo_host_device *)ctx)->memory, ptr, ZO_HOST_BUFFER_PINNED);
}

static zo_status zo_stream_create(void *ctx, const char *name, zo_device_stream **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: stream_create: out is NULL");
    zo_status status = zo_host_stream_create(name, out);
    if (status == ZO_OK)
        atomic_fetch_add(&((zo_host_device *)ctx)->live_streams, 1);
    return status;
}

static void zo_stream_destroy(void *ctx, zo_device_stream *stream)
{
    if (!stream)
        return;
    zo_host_stream_destroy(stream);
    atomic_fetch_sub(&((zo_host_device *)ctx)->live_streams, 1);
}

static zo_status zo_copy_async(void *ctx, void *dst, const void *src, size_t bytes,
                               zo_device_stream *stream)
{
    if (!stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: copy_async: stream is NULL");
    if (bytes > 0) {
        if (!dst || !src)
            return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                           "host device: copy_async of %zu bytes: %s is NULL", bytes,
                           dst ? "src" : "dst");
        /* memcpy of overlapping ranges is undefined, and so is cudaMemcpyAsync's */
        uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
        if ((d <= s && s - d < bytes) || (s <= d && d - s < bytes))
            return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                           "host device: copy_async of %zu bytes: source and destination overlap",
                           bytes);
        zo_host_memory *memory = &((zo_host_device *)ctx)->memory;
        zo_status status;
        if ((status = zo_host_memory_check_range(memory, dst, bytes, "destination")) != ZO_OK ||
            (status = zo_host_memory_check_range(memory, src, bytes, "source")) != ZO_OK)
            return status;
    }
    return zo_host_stream_copy(stream, dst, src, bytes);
}

static zo_status zo_launch_host(void *ctx, zo_device_stream *stream, zo_host_fn fn, void *arg)
{
    (void)ctx;
    if (!stream || !fn)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: launch_host: %s is NULL",
                       stream ? "fn" : "stream");
    return zo_host_stream_launch(stream, fn, arg);
}

static zo_status zo_stream_synchronize(void *ctx, zo_device_stream *stream)
{
    (void)ctx;
    if (!stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: stream_synchronize: stream is NULL");
    return zo_host_stream_synchronize(stream);
}

static zo_status zo_event_create(void *ctx, zo_device_event **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: event_create: out is NULL");
    zo_status status = zo_host_event_create(out);
    if (status == ZO_OK)
        atomic_fetch_add(&((zo_host_device *)ctx)->live_events, 1);
    return status;
}

static void zo_event_destroy(void *ctx, zo_device_event *event)
{
    if (!event)
        return;
    zo_host_event_destroy(event);
    atomic_fetch_sub(&((zo_host_device *)ctx)->live_events, 1);
}

static zo_status zo_event_record(void *ctx, zo_device_event *event, zo_device_stream *stream)
{
    (void)ctx;
    if (!event || !stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: event_record: %s is NULL",
                       event ? "stream" : "event");
    return zo_host_event_record(event, stream);
}

static zo_status zo_stream_wait_event(void *ctx, zo_device_stream *stream, zo_device_event *event)
{
    (void)ctx;
    if (!event || !stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: stream_wait_event: %s is NULL",
                       event ? "stream" : "event");
    return zo_host_event_enqueue_wait(stream, event);
}

static zo_status zo_event_synchronize(void *ctx, zo_device_event *event)
{
    (void)ctx;
    if (!event)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: event_synchronize: event is NULL");
    return zo_host_event_synchronize(event);
}

static zo_status zo_event_query(void *ctx, zo_device_event *event, bool *complete)
{
    (void)ctx;
    if (!event || !complete)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: event_query: %s is NULL",
                       event ? "complete" : "event");
    *complete = zo_host_event_complete(event);
    return ZO_OK;
}

/* The host backend's loop runs on the caller's thread: there is no stream to name. */
static zo_status zo_no_external_stream(const char *call)
{
    return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                   "%s: the host backend takes no stream (pass NULL once the work is done)", call);
}

static zo_status zo_event_record_external(void *ctx, zo_device_event *event, void *external_stream)
{
    (void)ctx, (void)event, (void)external_stream;
    return zo_no_external_stream("event_record_external");
}

static zo_status zo_external_stream_wait_event(void *ctx, void *external_stream, zo_device_event *event)
{
    (void)ctx, (void)event, (void)external_stream;
    return zo_no_external_stream("external_stream_wait_event");
}

static void zo_destroy(void *ctx)
{
    zo_host_device *device = ctx;
    if (!device)
        return;
    zo_host_memory_release(&device->memory); /* buffers still live go too */
    zo_adam_destroy(&device->kernels);
    free(device);
}

/* ---- The optional memory operations: the host plays a GPU of its budget. ---- */

static zo_status zo_memory_info(void *ctx, size_t *free_bytes, size_t *total_bytes)
{
    if (!free_bytes || !total_bytes)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: memory_info: %s is NULL",
                       free_bytes ? "total_bytes" : "free_bytes");
    zo_host_memory *memory = &((zo_host_device *)ctx)->memory;
    zo_host_device_usage usage = zo_host_memory_device_usage(memory);
    if (usage.budget_bytes) {
        *total_bytes = usage.budget_bytes;
        *free_bytes = usage.budget_bytes - usage.in_use_bytes; /* never above: alloc checks */
        return ZO_OK;
    }
    /* No budget: the device is the machine's RAM, what alloc_device refuses above, and
     * as much of it is free as the kernel says is available (all of it if it cannot). */
    uint64_t available = zo_host_available_bytes();
    *total_bytes = memory->capacity_bytes;
    *free_bytes = available && available < memory->capacity_bytes ? available : memory->capacity_bytes;
    return ZO_OK;
}

static zo_status zo_set_memory_budget_op(void *ctx, uint64_t bytes)
{
    return zo_host_memory_set_device_budget(&((zo_host_device *)ctx)->memory, bytes);
}

static zo_status zo_memory_high_water(void *ctx, uint64_t *bytes)
{
    if (!bytes)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: memory_high_water: bytes is NULL");
    *bytes = zo_host_memory_device_usage(&((zo_host_device *)ctx)->memory).high_water_bytes;
    return ZO_OK;
}

/* ---- The optional optimizer operations (zo_device_host_add_optimizer): cpu_adam on
 * the "device" memory, at once on the calling thread once the stream has run what was
 * queued before, which keeps the stream's order. ---- */

static zo_status zo_adam_grad_stats_op(void *ctx, const void *grad, zo_dtype dtype, size_t n, void *scratch,
                                       zo_device_stream *stream, zo_grad_stats *out)
{
    (void)scratch;
    zo_status status = zo_stream_synchronize(ctx, stream);
    return status ? status : zo_adam_grad_stats(((zo_host_device *)ctx)->kernels, grad, dtype, n, out);
}

static zo_status zo_adam_step_op(void *ctx, const zo_adam_hparams *hparams, uint64_t step,
                                 const zo_adam_buffers *buffers, zo_device_stream *stream)
{
    zo_status status = zo_stream_synchronize(ctx, stream);
    return status ? status : zo_adam_step(((zo_host_device *)ctx)->kernels, hparams, step, buffers);
}

static zo_status zo_copy_pageable(void *ctx, void *dst, const void *src, size_t bytes, bool to_device)
{
    (void)ctx, (void)to_device;
    if (bytes && (!dst || !src))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "host device: copy_pageable: %s is NULL", !dst ? "dst" : "src");
    if (bytes)
        memcpy(dst, src, bytes);
    return ZO_OK;
}

/* Every operation but the optional optimizer ones: the two tables share them. */
#define ZO_HOST_SHARED_OPS                                                                                        \
    .name = "host", .takes_external_streams = false, .alloc_device = zo_alloc_device,                            \
    .free_device = zo_free_device, .alloc_pinned = zo_alloc_pinned, .free_pinned = zo_free_pinned,               \
    .stream_create = zo_stream_create, .stream_destroy = zo_stream_destroy, .copy_async = zo_copy_async,         \
    .launch_host = zo_launch_host, .stream_synchronize = zo_stream_synchronize, .event_create = zo_event_create,  \
    .event_destroy = zo_event_destroy, .event_record = zo_event_record,                                          \
    .stream_wait_event = zo_stream_wait_event, .event_synchronize = zo_event_synchronize,                        \
    .event_query = zo_event_query, .event_record_external = zo_event_record_external,                            \
    .external_stream_wait_event = zo_external_stream_wait_event, .destroy = zo_destroy,                          \
    .memory_info = zo_memory_info, .memory_high_water = zo_memory_high_water,                                     \
    .set_memory_budget = zo_set_memory_budget_op

static const zo_device_ops zo_host_optimizer_ops = {
    ZO_HOST_SHARED_OPS,
    .adam_grad_stats = zo_adam_grad_stats_op,
    .adam_step = zo_adam_step_op,
    .copy_pageable = zo_copy_pageable,
};

/* optimizer operations NULL: the engine runs offload "none" as the offloaded path here */
static const zo_device_ops zo_host_ops = {ZO_HOST_SHARED_OPS};

/* The host backend behind `device`, or NULL if it is not one. */
static zo_host_device *zo_as_host(const zo_device *device)
{
    bool is_host = device && (device->ops == &zo_host_ops || device->ops == &zo_host_optimizer_ops);
    return is_host ? device->ctx : NULL;
}

zo_status zo_device_host_create(zo_device *out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_host_create: out is NULL");
    *out = (zo_device){0};
    zo_host_device *device = calloc(1, sizeof *device);
    if (!device)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "host device: out of memory for its context");
    zo_status status = zo_host_memory_init(&device->memory);
    if (status != ZO_OK) {
        free(device);
        return status;
    }
    atomic_init(&device->live_streams, 0);
    atomic_init(&device->live_events, 0);
    *out = (zo_device){.ops = &zo_host_ops, .ctx = device};
    return ZO_OK;
}

zo_status zo_device_host_audit(const zo_device *device)
{
    zo_host_device *host = zo_as_host(device);
    if (!host)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_host_audit: not a host device");
    size_t device_buffers = zo_host_memory_live(&host->memory, ZO_HOST_BUFFER_DEVICE);
    size_t pinned_buffers = zo_host_memory_live(&host->memory, ZO_HOST_BUFFER_PINNED);
    size_t streams = atomic_load(&host->live_streams), events = atomic_load(&host->live_events);
    size_t bad_frees = zo_host_memory_bad_frees(&host->memory);
    if (device_buffers + pinned_buffers + streams + events + bad_frees == 0)
        return ZO_OK;
    return zo_fail(ZO_ERR_INTERNAL,
                   "host device: still alive: %zu device buffers, %zu pinned buffers, %zu streams, "
                   "%zu events; %zu frees refused (a double free, a pointer it never handed out, "
                   "or the wrong free function)",
                   device_buffers, pinned_buffers, streams, events, bad_frees);
}

zo_status zo_device_host_add_optimizer(zo_device *device)
{
    zo_host_device *host = zo_as_host(device);
    if (!host)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_host_add_optimizer: not a host device");
    if (!host->kernels) {
        /* any thread count gives the same bits: cpu_adam's sums are in fixed slices */
        zo_adam_settings settings = {.isa = ZO_CPU_ISA_AUTO};
        zo_status status = zo_adam_create(&settings, &host->kernels);
        if (status != ZO_OK)
            return status;
    }
    device->ops = &zo_host_optimizer_ops;
    return ZO_OK;
}

zo_status zo_device_host_set_budget(zo_device *device, uint64_t bytes)
{
    zo_host_device *host = zo_as_host(device);
    if (!host)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_host_set_budget: not a host device");
    return zo_host_memory_set_device_budget(&host->memory, bytes);
}

/* The accounting of `device`'s device buffers; all zero if it is not a host device. */
static zo_host_device_usage zo_usage_of(const zo_device *device)
{
    zo_host_device *host = zo_as_host(device);
    return host ? zo_host_memory_device_usage(&host->memory) : (zo_host_device_usage){0};
}

uint64_t zo_device_host_budget(const zo_device *device) { return zo_usage_of(device).budget_bytes; }
uint64_t zo_device_host_in_use(const zo_device *device) { return zo_usage_of(device).in_use_bytes; }
uint64_t zo_device_host_high_water(const zo_device *device) { return zo_usage_of(device).high_water_bytes; }

void zo_device_host_reset_high_water(zo_device *device)
{
    zo_host_device *host = zo_as_host(device);
    if (host)
        zo_host_memory_reset_device_high_water(&host->memory);
}
