/* Host device memory: allocations, frees, copies' argument checks, and the leak audit. */
#include "device_host_support.h"

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
