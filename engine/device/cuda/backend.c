/* The CUDA backend's table of device operations (device.h) on the CUDA runtime API:
 * argument checks, then one runtime call each; every CUDA error becomes a zo_status
 * with the call and CUDA's message (ZO_CUDA_CHECK), and what the backend was doing. */
#include "backend.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "check.h"
#include "error.h"
#include "internal.h"

/* A host function's call, handed to cudaLaunchHostFunc; freed once it has run. */
typedef struct zo_cuda_host_call {
    zo_host_fn fn;
    void *arg;
    zo_device_stream *stream;
} zo_cuda_host_call;

/* Set while this thread (CUDA's callback thread) runs a host function: CUDA forbids
 * CUDA calls there, and a synchronize would wait for the function itself. */
static _Thread_local bool zo_in_host_fn;

/* Puts what the backend was doing in front of the message of a failure just raised
 * (ZO_CUDA_CHECK's), keeping its status. */
__attribute__((format(printf, 2, 3))) static zo_status zo_explain(zo_status status,
                                                                  const char *format, ...)
{
    char cause[ZO_CUDA_MESSAGE_BYTES], context[256];
    snprintf(cause, sizeof cause, "%s", zo_last_error()); /* zo_fail overwrites it */
    va_list args;
    va_start(args, format);
    vsnprintf(context, sizeof context, format, args);
    va_end(args);
    return zo_fail(status, "%s: %s", context, cause);
}

/* The refusal of every operation called from a host function on a CUDA stream. */
static zo_status zo_refuse_in_host_fn(const char *operation)
{
    return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                   "CUDA device: %s called from a host function on a CUDA stream: CUDA forbids "
                   "CUDA calls there (cudaLaunchHostFunc), it would fail or deadlock",
                   operation);
}

/* Makes the backend's GPU current on this thread (a thread the engine started has GPU 0
 * current) for the calls that act on the current GPU: allocations, creating streams and
 * events, memory info, and host functions (CUDA documents no exception for them).
 * Copies, records, waits and queries act on their stream's or event's GPU whatever is
 * current. Left so: switching back could create a context on a GPU the thread never
 * used. */
static zo_status zo_use_gpu(const zo_cuda_device *device)
{
    int current = -1;
    ZO_CUDA_CHECK(cudaGetDevice(&current));
    if (current != device->ordinal)
        ZO_CUDA_CHECK(cudaSetDevice(device->ordinal));
    return ZO_OK;
}

/* ---- memory ---------------------------------------------------------------------- */

/* ZO_CUDA_CHECK's message, for a result the backend looks at first ("not ready" is an
 * answer) and under ZO_ERR_OUT_OF_MEMORY when it is one (the memory plan says what to
 * shrink). */
static zo_status zo_cuda_failure(cudaError_t result, const char *call)
{
    zo_status status = result == cudaErrorMemoryAllocation ? ZO_ERR_OUT_OF_MEMORY : ZO_ERR_DEVICE;
    return ZO_CUDA_FAIL(status, call, result);
}

static zo_status zo_cuda_malloc_zeroed(zo_cuda_device *device, size_t bytes, void **buffer)
{
    zo_status status = zo_use_gpu(device);
    if (status != ZO_OK)
        return status;
    cudaError_t result = cudaMalloc(buffer, bytes);
    if (result != cudaSuccess)
        return zo_cuda_failure(result, "cudaMalloc");
    ZO_CUDA_CHECK(cudaMemsetAsync(*buffer, 0, bytes, device->zero_fill_stream));
    ZO_CUDA_CHECK(cudaStreamSynchronize(device->zero_fill_stream));
    return ZO_OK;
}

static zo_status zo_alloc_device(void *ctx, size_t bytes, void **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: alloc_device: out is NULL");
    *out = NULL;
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("alloc_device");
    zo_cuda_device *device = ctx;
    void *buffer = NULL;
    /* cudaMalloc(0) gives NULL; the host backend gives a pointer, and so do we */
    zo_status status = zo_cuda_malloc_zeroed(device, bytes ? bytes : 1, &buffer);
    if (status != ZO_OK) {
        if (buffer)
            cudaFree(buffer); /* the memset failed: the error is already the one to report */
        return zo_explain(status, "CUDA device %d: alloc_device of %zu bytes", device->ordinal,
                          bytes);
    }
    *out = buffer;
    return ZO_OK;
}

static void zo_free_device(void *ctx, void *ptr)
{
    if (!ptr || zo_in_host_fn) /* in a host function: a leak rather than a deadlock */
        return;
    if (zo_use_gpu(ctx) == ZO_OK)
        cudaFree(ptr); /* nothing to report it to: the interface's free cannot fail */
}

static zo_status zo_alloc_pinned(void *ctx, size_t bytes, void **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: alloc_pinned: out is NULL");
    *out = NULL;
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("alloc_pinned");
    zo_cuda_device *device = ctx;
    void *buffer = NULL;
    size_t allocated = bytes ? bytes : 1; /* as alloc_device: a pointer even for 0 bytes */
    zo_status status = zo_use_gpu(device);
    if (status == ZO_OK) {
        /* portable: pinned for every GPU, not only the one current now */
        cudaError_t result = cudaHostAlloc(&buffer, allocated, cudaHostAllocPortable);
        if (result != cudaSuccess)
            status = zo_cuda_failure(result, "cudaHostAlloc");
    }
    if (status != ZO_OK)
        return zo_explain(status, "CUDA device %d: alloc_pinned of %zu bytes", device->ordinal,
                          bytes);
    memset(buffer, 0, allocated);
    *out = buffer;
    return ZO_OK;
}

static void zo_free_pinned(void *ctx, void *ptr)
{
    if (!ptr || zo_in_host_fn)
        return;
    if (zo_use_gpu(ctx) == ZO_OK)
        cudaFreeHost(ptr);
}

/* ---- streams --------------------------------------------------------------------- */

static zo_status zo_cuda_new_stream(zo_cuda_device *device, cudaStream_t *stream)
{
    zo_status status = zo_use_gpu(device);
    if (status != ZO_OK)
        return status;
    /* non-blocking: never serialized with the loop's work on the legacy default stream */
    ZO_CUDA_CHECK(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking));
    return ZO_OK;
}

static zo_status zo_stream_create(void *ctx, const char *name, zo_device_stream **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: stream_create: out is NULL");
    *out = NULL;
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("stream_create");
    name = name ? name : "";
    zo_device_stream *stream = calloc(1, sizeof *stream);
    if (!stream)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "CUDA device: cannot create stream \"%s\": out of memory", name);
    snprintf(stream->name, sizeof stream->name, "%s", name);
    if (pthread_mutex_init(&stream->lock, NULL) != 0) {
        free(stream);
        return zo_fail(ZO_ERR_DEVICE, "CUDA device: cannot create the lock of stream \"%s\"", name);
    }
    zo_status status = zo_cuda_new_stream(ctx, &stream->stream);
    if (status != ZO_OK) {
        pthread_mutex_destroy(&stream->lock);
        free(stream);
        return zo_explain(status, "CUDA device: cannot create stream \"%s\"", name);
    }
    *out = stream;
    return ZO_OK;
}

static void zo_stream_destroy(void *ctx, zo_device_stream *stream)
{
    (void)ctx;
    if (!stream || zo_in_host_fn) /* it would wait for the host function running it */
        return;
    /* Host functions still queued write into `stream`: let them run before freeing it.
     * If the GPU failed they never will, and the error is nobody's to hear. */
    cudaStreamSynchronize(stream->stream);
    cudaStreamDestroy(stream->stream);
    pthread_mutex_destroy(&stream->lock);
    free(stream);
}

static zo_status zo_cuda_enqueue_copy(void *dst, const void *src, size_t bytes, cudaStream_t stream)
{
    /* cudaMemcpyDefault: unified addressing tells device from host pointers */
    ZO_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
    return ZO_OK;
}

static zo_status zo_copy_async(void *ctx, void *dst, const void *src, size_t bytes,
                               zo_device_stream *stream)
{
    (void)ctx; /* a copy needs no current GPU: the stream names its own */
    if (!stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: copy_async: stream is NULL");
    if (bytes == 0)
        return ZO_OK; /* nothing to order: NULL pointers never reach CUDA */
    if (!dst || !src)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "CUDA device: copy_async of %zu bytes on stream \"%s\": %s is NULL", bytes,
                       stream->name, dst ? "src" : "dst");
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
    if ((d <= s && s - d < bytes) || (s <= d && d - s < bytes))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "CUDA device: copy_async of %zu bytes on stream \"%s\": source and "
                       "destination overlap",
                       bytes, stream->name);
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("copy_async");
    zo_status status = zo_cuda_enqueue_copy(dst, src, bytes, stream->stream);
    if (status != ZO_OK)
        return zo_explain(status, "CUDA stream \"%s\": copy_async of %zu bytes", stream->name,
                          bytes);
    return ZO_OK;
}

/* Runs on CUDA's callback thread, in the stream's order. It makes no CUDA call: it
 * runs the function and keeps its failure, with a copy of the message (zo_last_error()
 * is this thread's), for the thread that synchronizes. */
static void CUDART_CB zo_run_host_call(void *data)
{
    zo_cuda_host_call *call = data;
    zo_device_stream *stream = call->stream;
    /* a function failing without zo_fail must not be reported with older words */
    zo_fail(ZO_OK, "%s", "");
    zo_in_host_fn = true;
    zo_status status = call->fn(call->arg);
    zo_in_host_fn = false;
    free(call);
    if (status == ZO_OK)
        return;
    if (zo_last_error()[0] == '\0')
        zo_fail(status, "a host function on stream \"%s\" failed with %s and left no message",
                stream->name, zo_status_name(status));
    pthread_mutex_lock(&stream->lock);
    if (stream->first_error == ZO_OK) {
        stream->first_error = status;
        snprintf(stream->first_error_message, sizeof stream->first_error_message, "%s",
                 zo_last_error());
    }
    pthread_mutex_unlock(&stream->lock);
}

static zo_status zo_cuda_enqueue_call(zo_cuda_device *device, zo_cuda_host_call *call)
{
    zo_status status = zo_use_gpu(device);
    if (status != ZO_OK)
        return status;
    ZO_CUDA_CHECK(cudaLaunchHostFunc(call->stream->stream, zo_run_host_call, call));
    return ZO_OK;
}

static zo_status zo_launch_host(void *ctx, zo_device_stream *stream, zo_host_fn fn, void *arg)
{
    if (!stream || !fn)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: launch_host: %s is NULL",
                       stream ? "fn" : "stream");
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("launch_host");
    zo_cuda_host_call *call = malloc(sizeof *call);
    if (!call)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "CUDA device: cannot queue a host function on stream \"%s\": out of memory",
                       stream->name);
    *call = (zo_cuda_host_call){.fn = fn, .arg = arg, .stream = stream};
    zo_status status = zo_cuda_enqueue_call(ctx, call);
    if (status != ZO_OK) {
        free(call); /* not queued: the callback will never free it */
        return zo_explain(status, "CUDA stream \"%s\": launch_host", stream->name);
    }
    return ZO_OK;
}

static zo_status zo_cuda_wait_stream(cudaStream_t stream)
{
    ZO_CUDA_CHECK(cudaStreamSynchronize(stream));
    return ZO_OK;
}

static zo_status zo_stream_synchronize(void *ctx, zo_device_stream *stream)
{
    (void)ctx;
    if (!stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: stream_synchronize: stream is NULL");
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("stream_synchronize");
    zo_status status = zo_cuda_wait_stream(stream->stream);
    if (status != ZO_OK)
        return zo_explain(status, "CUDA stream \"%s\": synchronize", stream->name);
    char message[ZO_CUDA_MESSAGE_BYTES];
    pthread_mutex_lock(&stream->lock);
    status = stream->first_error;
    if (status != ZO_OK)
        memcpy(message, stream->first_error_message, sizeof message);
    stream->first_error = ZO_OK;
    pthread_mutex_unlock(&stream->lock);
    if (status != ZO_OK)
        return zo_fail(status, "%s", message); /* raised again, on the caller's thread */
    return ZO_OK;
}

/* ---- events ---------------------------------------------------------------------- */

static zo_status zo_cuda_new_event(zo_cuda_device *device, cudaEvent_t *event)
{
    zo_status status = zo_use_gpu(device);
    if (status != ZO_OK)
        return status;
    /* no timing: the lighter kind, the only one the pipeline needs */
    ZO_CUDA_CHECK(cudaEventCreateWithFlags(event, cudaEventDisableTiming));
    return ZO_OK;
}

static zo_status zo_event_create(void *ctx, zo_device_event **out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: event_create: out is NULL");
    *out = NULL;
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("event_create");
    zo_device_event *event = calloc(1, sizeof *event);
    if (!event)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "CUDA device: cannot create an event: out of memory");
    zo_status status = zo_cuda_new_event(ctx, &event->event);
    if (status != ZO_OK) {
        free(event);
        return zo_explain(status, "CUDA device: event_create");
    }
    *out = event;
    return ZO_OK;
}

static void zo_event_destroy(void *ctx, zo_device_event *event)
{
    (void)ctx;
    if (!event || zo_in_host_fn)
        return;
    cudaEventDestroy(event->event); /* CUDA keeps it until the work it captured has run */
    free(event);
}

static zo_status zo_cuda_record(cudaEvent_t event, cudaStream_t stream)
{
    ZO_CUDA_CHECK(cudaEventRecord(event, stream));
    return ZO_OK;
}

static zo_status zo_event_record(void *ctx, zo_device_event *event, zo_device_stream *stream)
{
    (void)ctx;
    if (!event || !stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: event_record: %s is NULL",
                       event ? "stream" : "event");
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("event_record");
    zo_status status = zo_cuda_record(event->event, stream->stream);
    if (status != ZO_OK)
        return zo_explain(status, "CUDA stream \"%s\": event_record", stream->name);
    return ZO_OK;
}

static zo_status zo_cuda_wait_event(cudaStream_t stream, cudaEvent_t event)
{
    ZO_CUDA_CHECK(cudaStreamWaitEvent(stream, event, 0));
    return ZO_OK;
}

static zo_status zo_stream_wait_event(void *ctx, zo_device_stream *stream, zo_device_event *event)
{
    (void)ctx;
    if (!event || !stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: stream_wait_event: %s is NULL",
                       event ? "stream" : "event");
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("stream_wait_event");
    zo_status status = zo_cuda_wait_event(stream->stream, event->event);
    if (status != ZO_OK)
        return zo_explain(status, "CUDA stream \"%s\": stream_wait_event", stream->name);
    return ZO_OK;
}

static zo_status zo_event_synchronize(void *ctx, zo_device_event *event)
{
    (void)ctx;
    if (!event)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: event_synchronize: event is NULL");
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("event_synchronize");
    ZO_CUDA_CHECK(cudaEventSynchronize(event->event));
    return ZO_OK;
}

static zo_status zo_event_query(void *ctx, zo_device_event *event, bool *complete)
{
    (void)ctx;
    if (!event || !complete)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "CUDA device: event_query: %s is NULL",
                       event ? "complete" : "event");
    *complete = false;
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("event_query");
    cudaError_t answer = cudaEventQuery(event->event);
    if (answer != cudaSuccess && answer != cudaErrorNotReady)
        return zo_cuda_failure(answer, "cudaEventQuery");
    *complete = answer == cudaSuccess;
    return ZO_OK;
}

/* ---- the training loop's own streams ------------------------------------------- */

/* NULL is the legacy default stream to CUDA, but to the engine it is what a loop on the
 * host backend passes: refused, so that a forgotten stream cannot order work wrongly. */
static zo_status zo_refuse_null_stream(const char *operation)
{
    return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                   "CUDA device: %s: the stream is NULL; pass the cudaStream_t the training loop "
                   "queues its work on (cudaStreamLegacy to mean the legacy default stream)",
                   operation);
}

static zo_status zo_event_record_external(void *ctx, zo_device_event *event, void *external_stream)
{
    (void)ctx;
    if (!event)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "CUDA device: event_record_external: event is NULL");
    if (!external_stream)
        return zo_refuse_null_stream("event_record_external");
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("event_record_external");
    zo_status status = zo_cuda_record(event->event, (cudaStream_t)external_stream);
    if (status != ZO_OK)
        return zo_explain(status, "CUDA device: event_record_external on stream %p",
                          external_stream);
    return ZO_OK;
}

static zo_status zo_external_stream_wait_event(void *ctx, void *external_stream,
                                               zo_device_event *event)
{
    (void)ctx;
    if (!event)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "CUDA device: external_stream_wait_event: event is NULL");
    if (!external_stream)
        return zo_refuse_null_stream("external_stream_wait_event");
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("external_stream_wait_event");
    zo_status status = zo_cuda_wait_event((cudaStream_t)external_stream, event->event);
    if (status != ZO_OK)
        return zo_explain(status, "CUDA device: external_stream_wait_event on stream %p",
                          external_stream);
    return ZO_OK;
}

/* ---- the device ------------------------------------------------------------------ */

static void zo_destroy(void *ctx)
{
    zo_cuda_device *device = ctx;
    if (!device)
        return;
    /* not cudaDeviceReset: the GPU's context is the training loop's too */
    cudaStreamDestroy(device->zero_fill_stream);
    free(device);
}

static zo_status zo_cuda_memory_info(zo_cuda_device *device, size_t *free_bytes, size_t *total_bytes);

/* The optional memory_info: zo_device_cuda_memory's answer without its checks. */
static zo_status zo_memory_info(void *ctx, size_t *free_bytes, size_t *total_bytes)
{
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("memory_info");
    zo_status status = zo_cuda_memory_info(ctx, free_bytes, total_bytes);
    return status ? zo_explain(status, "CUDA device %d: memory info", ((zo_cuda_device *)ctx)->ordinal) : ZO_OK;
}

static const zo_device_ops zo_cuda_ops = {
    .name = "cuda",
    .takes_external_streams = true,
    .alloc_device = zo_alloc_device,
    .free_device = zo_free_device,
    .alloc_pinned = zo_alloc_pinned,
    .free_pinned = zo_free_pinned,
    .stream_create = zo_stream_create,
    .stream_destroy = zo_stream_destroy,
    .copy_async = zo_copy_async,
    .launch_host = zo_launch_host,
    .stream_synchronize = zo_stream_synchronize,
    .event_create = zo_event_create,
    .event_destroy = zo_event_destroy,
    .event_record = zo_event_record,
    .stream_wait_event = zo_stream_wait_event,
    .event_synchronize = zo_event_synchronize,
    .event_query = zo_event_query,
    .event_record_external = zo_event_record_external,
    .external_stream_wait_event = zo_external_stream_wait_event,
    .destroy = zo_destroy,
    /* optional operations, all present on CUDA */
    .memory_info = zo_memory_info,
    .adam_stats_scratch_bytes = ZO_ADAM_CUDA_STATS_SCRATCH_BYTES,
    .adam_grad_stats = zo_cuda_adam_grad_stats,
    .adam_step = zo_cuda_adam_step,
    .copy_pageable = zo_cuda_copy_pageable,
};

static zo_status zo_count_gpus(int *count)
{
    /* Without a driver this is cudaErrorInsufficientDriver (35), not cudaErrorNoDevice,
     * and the count is left unset: any error means no device. */
    ZO_CUDA_CHECK(cudaGetDeviceCount(count));
    return ZO_OK;
}

static zo_status zo_open_gpu(zo_cuda_device *device)
{
    /* cudaSetDevice creates the GPU's context now: a GPU in exclusive mode that another
     * process holds fails here, with a clear message, rather than at the first copy */
    ZO_CUDA_CHECK(cudaSetDevice(device->ordinal));
    ZO_CUDA_CHECK(cudaStreamCreateWithFlags(&device->zero_fill_stream, cudaStreamNonBlocking));
    return ZO_OK;
}

zo_status zo_device_cuda_create(int ordinal, zo_device *out)
{
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_cuda_create: out is NULL");
    *out = (zo_device){0};
    if (ordinal < 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_cuda_create: GPU ordinal %d is negative",
                       ordinal);
    int count = 0;
    zo_status status = zo_count_gpus(&count);
    if (status != ZO_OK)
        return zo_explain(status, "no usable CUDA device");
    if (count <= 0)
        return zo_fail(ZO_ERR_DEVICE, "no usable CUDA device: cudaGetDeviceCount found none");
    if (ordinal >= count)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_device_cuda_create: there is no GPU %d: this machine has %d (0 to %d)",
                       ordinal, count, count - 1);
    zo_cuda_device *device = calloc(1, sizeof *device);
    if (!device)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "CUDA device %d: out of memory for its context",
                       ordinal);
    device->ordinal = ordinal;
    status = zo_open_gpu(device);
    if (status != ZO_OK) {
        free(device); /* the stream is the last step: nothing else to undo */
        return zo_explain(status, "no usable CUDA device: GPU %d", ordinal);
    }
    *out = (zo_device){.ops = &zo_cuda_ops, .ctx = device};
    return ZO_OK;
}

static zo_status zo_cuda_memory_info(zo_cuda_device *device, size_t *free_bytes,
                                     size_t *total_bytes)
{
    zo_status status = zo_use_gpu(device);
    if (status != ZO_OK)
        return status;
    ZO_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
    return ZO_OK;
}

zo_status zo_device_cuda_memory(const zo_device *device, size_t *free_bytes, size_t *total_bytes)
{
    if (free_bytes)
        *free_bytes = 0;
    if (total_bytes)
        *total_bytes = 0;
    if (!device || !free_bytes || !total_bytes)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_cuda_memory: %s is NULL",
                       !device       ? "device"
                       : !free_bytes ? "free_bytes"
                                     : "total_bytes");
    if (device->ops != &zo_cuda_ops)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_device_cuda_memory: not a CUDA device (\"%s\")",
                       device->ops ? device->ops->name : "none");
    if (zo_in_host_fn)
        return zo_refuse_in_host_fn("zo_device_cuda_memory");
    size_t free_now = 0, total = 0;
    zo_cuda_device *cuda = device->ctx;
    zo_status status = zo_cuda_memory_info(cuda, &free_now, &total);
    if (status != ZO_OK)
        return zo_explain(status, "CUDA device %d: memory info", cuda->ordinal);
    *free_bytes = free_now;
    *total_bytes = total;
    return ZO_OK;
}
