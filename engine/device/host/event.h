/* Events of the host backend: a (stream, operation count) pair that completes when the
 * stream has run that many operations, with CUDA's meaning (see device.h). Internal. */
#ifndef ZO_HOST_EVENT_H
#define ZO_HOST_EVENT_H

#include "device.h"

/* Errors: ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
zo_status zo_host_event_create(zo_device_event **out);
/* NULL is a no-op. An event may outlive the stream it was recorded on. */
void zo_host_event_destroy(zo_device_event *event);

/* Captures how many operations `stream` has queued so far, replacing what the event
 * held before. */
zo_status zo_host_event_record(zo_device_event *event, zo_device_stream *stream);

/* Whether the captured work has run (true if never recorded); never blocks on it. */
bool zo_host_event_complete(zo_device_event *event);

/* Blocks the caller until the captured work has run. */
zo_status zo_host_event_synchronize(zo_device_event *event);

/* Queues on `stream` a wait for the work the event captures now; recording the event
 * again later does not change what this wait waits for. */
zo_status zo_host_event_enqueue_wait(zo_device_stream *stream, zo_device_event *event);

#endif
