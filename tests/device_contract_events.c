/* The device contract for events: record, query, synchronize, waits that keep what was
 * captured, and the order they give work across streams. */
#include "device_contract.h"

DEVICE_CONTRACT_SUITE(device_event);

Test(device_event, an_event_is_incomplete_while_its_work_is_pending_and_complete_after)
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

Test(device_event, a_never_recorded_event_is_complete_and_waiting_for_it_waits_for_nothing)
{
    zo_device_event *event = new_event();
    zo_device_stream *stream = new_stream("waiter");
    cr_expect(query(event), "an event never recorded is complete");
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

Test(device_event, event_synchronize_blocks_until_the_recorded_work_has_run)
{
    gate g = GATE_CLOSED;
    atomic_bool finished = false;
    zo_device_stream *slow = new_stream("slow");
    zo_device_event *event = new_event();
    launch(slow, wait_at_gate, &g);
    launch(slow, raise_flag, &finished);
    record(event, slow);
    pthread_t opener = open_gate_later(&g);
    CHECK(device.ops->event_synchronize(device.ctx, event));
    cr_expect(atomic_load(&finished), "event_synchronize returned before the work had run");
    pthread_join(opener, NULL);
    device.ops->event_destroy(device.ctx, event);
    device.ops->stream_destroy(device.ctx, slow);
    expect_nothing_left();
}

Test(device_event, recording_again_replaces_what_the_event_captured)
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

typedef struct dependent_check {
    atomic_bool *producer_done;
    bool saw_producer_done;
} dependent_check;

static zo_status check_producer_done(void *arg)
{
    dependent_check *check = arg;
    check->saw_producer_done = atomic_load(check->producer_done);
    return ZO_OK;
}

Test(device_event, a_wait_keeps_what_the_event_captured_when_it_was_queued)
{
    gate g = GATE_CLOSED;
    atomic_bool producer_done = false;
    dependent_check check = {&producer_done, false};
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

Test(device_event, a_chain_of_three_streams_runs_in_dependency_order)
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

Test(device_event, two_streams_waiting_on_each_other_alternate_strictly)
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

Test(device_event, events_and_pending_waits_outlive_the_stream_they_refer_to)
{
    gate g = GATE_CLOSED;
    atomic_bool waited = false;
    zo_device_stream *doomed = new_stream("doomed");
    zo_device_stream *waiter = new_stream("waiter");
    zo_device_event *event = new_event();
    launch(doomed, wait_at_gate, &g);
    record(event, doomed);
    wait_event(waiter, event);
    launch(waiter, raise_flag, &waited);
    pthread_t opener = open_gate_later(&g); /* destroy blocks until doomed has drained */
    device.ops->stream_destroy(device.ctx, doomed);
    cr_expect(query(event));
    CHECK(device.ops->event_synchronize(device.ctx, event));
    synchronize(waiter);
    cr_expect(atomic_load(&waited));
    pthread_join(opener, NULL);
    device.ops->event_destroy(device.ctx, event);
    device.ops->stream_destroy(device.ctx, waiter);
    expect_nothing_left();
}
