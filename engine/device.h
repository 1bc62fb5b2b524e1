/* The engine's view of a device: memory, streams, events and async copies, as a table
 * of operations plus a context (like ggml's backend interface). The host backend
 * (device/host/) plays the GPU with worker threads; the CUDA backend (device/cuda/) maps
 * each operation onto the CUDA runtime. The engine opens one with zo_device_open and
 * calls it through the zo_device_* helpers at the end of this file: it never includes a
 * backend's headers, nor reaches into the table itself. Internal. */
#ifndef ZO_DEVICE_H
#define ZO_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "zo/adam.h"
#include "zo/config.h"
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
     * device/host/backend.h tells what was left). */
    void (*destroy)(void *ctx);

    /* ---- Optional operations: NULL where the backend lacks them. Call them through
     * the helpers below, which answer ZO_ERR_NOT_SUPPORTED naming the backend and the
     * operation. ---- */

    /* Optional: the free and total bytes of the device's memory, for the memory plan
     * (NULL: unknown, the allocations will tell). The host backend answers like a GPU of
     * its budget (zo_device_host_set_budget) when it has one: total the budget, free the
     * budget less its device buffers; without one, the machine's RAM and MemAvailable. */
    zo_status (*memory_info)(void *ctx, size_t *free_bytes, size_t *total_bytes);

    /* Optional: the most device memory (alloc_device's bytes) ever allocated at once, so
     * far: what a run needed at its peak. The host backend has it (counted from the bytes
     * asked for; zo_device_host_reset_high_water starts it again); CUDA leaves it NULL
     * for now (it would have to remember each buffer's size, as cudaFree does not say). */
    zo_status (*memory_high_water)(void *ctx, uint64_t *bytes);

    /* Optional: refuse device allocations past `bytes` from now on (0: no limit), so a
     * machine without a GPU plays a small one (zo.device_memory_budget). NULL where the
     * backend cannot enforce one: a GPU's budget is the memory plan's to check. */
    zo_status (*set_memory_budget)(void *ctx, uint64_t bytes);

    /* Optional, all three or none: the optimizer on the device, for
     * offload_optimizer.device "none" (device_update.c). The CUDA backend has them
     * (device/cuda/adam.cu's kernels); the host backend leaves them NULL (there "none"
     * runs the offloaded path, the same work on the same memory), unless
     * zo_device_host_add_optimizer gave it cpu_adam's, which tests run this path with. */

    /* Device scratch bytes adam_grad_stats needs (0: none). */
    size_t adam_stats_scratch_bytes;
    /* The stats of n device elements of `dtype` (sum of squares, all finite), computed
     * after the work queued on `stream` and waited for. `scratch`: device memory of
     * adam_stats_scratch_bytes. Same bits run after run; not necessarily cpu_adam's. */
    zo_status (*adam_grad_stats)(void *ctx, const void *grad, zo_dtype dtype, size_t n, void *scratch,
                                 zo_device_stream *stream, zo_grad_stats *out);
    /* Queues zo_adam_step number `step` over `buffers` (every pointer device memory) on
     * `stream`: the same bits as cpu_adam's zo_adam_step. */
    zo_status (*adam_step)(void *ctx, const zo_adam_hparams *hparams, uint64_t step,
                           const zo_adam_buffers *buffers, zo_device_stream *stream);
    /* Copies `bytes` between device memory and ordinary (pageable) host memory, and
     * waits: to_device true copies host -> device. How the optimizer state goes between
     * the device and the host copies checkpoints and the master accessors read. */
    zo_status (*copy_pageable)(void *ctx, void *dst, const void *src, size_t bytes, bool to_device);
} zo_device_ops;

typedef struct zo_device {
    const zo_device_ops *ops;
    void *ctx;
} zo_device;

/* The host backend (device/host/backend.c): buffers are ordinary memory, each stream a
 * worker thread. Errors: ZO_ERR_INVALID_ARGUMENT, ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
zo_status zo_device_host_create(zo_device *out);

/* Opens the device zo.device asks for (device/open.c): ZO_DEVICE_HOST the host backend;
 * ZO_DEVICE_CUDA CUDA GPU `ordinal`, or the reason none is usable ("no usable CUDA
 * device: ..."); ZO_DEVICE_AUTO that GPU if it opens, else the host backend, with why
 * appended to `notice` (a NUL-terminated string of `notice_bytes`, "; " after what it
 * already says). On failure *out is {NULL, NULL}. Errors: ZO_ERR_INVALID_ARGUMENT (out
 * NULL, an unknown kind), those of the backends' creators. */
zo_status zo_device_open(zo_device_kind kind, int ordinal, zo_device *out, char *notice,
                         size_t notice_bytes);

/* Destroys the device (its ops->destroy) and sets *device to {NULL, NULL}; a device
 * never opened ({NULL, NULL}) is a no-op. */
void zo_device_close(zo_device *device);

/* ZO_ERR_NOT_SUPPORTED: "the <name> device has no <operation> (an optional operation)".
 * For the helpers of the optional operations. */
zo_status zo_device_lacks(const zo_device *device, const char *operation);

/* ---- The helpers: one per operation, so call sites read zo_device_copy_async(&e->device,
 * ...) rather than going through the table; the optional ones check the pointer. ---- */

static inline const char *zo_device_name(const zo_device *d) { return d->ops->name; }
/* The loop passes its own streams (CUDA); false where the device is the host itself. */
static inline bool zo_device_takes_external_streams(const zo_device *d)
{
    return d->ops->takes_external_streams;
}

static inline zo_status zo_device_alloc_device(const zo_device *d, size_t bytes, void **out)
{
    return d->ops->alloc_device(d->ctx, bytes, out);
}
static inline void zo_device_free_device(const zo_device *d, void *ptr) { d->ops->free_device(d->ctx, ptr); }
static inline zo_status zo_device_alloc_pinned(const zo_device *d, size_t bytes, void **out)
{
    return d->ops->alloc_pinned(d->ctx, bytes, out);
}
static inline void zo_device_free_pinned(const zo_device *d, void *ptr) { d->ops->free_pinned(d->ctx, ptr); }

static inline zo_status zo_device_stream_create(const zo_device *d, const char *name, zo_device_stream **out)
{
    return d->ops->stream_create(d->ctx, name, out);
}
static inline void zo_device_stream_destroy(const zo_device *d, zo_device_stream *stream)
{
    d->ops->stream_destroy(d->ctx, stream);
}
static inline zo_status zo_device_copy_async(const zo_device *d, void *dst, const void *src, size_t bytes,
                                             zo_device_stream *stream)
{
    return d->ops->copy_async(d->ctx, dst, src, bytes, stream);
}
static inline zo_status zo_device_launch_host(const zo_device *d, zo_device_stream *stream, zo_host_fn fn,
                                              void *arg)
{
    return d->ops->launch_host(d->ctx, stream, fn, arg);
}
static inline zo_status zo_device_stream_synchronize(const zo_device *d, zo_device_stream *stream)
{
    return d->ops->stream_synchronize(d->ctx, stream);
}

static inline zo_status zo_device_event_create(const zo_device *d, zo_device_event **out)
{
    return d->ops->event_create(d->ctx, out);
}
static inline void zo_device_event_destroy(const zo_device *d, zo_device_event *event)
{
    d->ops->event_destroy(d->ctx, event);
}
static inline zo_status zo_device_event_record(const zo_device *d, zo_device_event *event,
                                               zo_device_stream *stream)
{
    return d->ops->event_record(d->ctx, event, stream);
}
static inline zo_status zo_device_stream_wait_event(const zo_device *d, zo_device_stream *stream,
                                                    zo_device_event *event)
{
    return d->ops->stream_wait_event(d->ctx, stream, event);
}
static inline zo_status zo_device_event_synchronize(const zo_device *d, zo_device_event *event)
{
    return d->ops->event_synchronize(d->ctx, event);
}
static inline zo_status zo_device_event_query(const zo_device *d, zo_device_event *event, bool *complete)
{
    return d->ops->event_query(d->ctx, event, complete);
}
static inline zo_status zo_device_event_record_external(const zo_device *d, zo_device_event *event,
                                                        void *external_stream)
{
    return d->ops->event_record_external(d->ctx, event, external_stream);
}
static inline zo_status zo_device_external_stream_wait_event(const zo_device *d, void *external_stream,
                                                             zo_device_event *event)
{
    return d->ops->external_stream_wait_event(d->ctx, external_stream, event);
}

/* Optional operations. */
static inline zo_status zo_device_memory_info(const zo_device *d, size_t *free_bytes, size_t *total_bytes)
{
    return d->ops->memory_info ? d->ops->memory_info(d->ctx, free_bytes, total_bytes)
                               : zo_device_lacks(d, "memory_info");
}
static inline zo_status zo_device_memory_high_water(const zo_device *d, uint64_t *bytes)
{
    return d->ops->memory_high_water ? d->ops->memory_high_water(d->ctx, bytes)
                                     : zo_device_lacks(d, "memory_high_water");
}
/* zo.device_memory_budget: enforced where the backend can; elsewhere (NULL) nothing to
 * do here, since the memory plan checks it (and no budget, 0, asks nothing of anyone). */
static inline zo_status zo_device_set_memory_budget(const zo_device *d, uint64_t bytes)
{
    return d->ops->set_memory_budget ? d->ops->set_memory_budget(d->ctx, bytes) : ZO_OK;
}
/* Device scratch bytes zo_device_adam_grad_stats needs (0: none, or no such operation). */
static inline size_t zo_device_adam_stats_scratch_bytes(const zo_device *d)
{
    return d->ops->adam_stats_scratch_bytes;
}
/* Whether the device can run the optimizer (adam_grad_stats, adam_step, copy_pageable). */
static inline bool zo_device_has_optimizer(const zo_device *d)
{
    return d->ops->adam_grad_stats && d->ops->adam_step && d->ops->copy_pageable;
}
static inline zo_status zo_device_adam_grad_stats(const zo_device *d, const void *grad, zo_dtype dtype, size_t n,
                                                  void *scratch, zo_device_stream *stream, zo_grad_stats *out)
{
    return d->ops->adam_grad_stats ? d->ops->adam_grad_stats(d->ctx, grad, dtype, n, scratch, stream, out)
                                   : zo_device_lacks(d, "adam_grad_stats");
}
static inline zo_status zo_device_adam_step(const zo_device *d, const zo_adam_hparams *hparams, uint64_t step,
                                            const zo_adam_buffers *buffers, zo_device_stream *stream)
{
    return d->ops->adam_step ? d->ops->adam_step(d->ctx, hparams, step, buffers, stream)
                             : zo_device_lacks(d, "adam_step");
}
static inline zo_status zo_device_copy_pageable(const zo_device *d, void *dst, const void *src, size_t bytes,
                                                bool to_device)
{
    return d->ops->copy_pageable ? d->ops->copy_pageable(d->ctx, dst, src, bytes, to_device)
                                 : zo_device_lacks(d, "copy_pageable");
}

#endif
