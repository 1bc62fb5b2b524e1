/* The device contract for one stream: FIFO order, asynchrony, a destroy that drains,
 * and the errors of host functions carried to synchronize. */
#include "device_contract.h"

DEVICE_CONTRACT_SUITE(device_stream);

Test(device_stream, runs_ten_thousand_host_functions_in_the_order_queued)
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

Test(device_stream, queueing_returns_while_a_host_function_is_still_running)
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

Test(device_stream, destroy_runs_the_queued_work_first)
{
    enum { QUEUED = 1000 };
    static log_entry entries[QUEUED];
    order_log *log = calloc(1, sizeof *log);
    gate g = GATE_CLOSED;
    zo_device_stream *stream = new_stream("draining");
    launch(stream, wait_at_gate, &g);
    for (size_t i = 0; i < QUEUED; i++) {
        entries[i] = (log_entry){log, 'x'};
        launch(stream, append_mark, &entries[i]);
    }
    cr_expect(eq(sz, log->count, 0), "work behind the gate ran before it opened");
    pthread_t opener = open_gate_later(&g); /* destroy blocks until drained */
    device.ops->stream_destroy(device.ctx, stream);
    cr_expect(eq(sz, log->count, QUEUED), "destroy dropped queued work");
    pthread_join(opener, NULL);
    free(log);
    expect_nothing_left();
}

/* ---- errors of host functions ---------------------------------------------------- */

static zo_status fail_with_nan(void *arg)
{
    return zo_fail(ZO_ERR_NON_FINITE, "bucket %d has a NaN", *(int *)arg);
}

static zo_status fail_with_io(void *arg)
{
    (void)arg;
    return zo_fail(ZO_ERR_IO, "a later failure that must not replace the first");
}

Test(device_stream, synchronize_returns_the_first_error_with_its_message_then_is_clean)
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

    atomic_bool ran_after = false;
    launch(stream, raise_flag, &ran_after);
    synchronize(stream);
    cr_expect(atomic_load(&ran_after), "the stream stopped working after an error");
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

Test(device_stream, a_failure_without_a_message_is_reported_with_the_stream_name)
{
    int bucket = 5;
    zo_device_stream *stream = new_stream("quiet one");
    /* an earlier error, reported and cleared, must not lend its words either */
    launch(stream, fail_with_nan, &bucket);
    cr_expect(eq(int, device.ops->stream_synchronize(device.ctx, stream), ZO_ERR_NON_FINITE));
    launch(stream, succeed_with_a_stale_message, NULL);
    launch(stream, fail_silently, NULL);
    cr_expect(eq(int, device.ops->stream_synchronize(device.ctx, stream), ZO_ERR_INTERNAL));
    const char *message = zo_last_error();
    cr_expect(contains(message, "\"quiet one\"") && contains(message, "ZO_ERR_INTERNAL"),
              "message: %s", message);
    cr_expect(not(contains(message, "stale")), "an older message was reported: %s", message);
    cr_expect(not(contains(message, "NaN")), "the cleared error was reported: %s", message);
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

Test(device_stream, a_host_function_waiting_for_its_own_stream_gets_an_error_not_a_deadlock)
{
    gate g = GATE_CLOSED;
    self_sync self = {new_stream("self"), new_event()};
    launch(self.stream, synchronize_own_stream, &self);
    cr_expect(
        eq(int, device.ops->stream_synchronize(device.ctx, self.stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), backend_under_test.refusal_to_wait_for_itself),
              "message: %s", zo_last_error());

    /* an event recorded behind the function on the same stream can never complete first */
    launch(self.stream, wait_at_gate, &g);
    launch(self.stream, wait_for_later_event, &self);
    record(self.event, self.stream);
    open_gate(&g);
    cr_expect(
        eq(int, device.ops->stream_synchronize(device.ctx, self.stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), backend_under_test.refusal_to_wait_for_later_work),
              "message: %s", zo_last_error());

    device.ops->event_destroy(device.ctx, self.event);
    device.ops->stream_destroy(device.ctx, self.stream);
    expect_nothing_left();
}
