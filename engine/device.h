/* The engine's view of a device: memory, streams, events and async copies, as a table
 * of operations plus a context (like ggml's backend interface). The host backend
 * (device_host.c) plays the GPU with worker threads; the CUDA backend maps each
 * operation onto the CUDA runtime. The engine never includes a backend's headers.
 * Internal. */
#ifndef ZO_DEVICE_H
#define ZO_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "zo/status.h"

typedef struct zo_device_stream zo_device_stream; /* defined by each backend */
typedef struct zo_device_event zo_device_event;   /* defined by each backend */

/* Work a stream runs on the host in its turn (cudaLaunchHostFunc on CUDA). A failure
 * it returns (with its zo_fail message) becomes the stream's error, reported by the next
 * synchronize. On the host backend it runs on the stream's own thread and may queue work
 * on any stream; it must not synchronize or destroy its own stream (synchronize answers
 * ZO_ERR_INVALID_ARGUMENT). CUDA forbids CUDA calls inside it altogether. */
typedef zo_status (*zo_host_fn)(void *arg);

typedef struct zo_device_ops {
    const char *name; /* "host", "cuda" */
    bool takes_external_streams; /* the loop may pass its own stream (CUDA)  */

    /* Device memory (where the GPU's weights and gradients live) and page-locked host
     * memory (the staging buffers of the copies). Both zero-filled. Errors:
     * ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. Freeing NULL is a no-op. */
    zo_status (*alloc_device)(void *ctx, size_t bytes, void **out);
    void (*free_device)(void *ctx, void *ptr);
    zo_status (*alloc_pinned)(void *ctx, size_t bytes, void **out);
    void (*free_pinned)(void *ctx, void *ptr);

    /* A stream runs its operations one after another, in order, asynchronously to
     * the caller; queueing never waits for the work. `name` is for traces (and, on the
     * host backend, the worker thread's name). Destroy waits for queued work first; an
     * error nobody synchronized for is dropped. */
    zo_status (*stream_create)(void *ctx, const char *name, zo_device_stream **out);
    void (*stream_destroy)(void *ctx, zo_device_stream *stream);

    /* Enqueues a copy of `bytes` between any two of device and pinned memory. The
     * buffers must stay allocated until the copy has run. The host backend refuses
     * (ZO_ERR_INVALID_ARGUMENT) overlapping ranges and a copy running past the end of
     * one of its buffers. */
    zo_status (*copy_async)(void *ctx, void *dst, const void *src, size_t bytes,
                            zo_device_stream *stream);
    /* Enqueues fn(arg). */
    zo_status (*launch_host)(void *ctx, zo_device_stream *stream, zo_host_fn fn, void *arg);
    /* Waits until all work queued on the stream so far has run; returns (and clears)
     * the first error of that work. */
    zo_status (*stream_synchronize)(void *ctx, zo_device_stream *stream);

    /* Events, with CUDA's meaning: record captures the work queued on a stream so
     * far and completes when it has run; a stream told to wait for an event runs
     * nothing queued after the wait until the event completes (what the event
     * captured when the wait was queued: recording it again later does not move the
     * wait); an event never recorded is complete; recording again replaces what it
     * captured. Query never blocks. An event may outlive the stream it was recorded on. */
    zo_status (*event_create)(void *ctx, zo_device_event **out);
    void (*event_destroy)(void *ctx, zo_device_event *event);
    zo_status (*event_record)(void *ctx, zo_device_event *event, zo_device_stream *stream);
    zo_status (*stream_wait_event)(void *ctx, zo_device_stream *stream, zo_device_event *event);
    zo_status (*event_synchronize)(void *ctx, zo_device_event *event);
    zo_status (*event_query)(void *ctx, zo_device_event *event, bool *complete);

    /* The training loop's own stream (a cudaStream_t on CUDA), which the engine does
     * not own: record an event capturing the work the loop queued on it so far, and
     * make it wait for an event of the engine's streams. The host backend has no such
     * streams (the loop's work is done when it calls in) and refuses both with
     * ZO_ERR_INVALID_ARGUMENT. */
    zo_status (*event_record_external)(void *ctx, zo_device_event *event, void *external_stream);
    zo_status (*external_stream_wait_event)(void *ctx, void *external_stream, zo_device_event *event);

    /* Frees the backend's context; every stream, event and buffer is gone by then
     * (the host backend frees buffers still live; zo_device_host_audit in
     * device_host.h tells what was left). */
    void (*destroy)(void *ctx);
} zo_device_ops;

typedef struct zo_device {
    const zo_device_ops *ops;
    void *ctx;
} zo_device;

/* The host backend (device_host.c): buffers are ordinary memory, each stream a worker
 * thread. Errors: ZO_ERR_INVALID_ARGUMENT, ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
zo_status zo_device_host_create(zo_device *out);

#endif
