/* The host device backend under concurrent load, as a plain program: Criterion cannot
 * start under ThreadSanitizer (its arena collides with TSan's memory layout, Criterion
 * issue #274), so this is what a -Db_sanitize=thread build runs to find data races.
 * Exits non-zero, naming the check, when something is wrong. Budget traffic included:
 * allocations from several threads against one device-memory budget. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/host/backend.h"
#include "error.h"

static zo_device device;
static atomic_int failures; /* callers on several threads may fail at once */

#define CHECK(condition, ...)                                                                      \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #condition);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call) CHECK((call) == ZO_OK, "%s", zo_last_error())

static zo_device_stream *new_stream(const char *name)
{
    zo_device_stream *stream = NULL;
    CHECK_OK(device.ops->stream_create(device.ctx, name, &stream));
    return stream;
}

static zo_device_event *new_event(void)
{
    zo_device_event *event = NULL;
    CHECK_OK(device.ops->event_create(device.ctx, &event));
    return event;
}

/* ---- the pipeline's pattern: upload, download, check on a third stream ----------- */

enum { ROUNDS = 300, CHUNK_BYTES = 4096 };

typedef struct chunk_check {
    const unsigned char *landed;
    unsigned char expected;
    bool *matched;
} chunk_check;

static zo_status check_chunk(void *arg)
{
    chunk_check *check = arg;
    bool matched = true;
    for (size_t i = 0; i < CHUNK_BYTES; i++)
        matched = matched && check->landed[i] == check->expected;
    *check->matched = matched;
    return ZO_OK;
}

static void pipeline_over_three_streams(void)
{
    unsigned char *source, *on_device, *landed;
    CHECK_OK(device.ops->alloc_pinned(device.ctx, ROUNDS * CHUNK_BYTES, (void **)&source));
    CHECK_OK(device.ops->alloc_device(device.ctx, ROUNDS * CHUNK_BYTES, (void **)&on_device));
    CHECK_OK(device.ops->alloc_pinned(device.ctx, ROUNDS * CHUNK_BYTES, (void **)&landed));
    static chunk_check checks[ROUNDS];
    static bool matched[ROUNDS];
    zo_device_stream *h2d = new_stream("h2d"), *d2h = new_stream("d2h"),
                     *worker = new_stream("worker");
    zo_device_event *uploaded = new_event(), *downloaded = new_event();
    for (size_t round = 0; round < ROUNDS; round++) {
        size_t offset = round * CHUNK_BYTES;
        memset(source + offset, (int)(round % 251) + 1, CHUNK_BYTES);
        CHECK_OK(device.ops->copy_async(device.ctx, on_device + offset, source + offset,
                                        CHUNK_BYTES, h2d));
        CHECK_OK(device.ops->event_record(device.ctx, uploaded, h2d));
        CHECK_OK(device.ops->stream_wait_event(device.ctx, d2h, uploaded));
        CHECK_OK(device.ops->copy_async(device.ctx, landed + offset, on_device + offset,
                                        CHUNK_BYTES, d2h));
        CHECK_OK(device.ops->event_record(device.ctx, downloaded, d2h));
        CHECK_OK(device.ops->stream_wait_event(device.ctx, worker, downloaded));
        checks[round] =
            (chunk_check){landed + offset, (unsigned char)(round % 251 + 1), &matched[round]};
        CHECK_OK(device.ops->launch_host(device.ctx, worker, check_chunk, &checks[round]));
    }
    CHECK_OK(device.ops->stream_synchronize(device.ctx, worker));
    for (size_t round = 0; round < ROUNDS; round++)
        CHECK(matched[round], "round %zu saw the wrong bytes", round);
    device.ops->event_destroy(device.ctx, uploaded);
    device.ops->event_destroy(device.ctx, downloaded);
    device.ops->stream_destroy(device.ctx, h2d);
    device.ops->stream_destroy(device.ctx, d2h);
    device.ops->stream_destroy(device.ctx, worker);
    device.ops->free_pinned(device.ctx, source);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, landed);
}

/* ---- several threads queueing on one stream at once -------------------------------- */

enum { CALLERS = 4, CALLS_PER_CALLER = 2000 };

typedef struct shared_log {
    size_t count;
    unsigned entries[CALLERS * CALLS_PER_CALLER]; /* caller * CALLS_PER_CALLER + sequence */
} shared_log;

typedef struct log_call {
    shared_log *log;
    unsigned value;
} log_call;

static zo_status append_value(void *arg)
{
    log_call *call = arg;
    call->log->entries[call->log->count++] = call->value;
    return ZO_OK;
}

typedef struct caller {
    zo_device_stream *stream;
    zo_device_event *event; /* recorded and queried by every caller */
    log_call calls[CALLS_PER_CALLER];
} caller;

static void *queue_from_a_caller(void *arg)
{
    caller *c = arg;
    for (size_t i = 0; i < CALLS_PER_CALLER; i++) {
        CHECK_OK(device.ops->launch_host(device.ctx, c->stream, append_value, &c->calls[i]));
        if (i % 100 == 0) {
            bool complete;
            CHECK_OK(device.ops->event_record(device.ctx, c->event, c->stream));
            CHECK_OK(device.ops->event_query(device.ctx, c->event, &complete));
        }
        if (i % 500 == 0)
            CHECK_OK(device.ops->event_synchronize(device.ctx, c->event));
    }
    return NULL;
}

static void callers_on_many_threads_share_one_stream(void)
{
    shared_log *log = calloc(1, sizeof *log);
    static caller callers[CALLERS];
    pthread_t threads[CALLERS];
    zo_device_stream *stream = new_stream("shared");
    zo_device_event *event = new_event();
    for (unsigned t = 0; t < CALLERS; t++) {
        callers[t].stream = stream;
        callers[t].event = event;
        for (unsigned i = 0; i < CALLS_PER_CALLER; i++)
            callers[t].calls[i] = (log_call){log, t * CALLS_PER_CALLER + i};
        CHECK(pthread_create(&threads[t], NULL, queue_from_a_caller, &callers[t]) == 0, "thread %u",
              t);
    }
    for (unsigned t = 0; t < CALLERS; t++)
        pthread_join(threads[t], NULL);
    CHECK_OK(device.ops->stream_synchronize(device.ctx, stream));
    CHECK(log->count == CALLERS * CALLS_PER_CALLER, "%zu entries", log->count);
    unsigned next[CALLERS] = {0}; /* each caller's calls must run in its own order */
    for (size_t i = 0; i < log->count; i++) {
        unsigned t = log->entries[i] / CALLS_PER_CALLER,
                 sequence = log->entries[i] % CALLS_PER_CALLER;
        CHECK(sequence == next[t], "caller %u: call %u ran where %u was due", t, sequence, next[t]);
        next[t] = sequence + 1;
    }
    device.ops->event_destroy(device.ctx, event);
    device.ops->stream_destroy(device.ctx, stream);
    free(log);
}

/* ---- two streams waiting on each other, events recorded again every round ---------- */

enum { PING_PONG_ROUNDS = 2000 };

static void ping_pong(void)
{
    shared_log *log = calloc(1, sizeof *log);
    log_call ping = {log, 0}, pong = {log, 1};
    zo_device_stream *left = new_stream("left"), *right = new_stream("right");
    zo_device_event *left_done = new_event(), *right_done = new_event();
    for (size_t round = 0; round < PING_PONG_ROUNDS; round++) {
        CHECK_OK(device.ops->stream_wait_event(device.ctx, left, right_done));
        CHECK_OK(device.ops->launch_host(device.ctx, left, append_value, &ping));
        CHECK_OK(device.ops->event_record(device.ctx, left_done, left));
        CHECK_OK(device.ops->stream_wait_event(device.ctx, right, left_done));
        CHECK_OK(device.ops->launch_host(device.ctx, right, append_value, &pong));
        CHECK_OK(device.ops->event_record(device.ctx, right_done, right));
    }
    CHECK_OK(device.ops->stream_synchronize(device.ctx, right));
    CHECK(log->count == 2 * PING_PONG_ROUNDS, "%zu entries", log->count);
    for (size_t i = 0; i < log->count; i++)
        CHECK(log->entries[i] == i % 2, "entry %zu out of turn", i);
    device.ops->event_destroy(device.ctx, left_done);
    device.ops->event_destroy(device.ctx, right_done);
    /* destroyed while the other may still look at its progress through a wait */
    device.ops->stream_destroy(device.ctx, left);
    device.ops->stream_destroy(device.ctx, right);
    free(log);
}

/* ---- an error raised on a worker thread, read on this one -------------------------- */

static zo_status fail_on_worker(void *arg)
{
    return zo_fail(ZO_ERR_NON_FINITE, "bucket %d has a NaN", *(int *)arg);
}

static void errors_cross_threads(void)
{
    int bucket = 7;
    zo_device_stream *stream = new_stream("failing");
    for (int i = 0; i < 100; i++)
        CHECK_OK(device.ops->launch_host(device.ctx, stream, fail_on_worker, &bucket));
    CHECK(device.ops->stream_synchronize(device.ctx, stream) == ZO_ERR_NON_FINITE, "no error");
    CHECK(strcmp(zo_last_error(), "bucket 7 has a NaN") == 0, "message: %s", zo_last_error());
    CHECK_OK(device.ops->stream_synchronize(device.ctx, stream));
    device.ops->stream_destroy(device.ctx, stream);
}

/* ---- allocations against the device-memory budget from several threads ------------- */

enum { BUDGET_CALLERS = 3, BUDGET_ROUNDS = 2000, BUDGET_SLICE = 64 << 10 };
enum { BUDGET_BYTES = 4 * BUDGET_SLICE }; /* six wanted at once, four fit */

static void *allocate_against_the_budget(void *arg)
{
    (void)arg;
    for (size_t round = 0; round < BUDGET_ROUNDS; round++) {
        void *held[2] = {NULL, NULL};
        for (size_t k = 0; k < 2; k++) {
            zo_status status = device.ops->alloc_device(device.ctx, BUDGET_SLICE, &held[k]);
            CHECK(status == ZO_OK || status == ZO_ERR_OUT_OF_MEMORY, "%s", zo_last_error());
        }
        size_t free_bytes = 0, total_bytes = 0;
        uint64_t high_water = 0;
        CHECK_OK(zo_device_memory_info(&device, &free_bytes, &total_bytes));
        CHECK(total_bytes == BUDGET_BYTES && free_bytes <= total_bytes, "free %zu of %zu",
              free_bytes, total_bytes);
        CHECK_OK(zo_device_memory_high_water(&device, &high_water));
        CHECK(high_water <= BUDGET_BYTES, "high water %llu", (unsigned long long)high_water);
        device.ops->free_device(device.ctx, held[0]);
        device.ops->free_device(device.ctx, held[1]);
    }
    return NULL;
}

static void callers_on_many_threads_share_one_budget(void)
{
    CHECK_OK(zo_device_host_set_budget(&device, BUDGET_BYTES));
    zo_device_host_reset_high_water(&device);
    pthread_t threads[BUDGET_CALLERS];
    for (unsigned t = 0; t < BUDGET_CALLERS; t++)
        CHECK(pthread_create(&threads[t], NULL, allocate_against_the_budget, NULL) == 0,
              "thread %u", t);
    for (unsigned t = 0; t < BUDGET_CALLERS; t++)
        pthread_join(threads[t], NULL);
    CHECK(zo_device_host_in_use(&device) == 0, "%llu bytes still in use",
          (unsigned long long)zo_device_host_in_use(&device));
    CHECK(zo_device_host_high_water(&device) <= BUDGET_BYTES, "the budget was passed");
    CHECK_OK(zo_device_host_set_budget(&device, 0));
}

int main(void)
{
    if (zo_device_host_create(&device) != ZO_OK) {
        fprintf(stderr, "zo_device_host_create: %s\n", zo_last_error());
        return 1;
    }
    pipeline_over_three_streams();
    callers_on_many_threads_share_one_stream();
    ping_pong();
    errors_cross_threads();
    callers_on_many_threads_share_one_budget();
    CHECK_OK(zo_device_host_audit(&device));
    device.ops->destroy(device.ctx);
    if (failures)
        fprintf(stderr, "%d checks failed\n", failures);
    return failures ? 1 : 0;
}
