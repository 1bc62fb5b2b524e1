/* Host device streams: FIFO order, asynchrony, draining, errors, threads that cannot start. */
#include <stdio.h>
#include <sys/resource.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "device_host_support.h"

/* ---- one stream: order, asynchrony, draining ----------------------------------- */

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
