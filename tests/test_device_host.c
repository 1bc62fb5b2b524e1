/* The host device backend (engine/device_host.c): streams run their work in order and
 * asynchronously, events order work across streams with CUDA's meaning, errors reach
 * the synchronizing thread with their message, and memory is checked and never leaked.
 * Slow or blocked first streams make a missing dependency show as a wrong result. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "device_host.h"
#include "error.h"
#include "zo/zo.h"

/* ---- the device every test runs on, audited for leaks at the end --------------- */

static zo_device device;

static void open_device(void)
{
    cr_assert(eq(int, zo_device_host_create(&device), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(str, (char *)device.ops->name, "host"));
}

/* Each test ends with it: an assertion in .fini does not fail a test (Criterion 2.4). */
static void expect_nothing_left(void)
{
    zo_status audit = zo_device_host_audit(&device);
    cr_expect(eq(int, audit, ZO_OK), "the test left something behind: %s", zo_last_error());
}

static void close_device(void) { device.ops->destroy(device.ctx); }

TestSuite(host_device, .init = open_device, .fini = close_device, .timeout = 120);

static bool contains(const char *text, const char *part) { return strstr(text, part) != NULL; }

#define CHECK(call) cr_assert(eq(int, (call), ZO_OK), "%s: %s", #call, zo_last_error())

static zo_device_stream *new_stream(const char *name)
{
    zo_device_stream *stream = NULL;
    CHECK(device.ops->stream_create(device.ctx, name, &stream));
    return stream;
}

static zo_device_event *new_event(void)
{
    zo_device_event *event = NULL;
    CHECK(device.ops->event_create(device.ctx, &event));
    return event;
}

static void launch(zo_device_stream *stream, zo_host_fn fn, void *arg)
{
    CHECK(device.ops->launch_host(device.ctx, stream, fn, arg));
}

static void record(zo_device_event *event, zo_device_stream *stream)
{
    CHECK(device.ops->event_record(device.ctx, event, stream));
}

static void wait_event(zo_device_stream *stream, zo_device_event *event)
{
    CHECK(device.ops->stream_wait_event(device.ctx, stream, event));
}

static void synchronize(zo_device_stream *stream)
{
    CHECK(device.ops->stream_synchronize(device.ctx, stream));
}

static bool query(zo_device_event *event)
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

static zo_status wait_at_gate(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->opened, &g->lock);
    pthread_mutex_unlock(&g->lock);
    return ZO_OK;
}

static zo_status open_gate(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->opened);
    pthread_mutex_unlock(&g->lock);
    return ZO_OK;
}

static void sleep_ms(long ms)
{
    struct timespec duration = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&duration, &duration) != 0) {
    }
}

/* Sleeps the stream for 50 ms: long enough that work racing it would overtake it. */
static zo_status nap(void *arg)
{
    (void)arg;
    sleep_ms(50);
    return ZO_OK;
}

static zo_status raise_flag(void *arg)
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

static zo_status append_mark(void *arg)
{
    log_entry *entry = arg;
    entry->log->entries[entry->log->count++] = entry->mark;
    return ZO_OK;
}

/* ---- one stream: order, asynchrony, draining ----------------------------------- */

enum { MANY_OPS = 10000 };

typedef struct numbered_op {
    size_t *seen;
    size_t *seen_count;
    size_t number;
} numbered_op;

static zo_status note_number(void *arg)
{
    numbered_op *op = arg;
    op->seen[(*op->seen_count)++] = op->number;
    return ZO_OK;
}

Test(host_device, runs_ten_thousand_host_functions_in_the_order_queued)
{
    static size_t seen[MANY_OPS];
    static numbered_op ops[MANY_OPS];
    size_t seen_count = 0;
    zo_device_stream *stream = new_stream("fifo");
    for (size_t i = 0; i < MANY_OPS; i++) {
        ops[i] = (numbered_op){seen, &seen_count, i};
        launch(stream, note_number, &ops[i]);
    }
    synchronize(stream);
    cr_assert(eq(sz, seen_count, MANY_OPS));
    for (size_t i = 0; i < MANY_OPS; i++)
        cr_assert(eq(sz, seen[i], i), "operation %zu ran as number %zu", seen[i], i);
    device.ops->stream_destroy(device.ctx, stream);
    expect_nothing_left();
}

Test(host_device, enqueue_returns_while_a_host_function_is_still_running)
{
    /* If launch_host waited for the work, it would wait for the gate, which only this
     * thread opens: the test would hang and fail by its timeout. */
    gate g = GATE_CLOSED;
    atomic_bool finished = false;
    zo_device_stream *stream = new_stream("async");
    launch(stream, wait_at_gate, &g);
    launch(stream, raise_flag, &finished);
    cr_expect(not(atomic_load(&finished)), "the function behind the gate ran before it opened");
    open_gate(&g);
    synchronize(stream);
    cr_expect(atomic_load(&finished));
    device.ops->stream_destroy(device.ctx, stream);
    expect_nothing_left();
}

typedef struct copy_check {
    const unsigned char *copied, *expected;
    size_t bytes;
    bool matched;
} copy_check;

static zo_status compare_copy(void *arg)
{
    copy_check *check = arg;
    check->matched = memcmp(check->copied, check->expected, check->bytes) == 0;
    return ZO_OK;
}

Test(host_device, a_host_function_after_a_copy_sees_the_copied_bytes)
{
    enum { BYTES = 1 << 20 };
    unsigned char *pinned = NULL, *on_device = NULL, *back = NULL;
    CHECK(device.ops->alloc_pinned(device.ctx, BYTES, (void **)&pinned));
    CHECK(device.ops->alloc_device(device.ctx, BYTES, (void **)&on_device));
    CHECK(device.ops->alloc_pinned(device.ctx, BYTES, (void **)&back));
    for (size_t i = 0; i < BYTES; i++)
        pinned[i] = (unsigned char)(i * 31 + 7);

    gate g = GATE_CLOSED;
    copy_check check = {on_device, pinned, BYTES, false};
    zo_device_stream *stream = new_stream("h2d");
    launch(stream, wait_at_gate, &g);
    CHECK(device.ops->copy_async(device.ctx, on_device, pinned, BYTES, stream));
    launch(stream, compare_copy, &check);
    CHECK(device.ops->copy_async(device.ctx, back, on_device, BYTES, stream));
    /* the copy is queued behind the gate, so it has certainly not run yet */
    cr_expect(eq(u8, on_device[BYTES - 1], 0), "copy_async copied before its turn");
    open_gate(&g);
    synchronize(stream);
    cr_expect(check.matched, "the host function ran before the copy ahead of it");
    cr_expect(eq(int, memcmp(back, pinned, BYTES), 0));

    device.ops->stream_destroy(device.ctx, stream);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, pinned);
    device.ops->free_pinned(device.ctx, back);
    expect_nothing_left();
}

Test(host_device, destroy_runs_the_queued_work_first)
{
    enum { QUEUED = 1000 };
    static log_entry entries[QUEUED];
    order_log *log = calloc(1, sizeof *log);
    gate g = GATE_CLOSED;
    zo_device_stream *stream = new_stream("draining");
    zo_device_stream *opener = new_stream("opener");
    launch(stream, wait_at_gate, &g);
    for (size_t i = 0; i < QUEUED; i++) {
        entries[i] = (log_entry){log, 'x'};
        launch(stream, append_mark, &entries[i]);
    }
    cr_expect(eq(sz, log->count, 0), "work behind the gate ran before it opened");
    /* destroy blocks until drained, so another stream opens the gate a little later */
    launch(opener, nap, NULL);
    launch(opener, open_gate, &g);
    device.ops->stream_destroy(device.ctx, stream);
    cr_expect(eq(sz, log->count, QUEUED), "destroy dropped queued work");
    device.ops->stream_destroy(device.ctx, opener);
    free(log);
    expect_nothing_left();
}

/* ---- errors ---------------------------------------------------------------------- */

static zo_status fail_with_nan(void *arg)
{
    return zo_fail(ZO_ERR_NON_FINITE, "bucket %d has a NaN", *(int *)arg);
}

static zo_status fail_with_io(void *arg)
{
    (void)arg;
    return zo_fail(ZO_ERR_IO, "a later failure that must not replace the first");
}

Test(host_device, synchronize_returns_the_first_error_with_its_message_then_is_clean)
{
    int bucket = 3;
    atomic_bool later_ran = false;
    zo_device_stream *stream = new_stream("failing");
    launch(stream, nap, NULL);
    launch(stream, fail_with_nan, &bucket);
    launch(stream, fail_with_io, NULL);
    launch(stream, raise_flag, &later_ran);
    zo_fail(ZO_ERR_CONFIG, "an unrelated message on the test's own thread");

    cr_expect(eq(int, device.ops->stream_synchronize(device.ctx, stream), ZO_ERR_NON_FINITE));
    cr_expect(eq(str, (char *)zo_last_error(), "bucket 3 has a NaN"));
    cr_expect(atomic_load(&later_ran), "work queued after a failure must still run");
    cr_expect(eq(int, device.ops->stream_synchronize(device.ctx, stream), ZO_OK),
              "synchronize clears the error it returned: %s", zo_last_error());

    /* and the stream keeps working after it */
    atomic_bool ran_after = false;
    launch(stream, raise_flag, &ran_after);
    synchronize(stream);
    cr_expect(atomic_load(&ran_after));
    device.ops->stream_destroy(device.ctx, stream);
    expect_nothing_left();
}

static zo_status succeed_with_a_stale_message(void *arg)
{
    (void)arg;
    zo_fail(ZO_ERR_IO, "stale words of a failure that was handled");
    return ZO_OK;
}

static zo_status fail_silently(void *arg)
{
    (void)arg;
    return ZO_ERR_INTERNAL;
}

Test(host_device, a_failure_without_a_message_is_reported_with_the_stream_name)
{
    zo_device_stream *stream = new_stream("quiet one");
    launch(stream, succeed_with_a_stale_message, NULL);
    launch(stream, fail_silently, NULL);
    cr_expect(eq(int, device.ops->stream_synchronize(device.ctx, stream), ZO_ERR_INTERNAL));
    const char *message = zo_last_error();
    cr_expect(contains(message, "\"quiet one\"") && contains(message, "ZO_ERR_INTERNAL"),
              "message: %s", message);
    cr_expect(not(contains(message, "stale")), "an older message was reported: %s", message);
    device.ops->stream_destroy(device.ctx, stream);
    expect_nothing_left();
}

typedef struct self_sync {
    zo_device_stream *stream;
    zo_device_event *event;
} self_sync;

static zo_status synchronize_own_stream(void *arg)
{
    return device.ops->stream_synchronize(device.ctx, ((self_sync *)arg)->stream);
}

static zo_status wait_for_later_event(void *arg)
{
    return device.ops->event_synchronize(device.ctx, ((self_sync *)arg)->event);
}

Test(host_device, a_host_function_waiting_for_its_own_stream_gets_an_error_not_a_deadlock)
{
    gate g = GATE_CLOSED;
    self_sync self = {new_stream("self"), new_event()};
    launch(self.stream, synchronize_own_stream, &self);
    cr_expect(
        eq(int, device.ops->stream_synchronize(device.ctx, self.stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "wait for itself"), "message: %s", zo_last_error());

    /* an event recorded behind the function on the same stream can never complete first */
    launch(self.stream, wait_at_gate, &g);
    launch(self.stream, wait_for_later_event, &self);
    record(self.event, self.stream);
    open_gate(&g);
    cr_expect(
        eq(int, device.ops->stream_synchronize(device.ctx, self.stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "never finish"), "message: %s", zo_last_error());

    device.ops->event_destroy(device.ctx, self.event);
    device.ops->stream_destroy(device.ctx, self.stream);
    expect_nothing_left();
}

/* ---- events ---------------------------------------------------------------------- */

Test(host_device, an_event_is_incomplete_while_its_work_is_pending_and_complete_after)
{
    gate g = GATE_CLOSED;
    zo_device_stream *stream = new_stream("queried");
    zo_device_event *event = new_event();
    launch(stream, wait_at_gate, &g);
    record(event, stream);
    cr_expect(not(query(event)), "complete while its work waits at a closed gate");
    open_gate(&g);
    CHECK(device.ops->event_synchronize(device.ctx, event));
    cr_expect(query(event));
    /* work queued after the record does not concern the event */
    gate later = GATE_CLOSED;
    launch(stream, wait_at_gate, &later);
    cr_expect(query(event));
    open_gate(&later);
    synchronize(stream);
    device.ops->event_destroy(device.ctx, event);
    device.ops->stream_destroy(device.ctx, stream);
    expect_nothing_left();
}

Test(host_device, a_never_recorded_event_is_complete_and_waiting_for_it_waits_for_nothing)
{
    zo_device_event *event = new_event();
    zo_device_stream *stream = new_stream("waiter");
    cr_expect(query(event));
    CHECK(device.ops->event_synchronize(device.ctx, event));
    atomic_bool ran = false;
    wait_event(stream, event);
    launch(stream, raise_flag, &ran);
    synchronize(stream);
    cr_expect(atomic_load(&ran));
    device.ops->stream_destroy(device.ctx, stream);
    device.ops->event_destroy(device.ctx, event);
    expect_nothing_left();
}

Test(host_device, event_synchronize_blocks_until_the_recorded_work_has_run)
{
    gate g = GATE_CLOSED;
    atomic_bool finished = false;
    zo_device_stream *slow = new_stream("slow");
    zo_device_stream *opener = new_stream("opener");
    zo_device_event *event = new_event();
    launch(slow, wait_at_gate, &g);
    launch(slow, raise_flag, &finished);
    record(event, slow);
    launch(opener, nap, NULL);
    launch(opener, open_gate, &g);
    CHECK(device.ops->event_synchronize(device.ctx, event));
    cr_expect(atomic_load(&finished), "event_synchronize returned before the work had run");
    device.ops->event_destroy(device.ctx, event);
    device.ops->stream_destroy(device.ctx, slow);
    device.ops->stream_destroy(device.ctx, opener);
    expect_nothing_left();
}

Test(host_device, recording_again_replaces_what_the_event_captured)
{
    gate g = GATE_CLOSED;
    zo_device_stream *blocked = new_stream("blocked");
    zo_device_stream *idle = new_stream("idle");
    zo_device_event *event = new_event();
    launch(blocked, wait_at_gate, &g);
    record(event, blocked);
    cr_expect(not(query(event)));
    record(event, idle);
    cr_expect(query(event), "still reports the first record");
    record(event, blocked);
    cr_expect(not(query(event)), "still reports the second record");
    open_gate(&g);
    CHECK(device.ops->event_synchronize(device.ctx, event));
    cr_expect(query(event));
    device.ops->event_destroy(device.ctx, event);
    device.ops->stream_destroy(device.ctx, blocked);
    device.ops->stream_destroy(device.ctx, idle);
    expect_nothing_left();
}

typedef struct dependent_copy {
    atomic_bool *producer_done;
    bool saw_producer_done;
} dependent_copy;

static zo_status check_producer_done(void *arg)
{
    dependent_copy *check = arg;
    check->saw_producer_done = atomic_load(check->producer_done);
    return ZO_OK;
}

Test(host_device, a_wait_keeps_what_the_event_captured_when_it_was_queued)
{
    gate g = GATE_CLOSED;
    atomic_bool producer_done = false;
    dependent_copy check = {&producer_done, false};
    zo_device_stream *producer = new_stream("producer");
    zo_device_stream *consumer = new_stream("consumer");
    zo_device_stream *idle = new_stream("idle");
    zo_device_event *event = new_event();
    launch(producer, wait_at_gate, &g);
    launch(producer, raise_flag, &producer_done);
    record(event, producer);
    wait_event(consumer, event);
    launch(consumer, check_producer_done, &check);
    /* recorded again on an idle stream: complete now, but the queued wait must not see it */
    record(event, idle);
    cr_expect(query(event));
    sleep_ms(50); /* time for a wrong consumer to run ahead */
    open_gate(&g);
    synchronize(consumer);
    cr_expect(check.saw_producer_done, "the wait followed the event's later record");
    device.ops->event_destroy(device.ctx, event);
    device.ops->stream_destroy(device.ctx, producer);
    device.ops->stream_destroy(device.ctx, consumer);
    device.ops->stream_destroy(device.ctx, idle);
    expect_nothing_left();
}

/* ---- ordering across streams ------------------------------------------------------ */

Test(host_device, a_copy_waits_for_a_copy_on_a_slow_stream_it_depends_on)
{
    /* the pipeline's pattern: one stream fills a buffer, another copies it onward */
    enum { BYTES = 1 << 16 };
    unsigned char *source = NULL, *on_device = NULL, *landed = NULL;
    CHECK(device.ops->alloc_pinned(device.ctx, BYTES, (void **)&source));
    CHECK(device.ops->alloc_device(device.ctx, BYTES, (void **)&on_device));
    CHECK(device.ops->alloc_pinned(device.ctx, BYTES, (void **)&landed));
    memset(source, 0xA5, BYTES);

    zo_device_stream *h2d = new_stream("h2d");
    zo_device_stream *d2h = new_stream("d2h");
    zo_device_event *uploaded = new_event();
    launch(h2d, nap, NULL); /* slowed, so that a d2h copy not waiting would read zeros */
    CHECK(device.ops->copy_async(device.ctx, on_device, source, BYTES, h2d));
    record(uploaded, h2d);
    wait_event(d2h, uploaded);
    CHECK(device.ops->copy_async(device.ctx, landed, on_device, BYTES, d2h));
    synchronize(d2h); /* d2h only: its wait alone must order it after h2d */
    cr_expect(eq(int, memcmp(landed, source, BYTES), 0),
              "the second copy did not wait for the first");

    device.ops->event_destroy(device.ctx, uploaded);
    device.ops->stream_destroy(device.ctx, h2d);
    device.ops->stream_destroy(device.ctx, d2h);
    device.ops->free_pinned(device.ctx, source);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, landed);
    expect_nothing_left();
}

Test(host_device, a_chain_of_three_streams_runs_in_dependency_order)
{
    gate g = GATE_CLOSED;
    order_log log = {0};
    log_entry a = {&log, 'A'}, b = {&log, 'B'}, c = {&log, 'C'};
    zo_device_stream *first = new_stream("A"), *second = new_stream("B"), *third = new_stream("C");
    zo_device_event *first_done = new_event(), *second_done = new_event();
    launch(first, wait_at_gate, &g);
    launch(first, append_mark, &a);
    record(first_done, first);
    /* both waits are queued while the stream they depend on has not finished */
    wait_event(second, first_done);
    launch(second, append_mark, &b);
    record(second_done, second);
    wait_event(third, second_done);
    launch(third, append_mark, &c);
    cr_expect(not(query(second_done)), "B finished while A is blocked");
    sleep_ms(50); /* time for a wrong B or C to run ahead */
    open_gate(&g);
    synchronize(third);
    cr_expect(eq(sz, log.count, 3));
    cr_expect(eq(int, memcmp(log.entries, "ABC", 3), 0), "ran as %.3s", log.entries);

    device.ops->event_destroy(device.ctx, first_done);
    device.ops->event_destroy(device.ctx, second_done);
    device.ops->stream_destroy(device.ctx, first);
    device.ops->stream_destroy(device.ctx, second);
    device.ops->stream_destroy(device.ctx, third);
    expect_nothing_left();
}

Test(host_device, two_streams_waiting_on_each_other_alternate_strictly)
{
    enum { ROUNDS = 1000 };
    order_log *log = calloc(1, sizeof *log);
    log_entry ping = {log, 'a'}, pong = {log, 'b'};
    zo_device_stream *left = new_stream("left"), *right = new_stream("right");
    zo_device_event *left_done = new_event(), *right_done = new_event();
    /* each event is recorded again every round; each wait keeps the round it was queued in */
    for (size_t round = 0; round < ROUNDS; round++) {
        wait_event(left, right_done);
        launch(left, append_mark, &ping);
        record(left_done, left);
        wait_event(right, left_done);
        launch(right, append_mark, &pong);
        record(right_done, right);
    }
    synchronize(right);
    cr_assert(eq(sz, log->count, 2 * ROUNDS));
    for (size_t i = 0; i < 2 * ROUNDS; i++)
        cr_assert(eq(chr, log->entries[i], i % 2 ? 'b' : 'a'), "entry %zu", i);
    device.ops->event_destroy(device.ctx, left_done);
    device.ops->event_destroy(device.ctx, right_done);
    device.ops->stream_destroy(device.ctx, left);
    device.ops->stream_destroy(device.ctx, right);
    free(log);
    expect_nothing_left();
}

typedef struct hand_off {
    zo_device_stream *next_stream;
    atomic_bool *done;
} hand_off;

static zo_status launch_on_next_stream(void *arg)
{
    hand_off *h = arg;
    return device.ops->launch_host(device.ctx, h->next_stream, raise_flag, h->done);
}

Test(host_device, a_host_function_may_queue_work_on_another_stream)
{
    atomic_bool done = false;
    zo_device_stream *copies = new_stream("d2h"), *worker = new_stream("worker");
    hand_off h = {worker, &done};
    launch(copies, launch_on_next_stream, &h);
    synchronize(copies);
    synchronize(worker);
    cr_expect(atomic_load(&done));
    device.ops->stream_destroy(device.ctx, copies);
    device.ops->stream_destroy(device.ctx, worker);
    expect_nothing_left();
}

Test(host_device, events_and_pending_waits_outlive_the_stream_they_refer_to)
{
    gate g = GATE_CLOSED;
    atomic_bool waited = false;
    zo_device_stream *doomed = new_stream("doomed");
    zo_device_stream *waiter = new_stream("waiter");
    zo_device_stream *opener = new_stream("opener");
    zo_device_event *event = new_event();
    launch(doomed, wait_at_gate, &g);
    record(event, doomed);
    wait_event(waiter, event);
    launch(waiter, raise_flag, &waited);
    launch(opener, nap, NULL);
    launch(opener, open_gate, &g);
    device.ops->stream_destroy(device.ctx, doomed);
    cr_expect(query(event));
    CHECK(device.ops->event_synchronize(device.ctx, event));
    synchronize(waiter);
    cr_expect(atomic_load(&waited));
    device.ops->event_destroy(device.ctx, event);
    device.ops->stream_destroy(device.ctx, waiter);
    device.ops->stream_destroy(device.ctx, opener);
    expect_nothing_left();
}

/* ---- memory ----------------------------------------------------------------------- */

Test(host_device, buffers_are_zero_filled_and_64_byte_aligned)
{
    static const size_t sizes[] = {0, 1, 63, 64, 1000, 1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned char *buffers[2] = {NULL, NULL};
        CHECK(device.ops->alloc_device(device.ctx, sizes[k], (void **)&buffers[0]));
        CHECK(device.ops->alloc_pinned(device.ctx, sizes[k], (void **)&buffers[1]));
        for (int kind = 0; kind < 2; kind++) {
            cr_assert(not(eq(ptr, buffers[kind], NULL)), "%zu bytes", sizes[k]);
            cr_expect(eq(u64, (uintptr_t)buffers[kind] % 64, 0), "%zu bytes", sizes[k]);
            for (size_t i = 0; i < sizes[k]; i++)
                cr_assert(eq(u8, buffers[kind][i], 0), "byte %zu of %zu", i, sizes[k]);
        }
        cr_expect(not(eq(ptr, buffers[0], buffers[1])));
        device.ops->free_device(device.ctx, buffers[0]);
        device.ops->free_pinned(device.ctx, buffers[1]);
    }
    device.ops->free_device(device.ctx, NULL);
    device.ops->free_pinned(device.ctx, NULL);
    expect_nothing_left();
}

Test(host_device, an_absurd_allocation_fails_cleanly_and_names_its_size)
{
    void *buffer = &buffer;
    cr_expect(
        eq(int, device.ops->alloc_device(device.ctx, SIZE_MAX / 2, &buffer), ZO_ERR_OUT_OF_MEMORY));
    cr_expect(eq(ptr, buffer, NULL));
    cr_expect(contains(zo_last_error(), "9223372036854775807"), "message: %s", zo_last_error());
    buffer = &buffer;
    cr_expect(
        eq(int, device.ops->alloc_pinned(device.ctx, SIZE_MAX / 2, &buffer), ZO_ERR_OUT_OF_MEMORY));
    cr_expect(eq(ptr, buffer, NULL));
    cr_expect(
        eq(int, device.ops->alloc_device(device.ctx, SIZE_MAX, &buffer), ZO_ERR_OUT_OF_MEMORY));
    expect_nothing_left();
}

Test(host_device, a_copy_out_of_bounds_overlapping_or_from_null_is_refused)
{
    unsigned char *small = NULL, *other = NULL;
    CHECK(device.ops->alloc_device(device.ctx, 100, (void **)&small));
    CHECK(device.ops->alloc_pinned(device.ctx, 200, (void **)&other));
    zo_device_stream *stream = new_stream("checked");
    const zo_device_ops *ops = device.ops;

    cr_expect(
        eq(int, ops->copy_async(device.ctx, small, other, 101, stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "past its end"), "message: %s", zo_last_error());
    cr_expect(eq(int, ops->copy_async(device.ctx, other, small + 50, 51, stream),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->copy_async(device.ctx, other + 10, other, 20, stream),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "overlap"), "message: %s", zo_last_error());
    cr_expect(
        eq(int, ops->copy_async(device.ctx, NULL, other, 1, stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->copy_async(device.ctx, small, other, 1, NULL), ZO_ERR_INVALID_ARGUMENT));
    /* exactly to the end, and nothing at all, are fine */
    CHECK(ops->copy_async(device.ctx, other + 100, small, 100, stream));
    CHECK(ops->copy_async(device.ctx, small + 50, other, 50, stream));
    CHECK(ops->copy_async(device.ctx, NULL, NULL, 0, stream));
    synchronize(stream);

    ops->stream_destroy(device.ctx, stream);
    ops->free_device(device.ctx, small);
    ops->free_pinned(device.ctx, other);
    expect_nothing_left();
}

Test(host_device, null_arguments_are_refused)
{
    const zo_device_ops *ops = device.ops;
    zo_device_stream *stream = new_stream("args");
    zo_device_event *event = new_event();
    cr_expect(eq(int, ops->alloc_device(device.ctx, 8, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->stream_create(device.ctx, "x", NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->launch_host(device.ctx, stream, NULL, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->launch_host(device.ctx, NULL, nap, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->event_record(device.ctx, NULL, stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->event_record(device.ctx, event, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->stream_wait_event(device.ctx, stream, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->event_query(device.ctx, event, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->stream_synchronize(device.ctx, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_device_host_create(NULL), ZO_ERR_INVALID_ARGUMENT));
    ops->stream_destroy(device.ctx, NULL);
    ops->event_destroy(device.ctx, NULL);
    ops->event_destroy(device.ctx, event);
    ops->stream_destroy(device.ctx, stream);
    expect_nothing_left();
}

/* The audit, on devices of the test's own so the fixture's stays clean. */
Test(host_device_audit, catches_double_frees_foreign_pointers_and_the_wrong_free)
{
    zo_device own;
    CHECK(zo_device_host_create(&own));
    void *buffer = NULL;
    CHECK(own.ops->alloc_device(own.ctx, 256, &buffer));
    cr_expect(eq(int, zo_device_host_audit(&own), ZO_ERR_INTERNAL), "a live buffer goes unseen");
    own.ops->free_pinned(own.ctx, buffer); /* the wrong kind: refused, still live */
    own.ops->free_device(own.ctx, buffer);
    own.ops->free_device(own.ctx, buffer); /* twice */
    int foreign;
    own.ops->free_device(own.ctx, &foreign);
    cr_expect(eq(int, zo_device_host_audit(&own), ZO_ERR_INTERNAL));
    cr_expect(contains(zo_last_error(), "0 device buffers") &&
                  contains(zo_last_error(), "3 frees refused"),
              "message: %s", zo_last_error());
    own.ops->destroy(own.ctx);
}

Test(host_device_audit, reports_what_is_left_and_destroy_frees_the_buffers)
{
    zo_device own;
    CHECK(zo_device_host_create(&own));
    void *device_buffer = NULL, *pinned_buffer = NULL;
    zo_device_stream *stream = NULL;
    zo_device_event *event = NULL;
    CHECK(own.ops->alloc_device(own.ctx, 1000, &device_buffer));
    CHECK(own.ops->alloc_pinned(own.ctx, 1000, &pinned_buffer));
    CHECK(own.ops->stream_create(own.ctx, "left over", &stream));
    CHECK(own.ops->event_create(own.ctx, &event));
    cr_expect(eq(int, zo_device_host_audit(&own), ZO_ERR_INTERNAL));
    cr_expect(contains(zo_last_error(), "1 device buffers, 1 pinned buffers, 1 streams, 1 events"),
              "message: %s", zo_last_error());
    own.ops->stream_destroy(own.ctx, stream);
    own.ops->event_destroy(own.ctx, event);
    own.ops->destroy(own.ctx); /* the two buffers too: valgrind sees no leak */

    zo_device not_host = {0};
    cr_expect(eq(int, zo_device_host_audit(&not_host), ZO_ERR_INVALID_ARGUMENT));
}

/* ---- a thread that cannot start --------------------------------------------------- */

static size_t address_space_bytes(void)
{
    FILE *statm = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (statm) {
        if (fscanf(statm, "%lu", &pages) != 1)
            pages = 0;
        fclose(statm);
    }
    return pages * 4096;
}

Test(host_device_threads, a_thread_that_cannot_start_is_a_clean_error)
{
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    cr_skip_test("sanitizers reserve address space of their own: the limit trick cannot work");
#endif
    if (RUNNING_ON_VALGRIND)
        cr_skip_test("valgrind manages the address space itself: the limit trick cannot work");
    size_t used = address_space_bytes();
    if (used == 0)
        cr_skip_test("/proc/self/statm is not readable here");
    zo_device own;
    CHECK(zo_device_host_create(&own));
    /* Room for the stream's small allocations but not for a thread's 8 MiB stack. */
    struct rlimit saved, limited;
    cr_assert(eq(int, getrlimit(RLIMIT_AS, &saved), 0));
    limited = saved;
    limited.rlim_cur = used + (2u << 20);
    if (saved.rlim_max != RLIM_INFINITY && limited.rlim_cur > saved.rlim_max)
        cr_skip_test("the address space limit is already tighter than the test needs");
    cr_assert(eq(int, setrlimit(RLIMIT_AS, &limited), 0));
    zo_device_stream *stream = (zo_device_stream *)&stream;
    zo_status status = own.ops->stream_create(own.ctx, "starved", &stream);
    setrlimit(RLIMIT_AS, &saved);
    if (status == ZO_OK) {
        /* glibc reuses the stack of a thread that has exited: nothing failed to test */
        own.ops->stream_destroy(own.ctx, stream);
        own.ops->destroy(own.ctx);
        cr_skip_test("the thread started within the limit (a cached stack): nothing to test");
    }

    cr_expect(eq(int, status, ZO_ERR_DEVICE), "%s", zo_last_error());
    cr_expect(eq(ptr, stream, NULL));
    cr_expect(contains(zo_last_error(), "\"starved\""), "message: %s", zo_last_error());
    cr_expect(eq(int, zo_device_host_audit(&own), ZO_OK), "a failed create left something: %s",
              zo_last_error());
    own.ops->destroy(own.ctx);
}
