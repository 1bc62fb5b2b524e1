/* The host backend's streams: one worker thread each, draining a FIFO of copies, host
 * functions and waits for other streams, under a mutex and two condition variables. */
/* pthread_setname_np (the stream's name in debuggers and top -H), GNU strerror_r */
#define _GNU_SOURCE
#include "stream.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fault_injection.h"

/* The message size of error.c, so a worker's message is kept whole. */
enum { ZO_STREAM_NAME_BYTES = 32, ZO_STREAM_MESSAGE_BYTES = 1024 };

typedef enum zo_host_op_kind { ZO_HOST_OP_COPY, ZO_HOST_OP_CALL, ZO_HOST_OP_WAIT } zo_host_op_kind;

typedef struct zo_host_op {
    struct zo_host_op *next;
    zo_host_op_kind kind;
    union {
        struct {
            void *dst;
            const void *src;
            size_t bytes;
        } copy;
        struct {
            zo_host_fn fn;
            void *arg;
        } call;
        struct {
            zo_device_stream *stream; /* holds a reference until the wait is over */
            uint64_t count;
        } wait;
    };
} zo_host_op;

struct zo_device_stream {
    char name[ZO_STREAM_NAME_BYTES];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work_queued; /* the worker sleeps on it while the queue is empty */
    pthread_cond_t work_done;   /* broadcast each time `completed` grows */
    zo_host_op *head, *tail;    /* the FIFO of operations not yet started */
    uint64_t enqueued;          /* operations ever queued */
    uint64_t completed;         /* of which have run: always the first ones, in order */
    bool stopping;              /* destroy was called: drain, then exit */
    zo_status first_error;      /* since the last synchronize */
    char first_error_message[ZO_STREAM_MESSAGE_BYTES];
    atomic_int references; /* the creator's, events' and pending waits' */
};

/* The stream whose thread this is, so that a host function synchronizing its own
 * stream gets an error instead of waiting for itself forever. */
static _Thread_local zo_device_stream *zo_current_stream;

/* Sleeps until the first `count` operations of `stream` have run. */
static void zo_block_until(zo_device_stream *stream, uint64_t count)
{
    pthread_mutex_lock(&stream->lock);
    while (stream->completed < count)
        pthread_cond_wait(&stream->work_done, &stream->lock);
    pthread_mutex_unlock(&stream->lock);
}

/* Runs one operation on the worker thread; a failure leaves its message in this
 * thread's zo_last_error(). */
static zo_status zo_run_op(zo_device_stream *stream, zo_host_op *op)
{
    switch (op->kind) {
    case ZO_HOST_OP_COPY:
        if (zo_fault_hit(ZO_FAULT_COPY))
            return zo_fail(
                ZO_ERR_DEVICE,
                "host device: a copy of %zu bytes on stream \"%s\" failed (fault injected: copy)",
                op->copy.bytes, stream->name);
        if (op->copy.bytes) /* an empty copy may carry NULL pointers; memcpy must not see them */
            memcpy(op->copy.dst, op->copy.src, op->copy.bytes);
        return ZO_OK;
    case ZO_HOST_OP_WAIT:
        zo_block_until(op->wait.stream, op->wait.count);
        zo_host_stream_release(op->wait.stream);
        return ZO_OK;
    case ZO_HOST_OP_CALL: break;
    }
    /* Clear the message first: a function that fails without calling zo_fail must not
     * be reported with an older failure's words. */
    zo_fail(ZO_OK, "%s", "");
    zo_status status = op->call.fn(op->call.arg);
    if (status == ZO_OK && zo_fault_hit(ZO_FAULT_HOST_FN))
        status = zo_fail(ZO_ERR_DEVICE,
                         "host device: a host function on stream \"%s\" reported an error (fault "
                         "injected: host_fn)",
                         stream->name);
    if (status != ZO_OK && zo_last_error()[0] == '\0')
        zo_fail(status, "a host function on stream \"%s\" failed with %s and left no message",
                stream->name, zo_status_name(status));
    return status;
}

static void *zo_stream_main(void *arg)
{
    zo_device_stream *stream = arg;
    zo_current_stream = stream;
    char thread_name[16]; /* Linux's limit, the NUL included */
    snprintf(thread_name, sizeof thread_name, "zo:%.12s", stream->name);
    pthread_setname_np(pthread_self(), thread_name);

    pthread_mutex_lock(&stream->lock);
    for (;;) {
        while (!stream->head && !stream->stopping)
            pthread_cond_wait(&stream->work_queued, &stream->lock);
        zo_host_op *op = stream->head;
        if (!op)
            break; /* stopping, and everything queued has run */
        stream->head = op->next;
        if (!stream->head)
            stream->tail = NULL;
        pthread_mutex_unlock(&stream->lock);

        zo_status status = zo_run_op(stream, op);
        free(op);

        pthread_mutex_lock(&stream->lock);
        if (status != ZO_OK && stream->first_error == ZO_OK) {
            /* zo_last_error() is this thread's: copy it for the thread that synchronizes */
            stream->first_error = status;
            snprintf(stream->first_error_message, sizeof stream->first_error_message, "%s",
                     zo_last_error());
        }
        stream->completed++;
        pthread_cond_broadcast(&stream->work_done);
    }
    pthread_mutex_unlock(&stream->lock);
    return NULL;
}

zo_status zo_host_stream_create(const char *name, zo_device_stream **out)
{
    *out = NULL;
    name = name ? name : "";
    zo_device_stream *stream = calloc(1, sizeof *stream);
    if (!stream)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "host device: cannot create stream \"%s\": out of memory", name);
    snprintf(stream->name, sizeof stream->name, "%s", name);
    atomic_init(&stream->references, 1);
    if (pthread_mutex_init(&stream->lock, NULL) != 0)
        goto fail_lock;
    if (pthread_cond_init(&stream->work_queued, NULL) != 0)
        goto fail_work_queued;
    if (pthread_cond_init(&stream->work_done, NULL) != 0)
        goto fail_work_done;

    /* The worker starts with every signal blocked, so that signals meant for the
     * application are never delivered to a library thread. */
    sigset_t all_signals, caller_signals;
    sigfillset(&all_signals);
    pthread_sigmask(SIG_SETMASK, &all_signals, &caller_signals);
    int error = pthread_create(&stream->thread, NULL, zo_stream_main, stream);
    pthread_sigmask(SIG_SETMASK, &caller_signals, NULL);
    if (error != 0) {
        char buffer[128];
        const char *reason = strerror_r(error, buffer, sizeof buffer); /* the GNU one */
        pthread_cond_destroy(&stream->work_done);
        pthread_cond_destroy(&stream->work_queued);
        pthread_mutex_destroy(&stream->lock);
        free(stream);
        return zo_fail(ZO_ERR_DEVICE, "host device: cannot start the thread of stream \"%s\": %s",
                       name, reason);
    }
    *out = stream;
    return ZO_OK;

fail_work_done:
    pthread_cond_destroy(&stream->work_queued);
fail_work_queued:
    pthread_mutex_destroy(&stream->lock);
fail_lock:
    free(stream);
    return zo_fail(ZO_ERR_DEVICE, "host device: cannot create the lock of stream \"%s\"", name);
}

void zo_host_stream_retain(zo_device_stream *stream)
{
    atomic_fetch_add_explicit(&stream->references, 1, memory_order_relaxed);
}

void zo_host_stream_release(zo_device_stream *stream)
{
    if (atomic_fetch_sub_explicit(&stream->references, 1, memory_order_acq_rel) != 1)
        return;
    pthread_cond_destroy(&stream->work_done);
    pthread_cond_destroy(&stream->work_queued);
    pthread_mutex_destroy(&stream->lock);
    free(stream);
}

void zo_host_stream_destroy(zo_device_stream *stream)
{
    if (!stream)
        return;
    pthread_mutex_lock(&stream->lock);
    stream->stopping = true;
    pthread_cond_signal(&stream->work_queued);
    pthread_mutex_unlock(&stream->lock);
    pthread_join(stream->thread, NULL);
    zo_host_stream_release(stream);
}

/* Appends `op` (which the stream then owns) and wakes the worker if it sleeps. */
static zo_status zo_push(zo_device_stream *stream, zo_host_op *op)
{
    op->next = NULL;
    pthread_mutex_lock(&stream->lock);
    if (stream->stopping) {
        pthread_mutex_unlock(&stream->lock);
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "host device: stream \"%s\" is being destroyed; nothing can be queued on it",
                       stream->name);
    }
    if (stream->tail)
        stream->tail->next = op;
    else
        stream->head = op;
    stream->tail = op;
    stream->enqueued++;
    if (op == stream->head) /* the worker only sleeps on an empty queue */
        pthread_cond_signal(&stream->work_queued);
    pthread_mutex_unlock(&stream->lock);
    return ZO_OK;
}

static zo_host_op *zo_new_op(zo_device_stream *stream, zo_host_op_kind kind)
{
    zo_host_op *op = calloc(1, sizeof *op);
    if (!op)
        zo_fail(ZO_ERR_OUT_OF_MEMORY,
                "host device: cannot queue an operation on stream \"%s\": "
                "out of memory",
                stream->name);
    else
        op->kind = kind;
    return op;
}

zo_status zo_host_stream_copy(zo_device_stream *stream, void *dst, const void *src, size_t bytes)
{
    zo_host_op *op = zo_new_op(stream, ZO_HOST_OP_COPY);
    if (!op)
        return ZO_ERR_OUT_OF_MEMORY;
    op->copy.dst = dst;
    op->copy.src = src;
    op->copy.bytes = bytes;
    zo_status status = zo_push(stream, op);
    if (status != ZO_OK)
        free(op);
    return status;
}

zo_status zo_host_stream_launch(zo_device_stream *stream, zo_host_fn fn, void *arg)
{
    zo_host_op *op = zo_new_op(stream, ZO_HOST_OP_CALL);
    if (!op)
        return ZO_ERR_OUT_OF_MEMORY;
    op->call.fn = fn;
    op->call.arg = arg;
    zo_status status = zo_push(stream, op);
    if (status != ZO_OK)
        free(op);
    return status;
}

zo_status zo_host_stream_wait(zo_device_stream *stream, zo_device_stream *waited, uint64_t count)
{
    zo_host_op *op = zo_new_op(stream, ZO_HOST_OP_WAIT);
    if (!op)
        return ZO_ERR_OUT_OF_MEMORY;
    zo_host_stream_retain(waited);
    op->wait.stream = waited;
    op->wait.count = count;
    zo_status status = zo_push(stream, op);
    if (status != ZO_OK) {
        zo_host_stream_release(waited);
        free(op);
    }
    return status;
}

zo_status zo_host_stream_enqueued(zo_device_stream *stream, uint64_t *count)
{
    pthread_mutex_lock(&stream->lock);
    bool stopping = stream->stopping;
    *count = stream->enqueued;
    pthread_mutex_unlock(&stream->lock);
    if (stopping)
        return zo_fail(
            ZO_ERR_INVALID_ARGUMENT,
            "host device: stream \"%s\" is being destroyed; no event can be recorded on it",
            stream->name);
    return ZO_OK;
}

bool zo_host_stream_reached(zo_device_stream *stream, uint64_t count)
{
    pthread_mutex_lock(&stream->lock);
    bool reached = stream->completed >= count;
    pthread_mutex_unlock(&stream->lock);
    return reached;
}

zo_status zo_host_stream_wait_until(zo_device_stream *stream, uint64_t count)
{
    /* On its own thread, `completed` is the index of the operation running now, which
     * cannot finish while it waits for later ones. */
    if (zo_current_stream == stream && !zo_host_stream_reached(stream, count))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "host device: a host function on stream \"%s\" waits for work queued after "
                       "it on the same stream, which would never finish",
                       stream->name);
    zo_block_until(stream, count);
    return ZO_OK;
}

zo_status zo_host_stream_synchronize(zo_device_stream *stream)
{
    if (zo_current_stream == stream)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "host device: a host function on stream \"%s\" cannot synchronize that "
                       "stream: it would wait for itself",
                       stream->name);
    char message[ZO_STREAM_MESSAGE_BYTES];
    pthread_mutex_lock(&stream->lock);
    uint64_t target = stream->enqueued;
    while (stream->completed < target)
        pthread_cond_wait(&stream->work_done, &stream->lock);
    zo_status status = stream->first_error;
    if (status != ZO_OK)
        memcpy(message, stream->first_error_message, sizeof message);
    stream->first_error = ZO_OK;
    pthread_mutex_unlock(&stream->lock);
    if (status != ZO_OK)
        return zo_fail(status, "%s", message);
    return ZO_OK;
}
