/* Host backend events: what the last record captured, read under a lock so an event may
 * be recorded on one thread while another queries it. */
#include "event.h"

#include <pthread.h>
#include <stdlib.h>

#include "error.h"
#include "stream.h"

struct zo_device_event {
    pthread_mutex_t lock;
    zo_device_stream *stream; /* of the last record, with a reference; NULL if never recorded */
    uint64_t count;           /* how many of its operations must have run */
};

/* What the event captures now, with a reference on the stream the caller must release;
 * NULL when never recorded. */
static zo_device_stream *zo_event_snapshot(zo_device_event *event, uint64_t *count)
{
    pthread_mutex_lock(&event->lock);
    zo_device_stream *stream = event->stream;
    *count = event->count;
    if (stream)
        zo_host_stream_retain(stream);
    pthread_mutex_unlock(&event->lock);
    return stream;
}

zo_status zo_host_event_create(zo_device_event **out)
{
    *out = NULL;
    zo_device_event *event = calloc(1, sizeof *event);
    if (!event)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "host device: cannot create an event: out of memory");
    if (pthread_mutex_init(&event->lock, NULL) != 0) {
        free(event);
        return zo_fail(ZO_ERR_DEVICE, "host device: cannot create the lock of an event");
    }
    *out = event;
    return ZO_OK;
}

void zo_host_event_destroy(zo_device_event *event)
{
    if (!event)
        return;
    if (event->stream)
        zo_host_stream_release(event->stream);
    pthread_mutex_destroy(&event->lock);
    free(event);
}

zo_status zo_host_event_record(zo_device_event *event, zo_device_stream *stream)
{
    uint64_t count;
    zo_status status = zo_host_stream_enqueued(stream, &count);
    if (status != ZO_OK)
        return status;
    zo_host_stream_retain(stream);
    pthread_mutex_lock(&event->lock);
    zo_device_stream *replaced = event->stream;
    event->stream = stream;
    event->count = count;
    pthread_mutex_unlock(&event->lock);
    if (replaced)
        zo_host_stream_release(replaced);
    return ZO_OK;
}

bool zo_host_event_complete(zo_device_event *event)
{
    uint64_t count;
    zo_device_stream *stream = zo_event_snapshot(event, &count);
    if (!stream)
        return true;
    bool complete = zo_host_stream_reached(stream, count);
    zo_host_stream_release(stream);
    return complete;
}

zo_status zo_host_event_synchronize(zo_device_event *event)
{
    uint64_t count;
    zo_device_stream *stream = zo_event_snapshot(event, &count);
    if (!stream)
        return ZO_OK;
    zo_status status = zo_host_stream_wait_until(stream, count);
    zo_host_stream_release(stream);
    return status;
}

zo_status zo_host_event_enqueue_wait(zo_device_stream *stream, zo_device_event *event)
{
    uint64_t count;
    zo_device_stream *waited = zo_event_snapshot(event, &count);
    if (!waited)
        return ZO_OK; /* never recorded: nothing to wait for, as on CUDA */
    zo_status status = zo_host_stream_wait(stream, waited, count);
    zo_host_stream_release(waited);
    return status;
}
