/* What every device backend's tests share: the device under test, one-line wrappers
 * of its operations that assert success, and host functions the tests queue (gates,
 * naps, flags, numbered steps, marks in a log). The contract suite (device_contract.h)
 * and each backend's own tests add their fixture. */
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

static inline bool contains(const char *text, const char *part)
{
    return strstr(text, part) != NULL;
}

#define CHECK(call) cr_assert(eq(int, (call), ZO_OK), "%s: %s", #call, zo_last_error())

static inline void *new_buffer(size_t bytes, bool on_device)
{
    void *buffer = NULL;
    if (on_device)
        CHECK(device.ops->alloc_device(device.ctx, bytes, &buffer));
    else
        CHECK(device.ops->alloc_pinned(device.ctx, bytes, &buffer));
    cr_assert(ne(ptr, buffer, NULL), "%zu bytes", bytes);
    return buffer;
}

static inline void copy(void *dst, const void *src, size_t bytes, zo_device_stream *stream)
{
    CHECK(device.ops->copy_async(device.ctx, dst, src, bytes, stream));
}

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

/* Device memory is read back through copies only, as on a GPU. */
static inline bool all_bytes_are(const unsigned char *buffer, size_t bytes, unsigned char value)
{
    for (size_t i = 0; i < bytes; i++)
        if (buffer[i] != value)
            return false;
    return true;
}

static inline void fill_pattern(unsigned char *buffer, size_t bytes, unsigned seed)
{
    for (size_t i = 0; i < bytes; i++)
        buffer[i] = (unsigned char)(i * 31 + seed);
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

/* Opens a gate from a thread of the test's own after a nap, for a test that blocks in a
 * backend call (destroy, event_synchronize) until the gated work has run. Not a host
 * function on another stream: CUDA may run every stream's host functions on one thread,
 * where the opener would queue behind the very gate it is to open. */
static inline void *open_gate_after_a_nap(void *arg)
{
    sleep_ms(50);
    open_gate(arg);
    return NULL;
}

static inline pthread_t open_gate_later(gate *g)
{
    pthread_t opener;
    cr_assert(eq(int, pthread_create(&opener, NULL, open_gate_after_a_nap, g), 0));
    return opener;
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
