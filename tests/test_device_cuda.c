/* What only the CUDA backend (engine/device/cuda) promises beyond the contract suite
 * (device_contract_*.c, which test_device_contract_cuda runs on the GPU): creation that
 * fails cleanly and says why without a GPU (or without CUDA in the build), and the
 * training loop's own cudaStream_t ordered against the engine's streams. Without a GPU
 * the GPU tests skip with the creator's reason. */
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

/* Without a GPU, each GPU test skips with the reason (a skip in .init skips the test). */
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

TestSuite(cuda_device, .init = open_gpu, .fini = close_gpu, .timeout = 120);

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
    zo_device_event *event = new_event();
    cr_expect(eq(int, device.ops->event_record_external(device.ctx, event, NULL),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "cudaStream_t"), "message: %s", zo_last_error());
    cr_expect(eq(int, device.ops->external_stream_wait_event(device.ctx, NULL, event),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "cudaStream_t"), "message: %s", zo_last_error());
    device.ops->event_destroy(device.ctx, event);
}
