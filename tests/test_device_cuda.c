/* The CUDA device backend (engine/device_cuda.c). Without a GPU (or without CUDA in the
 * build) creating it must fail cleanly and say why, and every other test skips with that
 * reason. With a GPU: the contract of device.h as the host backend's tests check it,
 * with slowed producers so that a missing dependency shows as wrong data. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef ZO_TEST_WITH_CUDA
#include <cuda_runtime.h>
#endif

#include "device/cuda/backend.h"
#include "device_test_support.h"

/* ---- creation: the tests that always run ------------------------------------------ */

Test(cuda_device_create, gives_a_gpu_or_fails_with_the_reason_and_no_device)
{
    zo_device out = {(const zo_device_ops *)&out, &out}; /* garbage that must not survive */
    zo_status status = zo_device_cuda_create(0, &out);
    if (status == ZO_OK) {
        cr_expect(eq(str, (char *)out.ops->name, "cuda"));
        cr_expect(out.ops->takes_external_streams, "the loop's cudaStream_t must be accepted");
        size_t free_bytes = 0, total_bytes = 0;
        CHECK(zo_device_cuda_memory(&out, &free_bytes, &total_bytes));
        cr_expect(gt(sz, total_bytes, 0));
        cr_expect(le(sz, free_bytes, total_bytes));
        out.ops->destroy(out.ctx);
        return;
    }
    const char *message = zo_last_error();
    if (zo_cuda_built()) {
        cr_expect(eq(int, status, ZO_ERR_DEVICE), "%s", message);
        cr_expect(contains(message, "no usable CUDA device: "), "message: %s", message);
    } else {
        cr_expect(eq(int, status, ZO_ERR_NOT_SUPPORTED), "%s", message);
        cr_expect(contains(message, "built without CUDA"), "message: %s", message);
    }
    cr_expect(eq(ptr, (void *)out.ops, NULL), "a failed create left ops behind");
    cr_expect(eq(ptr, out.ctx, NULL), "a failed create left a context behind");
}

Test(cuda_device_create, refuses_bad_arguments_with_or_without_a_gpu)
{
    /* in a build without CUDA every call says so first */
    zo_status refused = zo_cuda_built() ? ZO_ERR_INVALID_ARGUMENT : ZO_ERR_NOT_SUPPORTED;
    zo_device out = {0};
    cr_expect(eq(int, zo_device_cuda_create(0, NULL), refused));
    cr_expect(eq(int, zo_device_cuda_create(-1, &out), refused));
    cr_expect(eq(ptr, (void *)out.ops, NULL));

    zo_status status = zo_device_cuda_create(1000, &out);
    cr_expect(eq(ptr, (void *)out.ops, NULL));
    if (zo_cuda_built()) {
        /* without a GPU, that there is none comes first */
        int count = 0;
        zo_status expected =
            zo_cuda_device_count(&count) == ZO_OK ? ZO_ERR_INVALID_ARGUMENT : ZO_ERR_DEVICE;
        cr_expect(eq(int, status, expected), "%s", zo_last_error());
    }

    zo_device host;
    CHECK(zo_device_host_create(&host));
    size_t free_bytes = 1, total_bytes = 1;
    cr_expect(eq(int, zo_device_cuda_memory(&host, &free_bytes, &total_bytes), refused));
    cr_expect(eq(sz, free_bytes, 0));
    cr_expect(eq(sz, total_bytes, 0));
    cr_expect(eq(int, zo_device_cuda_memory(NULL, &free_bytes, &total_bytes), refused));
    host.ops->destroy(host.ctx);
}

/* ---- the device the GPU tests run on -------------------------------------------- */

/* Every GPU test starts with it: without one, the test skips with the reason. */
static void open_gpu(void)
{
    if (zo_device_cuda_create(0, &device) != ZO_OK)
        cr_skip_test("%s", zo_last_error());
}

static void close_gpu(void)
{
    if (device.ops)
        device.ops->destroy(device.ctx);
}

TestSuite(cuda_device, .fini = close_gpu, .timeout = 120);

static void *new_buffer(size_t bytes, bool on_device)
{
    void *buffer = NULL;
    if (on_device)
        CHECK(device.ops->alloc_device(device.ctx, bytes, &buffer));
    else
        CHECK(device.ops->alloc_pinned(device.ctx, bytes, &buffer));
    cr_assert(ne(ptr, buffer, NULL));
    return buffer;
}

static void copy(void *dst, const void *src, size_t bytes, zo_device_stream *stream)
{
    CHECK(device.ops->copy_async(device.ctx, dst, src, bytes, stream));
}

static bool all_bytes_are(const unsigned char *buffer, size_t bytes, unsigned char value)
{
    for (size_t i = 0; i < bytes; i++)
        if (buffer[i] != value)
            return false;
    return true;
}

static void fill_pattern(unsigned char *buffer, size_t bytes, unsigned seed)
{
    for (size_t i = 0; i < bytes; i++)
        buffer[i] = (unsigned char)(i * 31 + seed);
}

/* ---- memory ---------------------------------------------------------------------- */

Test(cuda_device, device_and_pinned_buffers_come_zero_filled)
{
    open_gpu();
    enum { BYTES = 4 << 20 };
    zo_device_stream *stream = new_stream("zeros");
    unsigned char *pinned = new_buffer(BYTES, false);
    cr_expect(all_bytes_are(pinned, BYTES, 0), "pinned memory is not zero-filled");

    /* dirty device memory, freed: the next allocation likely gets the same bytes back */
    memset(pinned, 0xA5, BYTES);
    void *dirty = new_buffer(BYTES, true);
    copy(dirty, pinned, BYTES, stream);
    synchronize(stream);
    device.ops->free_device(device.ctx, dirty);

    /* read at once on a non-blocking stream: the zero fill must already be done */
    void *on_device = new_buffer(BYTES, true);
    copy(pinned, on_device, BYTES, stream);
    synchronize(stream);
    cr_expect(all_bytes_are(pinned, BYTES, 0), "device memory is not zero-filled");

    void *empty_device = new_buffer(0, true), *empty_pinned = new_buffer(0, false);
    device.ops->free_device(device.ctx, empty_device);
    device.ops->free_pinned(device.ctx, empty_pinned);
    device.ops->free_device(device.ctx, NULL);
    device.ops->free_pinned(device.ctx, NULL);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, pinned);
    device.ops->stream_destroy(device.ctx, stream);
}

Test(cuda_device, sixty_four_mebibytes_go_to_the_gpu_and_back_unchanged)
{
    open_gpu();
    const size_t bytes = (size_t)64 << 20;
    unsigned char *source = new_buffer(bytes, false), *back = new_buffer(bytes, false);
    void *on_device = new_buffer(bytes, true);
    fill_pattern(source, bytes, 7);
    zo_device_stream *stream = new_stream("round trip");
    copy(on_device, source, bytes, stream);
    copy(back, on_device, bytes, stream);
    synchronize(stream);
    cr_expect(eq(int, memcmp(back, source, bytes), 0), "the round trip changed the data");
    device.ops->stream_destroy(device.ctx, stream);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, source);
    device.ops->free_pinned(device.ctx, back);
}

Test(cuda_device, an_absurd_allocation_fails_cleanly_and_names_its_size)
{
    open_gpu();
    void *buffer = &buffer;
    cr_expect(
        eq(int, device.ops->alloc_device(device.ctx, SIZE_MAX / 2, &buffer), ZO_ERR_OUT_OF_MEMORY),
        "%s", zo_last_error());
    cr_expect(eq(ptr, buffer, NULL));
    cr_expect(contains(zo_last_error(), "9223372036854775807"), "message: %s", zo_last_error());
    buffer = &buffer;
    /* cudaHostAlloc may call so large a size out of memory or an invalid value */
    zo_status status = device.ops->alloc_pinned(device.ctx, SIZE_MAX / 2, &buffer);
    cr_expect(ne(int, status, ZO_OK));
    cr_expect(eq(ptr, buffer, NULL));
    /* and the GPU still works after it */
    buffer = new_buffer(4096, true);
    device.ops->free_device(device.ctx, buffer);
}

/* ---- one stream: order ----------------------------------------------------------- */

Test(cuda_device, runs_ten_thousand_host_functions_in_the_order_queued)
{
    open_gpu();
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

Test(cuda_device, a_host_function_after_a_copy_sees_the_copied_bytes)
{
    open_gpu();
    enum { BYTES = 1 << 20 };
    unsigned char *source = new_buffer(BYTES, false), *landed = new_buffer(BYTES, false);
    void *on_device = new_buffer(BYTES, true);
    fill_pattern(source, BYTES, 3);
    copy_check check = {landed, source, BYTES, false};
    zo_device_stream *stream = new_stream("ordered");
    launch(stream, nap, NULL);
    copy(on_device, source, BYTES, stream);
    copy(landed, on_device, BYTES, stream);
    launch(stream, compare_copy, &check);
    synchronize(stream);
    cr_expect(check.matched, "the host function ran before the copies ahead of it");
    device.ops->stream_destroy(device.ctx, stream);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, source);
    device.ops->free_pinned(device.ctx, landed);
}

/* ---- events ---------------------------------------------------------------------- */

Test(cuda_device, an_event_is_incomplete_while_its_work_is_pending_and_complete_after)
{
    open_gpu();
    gate g = GATE_CLOSED;
    zo_device_stream *stream = new_stream("queried");
    zo_device_event *event = new_event(), *never_recorded = new_event();
    cr_expect(query(never_recorded), "an event never recorded is complete");
    launch(stream, wait_at_gate, &g);
    record(event, stream);
    bool complete_while_blocked = query(event);
    open_gate(&g);
    cr_expect(not(complete_while_blocked), "complete while its work waits at a closed gate");
    CHECK(device.ops->event_synchronize(device.ctx, event));
    cr_expect(query(event));
    CHECK(device.ops->event_synchronize(device.ctx, never_recorded));
    device.ops->event_destroy(device.ctx, event);
    device.ops->event_destroy(device.ctx, never_recorded);
    device.ops->stream_destroy(device.ctx, stream);
}

Test(cuda_device, a_copy_waits_for_a_copy_on_a_slowed_stream_it_depends_on)
{
    open_gpu();
    /* the pipeline's pattern: one stream fills a buffer, another copies it onward */
    enum { BYTES = 16 << 20 };
    unsigned char *source = new_buffer(BYTES, false), *landed = new_buffer(BYTES, false);
    void *on_device = new_buffer(BYTES, true);
    fill_pattern(source, BYTES, 11);
    zo_device_stream *h2d = new_stream("h2d"), *d2h = new_stream("d2h");
    zo_device_event *uploaded = new_event();
    launch(h2d, nap, NULL); /* slowed, so that a d2h copy not waiting would read zeros */
    copy(on_device, source, BYTES, h2d);
    record(uploaded, h2d);
    wait_event(d2h, uploaded);
    copy(landed, on_device, BYTES, d2h);
    synchronize(d2h); /* d2h only: its wait alone must order it after h2d */
    cr_expect(eq(int, memcmp(landed, source, BYTES), 0),
              "the second copy did not wait for the first");
    device.ops->event_destroy(device.ctx, uploaded);
    device.ops->stream_destroy(device.ctx, h2d);
    device.ops->stream_destroy(device.ctx, d2h);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, source);
    device.ops->free_pinned(device.ctx, landed);
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

Test(cuda_device, synchronize_returns_a_host_function_error_with_its_message_then_is_clean)
{
    open_gpu();
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

    /* a failure without a message is named with the stream, not with older words */
    launch(stream, succeed_with_a_stale_message, NULL);
    launch(stream, fail_silently, NULL);
    cr_expect(eq(int, device.ops->stream_synchronize(device.ctx, stream), ZO_ERR_INTERNAL));
    const char *message = zo_last_error();
    cr_expect(contains(message, "\"failing\"") && contains(message, "ZO_ERR_INTERNAL"),
              "message: %s", message);
    cr_expect(not(contains(message, "stale")), "an older message was reported: %s", message);

    atomic_bool ran_after = false;
    launch(stream, raise_flag, &ran_after);
    synchronize(stream);
    cr_expect(atomic_load(&ran_after), "the stream stopped working after an error");
    device.ops->stream_destroy(device.ctx, stream);
}

static zo_status synchronize_own_stream(void *arg)
{
    return device.ops->stream_synchronize(device.ctx, arg);
}

Test(cuda_device, a_host_function_calling_the_backend_gets_an_error_not_a_deadlock)
{
    open_gpu();
    zo_device_stream *stream = new_stream("self");
    launch(stream, synchronize_own_stream, stream);
    cr_expect(eq(int, device.ops->stream_synchronize(device.ctx, stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "CUDA forbids"), "message: %s", zo_last_error());
    device.ops->stream_destroy(device.ctx, stream);
}

/* ---- the training loop's own stream --------------------------------------------- */

#ifdef ZO_TEST_WITH_CUDA
/* A host function queued on the loop's stream directly, as a loop's slow kernel. */
static void CUDART_CB loop_nap(void *arg)
{
    (void)arg;
    sleep_ms(50);
}
#endif

Test(cuda_device, events_order_work_between_the_loop_stream_and_the_engine_streams)
{
    open_gpu();
#ifdef ZO_TEST_WITH_CUDA
    enum { BYTES = 16 << 20 };
    unsigned char *gradients = new_buffer(BYTES, false), *weights = new_buffer(BYTES, false);
    unsigned char *landed = new_buffer(BYTES, false);
    void *on_device = new_buffer(BYTES, true);
    fill_pattern(gradients, BYTES, 5);
    fill_pattern(weights, BYTES, 9);
    cudaStream_t loop_stream;
    cr_assert(eq(int, cudaStreamCreateWithFlags(&loop_stream, cudaStreamNonBlocking), cudaSuccess));
    zo_device_stream *d2h = new_stream("d2h"), *h2d = new_stream("h2d");
    zo_device_event *written = new_event(), *uploaded = new_event();

    /* backward on the loop's stream (slowed) writes; the engine copies it down after */
    cr_assert(eq(int, cudaLaunchHostFunc(loop_stream, loop_nap, NULL), cudaSuccess));
    cr_assert(eq(int, cudaMemcpyAsync(on_device, gradients, BYTES, cudaMemcpyDefault, loop_stream),
                 cudaSuccess));
    CHECK(device.ops->event_record_external(device.ctx, written, loop_stream));
    wait_event(d2h, written);
    copy(landed, on_device, BYTES, d2h);
    synchronize(d2h);
    cr_expect(eq(int, memcmp(landed, gradients, BYTES), 0),
              "the engine's copy did not wait for the loop's stream");

    /* the engine uploads weights (slowed); the loop's next forward reads them after */
    launch(h2d, nap, NULL);
    copy(on_device, weights, BYTES, h2d);
    record(uploaded, h2d);
    CHECK(device.ops->external_stream_wait_event(device.ctx, loop_stream, uploaded));
    cr_assert(eq(int, cudaMemcpyAsync(landed, on_device, BYTES, cudaMemcpyDefault, loop_stream),
                 cudaSuccess));
    cr_assert(eq(int, cudaStreamSynchronize(loop_stream), cudaSuccess));
    cr_expect(eq(int, memcmp(landed, weights, BYTES), 0),
              "the loop's stream did not wait for the engine's upload");

    /* the legacy default stream, named explicitly, is a stream like any other */
    CHECK(device.ops->event_record_external(device.ctx, written, (void *)cudaStreamLegacy));
    CHECK(device.ops->event_synchronize(device.ctx, written));

    cudaStreamDestroy(loop_stream);
    device.ops->event_destroy(device.ctx, written);
    device.ops->event_destroy(device.ctx, uploaded);
    device.ops->stream_destroy(device.ctx, d2h);
    device.ops->stream_destroy(device.ctx, h2d);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, gradients);
    device.ops->free_pinned(device.ctx, weights);
    device.ops->free_pinned(device.ctx, landed);
#else
    cr_skip_test("the test was built without CUDA's headers");
#endif
}

Test(cuda_device, a_null_loop_stream_is_refused_asking_for_the_loop_stream)
{
    open_gpu();
    zo_device_event *event = new_event();
    cr_expect(eq(int, device.ops->event_record_external(device.ctx, event, NULL),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "cudaStream_t"), "message: %s", zo_last_error());
    cr_expect(eq(int, device.ops->external_stream_wait_event(device.ctx, NULL, event),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "cudaStream_t"), "message: %s", zo_last_error());
    device.ops->event_destroy(device.ctx, event);
}

/* ---- arguments ------------------------------------------------------------------- */

Test(cuda_device, null_arguments_and_bad_copies_are_refused)
{
    open_gpu();
    const zo_device_ops *ops = device.ops;
    zo_device_stream *stream = new_stream("args");
    zo_device_event *event = new_event();
    unsigned char *pinned = new_buffer(256, false);
    cr_expect(eq(int, ops->alloc_device(device.ctx, 8, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->alloc_pinned(device.ctx, 8, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->stream_create(device.ctx, "x", NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->event_create(device.ctx, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->launch_host(device.ctx, stream, NULL, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->launch_host(device.ctx, NULL, nap, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->event_record(device.ctx, NULL, stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->event_record(device.ctx, event, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->stream_wait_event(device.ctx, stream, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->event_query(device.ctx, event, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->event_synchronize(device.ctx, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->stream_synchronize(device.ctx, NULL), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->copy_async(device.ctx, pinned, pinned + 1, 8, stream),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "overlap"), "message: %s", zo_last_error());
    cr_expect(
        eq(int, ops->copy_async(device.ctx, NULL, pinned, 1, stream), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, ops->copy_async(device.ctx, pinned, pinned + 128, 1, NULL),
                 ZO_ERR_INVALID_ARGUMENT));
    CHECK(ops->copy_async(device.ctx, NULL, NULL, 0, stream)); /* nothing at all is fine */
    synchronize(stream);
    ops->stream_destroy(device.ctx, NULL);
    ops->event_destroy(device.ctx, NULL);
    ops->event_destroy(device.ctx, event);
    ops->stream_destroy(device.ctx, stream);
    ops->free_pinned(device.ctx, pinned);
}
