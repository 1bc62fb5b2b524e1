/* The device contract for memory and copies: zero-filled buffers, absurd sizes, round
 * trips, copies in their stream's order and across streams, arguments refused, and the
 * optional high-water mark where a backend has one. */
#include "device_contract.h"

DEVICE_CONTRACT_SUITE(device_memory);

Test(device_memory, buffers_are_zero_filled_and_64_byte_aligned_even_where_dirty_memory_was_freed)
{
    static const size_t sizes[] = {0, 1, 63, 64, 1000, 1 << 20, 4 << 20};
    enum { LARGEST = 4 << 20 };
    zo_device_stream *stream = new_stream("zeros");
    unsigned char *dirt = new_buffer(LARGEST, false);
    memset(dirt, 0xA5, LARGEST);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t bytes = sizes[k];
        /* dirty device memory, freed: the next allocation likely gets the same bytes back */
        void *dirty = new_buffer(bytes, true);
        copy(dirty, dirt, bytes, stream);
        synchronize(stream);
        device.ops->free_device(device.ctx, dirty);

        unsigned char *on_device = new_buffer(bytes, true), *pinned = new_buffer(bytes, false);
        cr_expect(eq(u64, (uintptr_t)on_device % 64, 0), "device, %zu bytes", bytes);
        cr_expect(eq(u64, (uintptr_t)pinned % 64, 0), "pinned, %zu bytes", bytes);
        cr_expect(ne(ptr, on_device, pinned));
        cr_expect(all_bytes_are(pinned, bytes, 0), "pinned memory of %zu bytes is not zeros",
                  bytes);
        /* read at once on the backend's own stream: the zero fill must already be done */
        copy(pinned, on_device, bytes, stream);
        synchronize(stream);
        cr_expect(all_bytes_are(pinned, bytes, 0), "device memory of %zu bytes is not zeros",
                  bytes);
        device.ops->free_device(device.ctx, on_device);
        device.ops->free_pinned(device.ctx, pinned);
    }
    device.ops->free_device(device.ctx, NULL);
    device.ops->free_pinned(device.ctx, NULL);
    device.ops->free_pinned(device.ctx, dirt);
    device.ops->stream_destroy(device.ctx, stream);
    expect_nothing_left();
}

Test(device_memory, an_absurd_allocation_fails_cleanly_names_its_size_and_harms_nothing)
{
    void *buffer = &buffer;
    cr_expect(
        eq(int, device.ops->alloc_device(device.ctx, SIZE_MAX / 2, &buffer), ZO_ERR_OUT_OF_MEMORY),
        "%s", zo_last_error());
    cr_expect(eq(ptr, buffer, NULL));
    cr_expect(contains(zo_last_error(), "9223372036854775807"), "message: %s", zo_last_error());
    buffer = &buffer;
    /* cudaHostAlloc may call so large a size out of memory or an invalid value */
    cr_expect(ne(int, device.ops->alloc_pinned(device.ctx, SIZE_MAX / 2, &buffer), ZO_OK));
    cr_expect(eq(ptr, buffer, NULL));
    /* and the device still works after it */
    buffer = new_buffer(4096, true);
    device.ops->free_device(device.ctx, buffer);
    expect_nothing_left();
}

Test(device_memory, sixty_four_mebibytes_go_to_the_device_and_back_unchanged)
{
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

Test(device_memory, copies_wait_their_turn_and_a_host_function_after_them_sees_their_bytes)
{
    enum { BYTES = 1 << 20 };
    unsigned char *source = new_buffer(BYTES, false), *landed = new_buffer(BYTES, false);
    unsigned char *probe = new_buffer(BYTES, false);
    void *on_device = new_buffer(BYTES, true);
    fill_pattern(source, BYTES, 3);
    gate g = GATE_CLOSED;
    copy_check check = {landed, source, BYTES, false};
    zo_device_stream *stream = new_stream("ordered"), *prober = new_stream("prober");
    launch(stream, wait_at_gate, &g);
    copy(on_device, source, BYTES, stream);
    copy(landed, on_device, BYTES, stream);
    launch(stream, compare_copy, &check);
    /* both copies are queued behind the gate: the device buffer, read from another
     * stream, and their destination must still be zeros */
    copy(probe, on_device, BYTES, prober);
    synchronize(prober);
    cr_expect(all_bytes_are(probe, BYTES, 0), "copy_async to the device copied before its turn");
    cr_expect(all_bytes_are(landed, BYTES, 0), "copy_async from the device copied before its turn");
    open_gate(&g);
    synchronize(stream);
    cr_expect(check.matched, "the host function ran before the copies ahead of it");
    cr_expect(eq(int, memcmp(landed, source, BYTES), 0));
    device.ops->stream_destroy(device.ctx, stream);
    device.ops->stream_destroy(device.ctx, prober);
    device.ops->free_device(device.ctx, on_device);
    device.ops->free_pinned(device.ctx, source);
    device.ops->free_pinned(device.ctx, landed);
    device.ops->free_pinned(device.ctx, probe);
    expect_nothing_left();
}

Test(device_memory, a_copy_waits_for_a_copy_on_a_slowed_stream_it_depends_on)
{
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
    expect_nothing_left();
}

Test(device_memory, null_arguments_and_overlapping_copies_are_refused)
{
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
    /* overlapping by one byte, and by half: either way forward or backward */
    cr_expect(eq(int, ops->copy_async(device.ctx, pinned, pinned + 1, 8, stream),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "overlap"), "message: %s", zo_last_error());
    cr_expect(eq(int, ops->copy_async(device.ctx, pinned + 10, pinned, 20, stream),
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
    expect_nothing_left();
}

Test(device_memory, the_high_water_mark_where_there_is_one_covers_the_live_buffers_and_never_drops)
{
    uint64_t before = 0, during = 0, after = 0;
    zo_status status = zo_device_memory_high_water(&device, &before);
    if (status == ZO_ERR_NOT_SUPPORTED) { /* optional: a backend may lack it (CUDA, now) */
        cr_expect(contains(zo_last_error(), "memory_high_water"), "message: %s", zo_last_error());
        return;
    }
    CHECK(status);
    void *a = new_buffer(4096, true), *b = new_buffer(8192, true);
    CHECK(zo_device_memory_high_water(&device, &during));
    cr_expect(ge(u64, during, before), "the mark dropped");
    cr_expect(ge(u64, during, 4096 + 8192), "the mark misses the live buffers");
    device.ops->free_device(device.ctx, a);
    device.ops->free_device(device.ctx, b);
    CHECK(zo_device_memory_high_water(&device, &after));
    cr_expect(eq(u64, after, during), "freeing moved the mark");
    expect_nothing_left();
}
