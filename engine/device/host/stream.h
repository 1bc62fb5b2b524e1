/* A stream of the host backend: a worker thread draining a FIFO of operations, so that
 * work runs in order and asynchronously to whoever queued it, as on a GPU. Internal. */
#ifndef ZO_HOST_STREAM_H
#define ZO_HOST_STREAM_H

#include <stdint.h>

#include "device.h"

/* Starts the stream's thread. Errors: ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE (the thread
 * could not be started). */
zo_status zo_host_stream_create(const char *name, zo_device_stream **out);

/* Runs everything queued, stops and joins the thread, then drops the creator's
 * reference; the memory lives on while an event or a pending wait still refers to it.
 * An error nobody synchronized for is dropped. Must not be called from the stream's own
 * host functions (the thread would join itself). NULL is a no-op. */
void zo_host_stream_destroy(zo_device_stream *stream);

/* References kept by events and by wait operations on other streams, so that a stream
 * destroyed while they still look at its progress stays readable. */
void zo_host_stream_retain(zo_device_stream *stream);
void zo_host_stream_release(zo_device_stream *stream);

/* Enqueue an operation; none of them waits for the work itself. They fail only with
 * ZO_ERR_OUT_OF_MEMORY, or ZO_ERR_INVALID_ARGUMENT on a stream being destroyed. */
zo_status zo_host_stream_copy(zo_device_stream *stream, void *dst, const void *src, size_t bytes);
zo_status zo_host_stream_launch(zo_device_stream *stream, zo_host_fn fn, void *arg);
/* Nothing queued on `stream` after this runs before the first `count` operations of
 * `waited` have. */
zo_status zo_host_stream_wait(zo_device_stream *stream, zo_device_stream *waited, uint64_t count);

/* How many operations were queued on the stream so far: what an event records. */
zo_status zo_host_stream_enqueued(zo_device_stream *stream, uint64_t *count);

/* Whether the first `count` operations have run. Never blocks on the work. */
bool zo_host_stream_reached(zo_device_stream *stream, uint64_t count);

/* Blocks until the first `count` operations have run. ZO_ERR_INVALID_ARGUMENT, rather
 * than a deadlock, when called from the stream's own thread for work queued after the
 * operation running it. */
zo_status zo_host_stream_wait_until(zo_device_stream *stream, uint64_t count);

/* Blocks until everything queued so far has run; returns and clears the stream's first
 * error, re-raising its message on the calling thread. */
zo_status zo_host_stream_synchronize(zo_device_stream *stream);

#endif
