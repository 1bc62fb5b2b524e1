/* Helpers the host device backend tests share: the audited device fixture, one-line
 * wrappers of its operations, and host functions the tests queue (gates, naps, logs). */
#ifndef ZO_DEVICE_HOST_SUPPORT_H
#define ZO_DEVICE_HOST_SUPPORT_H

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device_host.h"
#include "error.h"
#include "zo/zo.h"

/* ---- the device every test runs on, audited for leaks at the end --------------- */

static zo_device device;

static inline void open_device(void)
{
    cr_assert(eq(int, zo_device_host_create(&device), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(str, (char *)device.ops->name, "host"));
}

/* Each test ends with it: an assertion in .fini does not fail a test (Criterion 2.4). */
static inline void expect_nothing_left(void)
{
    zo_status audit = zo_device_host_audit(&device);
    cr_expect(eq(int, audit, ZO_OK), "the test left something behind: %s", zo_last_error());
}

static inline void close_device(void) { device.ops->destroy(device.ctx); }

TestSuite(host_device, .init = open_device, .fini = close_device, .timeout = 120);

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

/* A log that host functions on several streams append to; the events between them are
 * its only synchronization, so a missing one is also a data race for TSan. */
typedef struct order_log {
    size_t count;
    char entries[4096];
} order_log;

typedef struct log_entry {
    order_log *log;
    char mark;
} log_entry;

static inline zo_status append_mark(void *arg)
{
    log_entry *entry = arg;
    entry->log->entries[entry->log->count++] = entry->mark;
    return ZO_OK;
}

#endif
