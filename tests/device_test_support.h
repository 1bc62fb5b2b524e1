/* What every device backend's tests share: the device under test, one-line wrappers
 * of its operations that assert success, and host functions the tests queue (gates,
 * naps, flags, numbered steps). A backend's tests add their own fixture. */
#ifndef ZO_DEVICE_TEST_SUPPORT_H
#define ZO_DEVICE_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "error.h"
#include "zo/zo.h"

/* The device under test; each backend's fixture opens it. */
static zo_device device;

static inline bool contains(const char *text, const char *part) { return strstr(text, part) != NULL; }

#define CHECK(call) cr_assert(eq(int, (call), ZO_OK), "%s: %s", #call, zo_last_error())

static inline zo_device_stream *new_stream(const char *name)
{
    zo_device_stream *stream = NULL;
    CHECK(device.ops->stream_create(device.ctx, name, &stream));
    return stream;
}

static inline zo_device_event *new_event(void)
{
    zo_device_event *event = NULL;
    CHECK(device.ops->event_create(device.ctx, &event));
    return event;
}

static inline void launch(zo_device_stream *stream, zo_host_fn fn, void *arg)
{
    CHECK(device.ops->launch_host(device.ctx, stream, fn, arg));
}

static inline void record(zo_device_event *event, zo_device_stream *stream)
{
    CHECK(device.ops->event_record(device.ctx, event, stream));
}

static inline void wait_event(zo_device_stream *stream, zo_device_event *event)
{
    CHECK(device.ops->stream_wait_event(device.ctx, stream, event));
}

static inline void synchronize(zo_device_stream *stream)
{
    CHECK(device.ops->stream_synchronize(device.ctx, stream));
}

static inline bool query(zo_device_event *event)
{
    bool complete = false;
    CHECK(device.ops->event_query(device.ctx, event, &complete));
    return complete;
}

/* ---- host functions the tests queue ------------------------------------------- */

/* A gate a host function blocks at until the test (or another stream) opens it: work
 * queued behind it is certainly still pending, whatever the scheduler does. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t opened;
    bool open;
} gate;

#define GATE_CLOSED                                                                                \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false                                 \
    }

static inline zo_status wait_at_gate(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->opened, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return ZO_OK;
}

static inline zo_status open_gate(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->opened);
    pthread_mutex_unlock(&g->lock);
    return ZO_OK;
}

static inline void sleep_ms(long ms)
{
    struct timespec duration = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&duration, &duration) != 0) {
    }
}

/* Sleeps the stream for 50 ms: long enough that work racing it would overtake it. */
static inline zo_status nap(void *arg)
{
    (void)arg;
    sleep_ms(50);
    return ZO_OK;
}

static inline zo_status raise_flag(void *arg)
{
    atomic_store((atomic_bool *)arg, true);
    return ZO_OK;
}

/* Host functions that record the order they ran in. */
enum { MANY_OPS = 10000 };

typedef struct numbered_op {
    size_t *seen;
    size_t *seen_count;
    size_t number;
} numbered_op;

static inline zo_status note_number(void *arg)
{
    numbered_op *op = arg;
    op->seen[(*op->seen_count)++] = op->number;
    return ZO_OK;
}

#endif
