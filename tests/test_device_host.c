/* What only the host backend promises beyond the contract suite (device_contract_*.c):
 * host functions that queue work on other streams, bounds-checked copies, exact
 * out-of-memory answers, no loop streams, threads that cannot start, the audit, and the
 * device-memory budget with its high-water mark. */
#include <stdio.h>
#include <sys/resource.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "device/host/backend.h"
#include "device_test_support.h"

static void open_host(void)
{
    cr_assert(eq(int, zo_device_host_create(&device), ZO_OK), "%s", zo_last_error());
}

static void close_host(void) { device.ops->destroy(device.ctx); }

/* Each test ends with it: an assertion in .fini does not fail a test (Criterion 2.4). */
static void expect_nothing_left(void)
{
    zo_status audit = zo_device_host_audit(&device);
    cr_expect(eq(int, audit, ZO_OK), "the test left something behind: %s", zo_last_error());
}

TestSuite(host_device, .init = open_host, .fini = close_host, .timeout = 120);
TestSuite(host_device_budget, .init = open_host, .fini = close_host, .timeout = 120);

typedef struct hand_off {
    zo_device_stream *next_stream;
    atomic_bool *done;
} hand_off;

static zo_status launch_on_next_stream(void *arg)
{
    hand_off *h = arg;
    return device.ops->launch_host(device.ctx, h->next_stream, raise_flag, h->done);
}

/* CUDA forbids it (no CUDA call in a host function); the host backend allows it. */
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

Test(host_device, a_copy_past_the_end_of_a_buffer_is_refused_and_one_exactly_to_the_end_is_not)
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
    CHECK(ops->copy_async(device.ctx, other + 100, small, 100, stream));
    CHECK(ops->copy_async(device.ctx, small + 50, other, 50, stream));
    synchronize(stream);
    ops->stream_destroy(device.ctx, stream);
    ops->free_device(device.ctx, small);
    ops->free_pinned(device.ctx, other);
    expect_nothing_left();
}

/* The contract lets CUDA answer an absurd pinned size as an invalid value; the host
 * backend always says out of memory, and refuses even SIZE_MAX before any allocator. */
Test(host_device, an_absurd_allocation_of_either_kind_is_out_of_memory)
{
    void *buffer = &buffer;
    cr_expect(
        eq(int, device.ops->alloc_pinned(device.ctx, SIZE_MAX / 2, &buffer), ZO_ERR_OUT_OF_MEMORY));
    cr_expect(eq(ptr, buffer, NULL));
    cr_expect(
        eq(int, device.ops->alloc_device(device.ctx, SIZE_MAX, &buffer), ZO_ERR_OUT_OF_MEMORY));
    cr_expect(eq(ptr, buffer, NULL));
    expect_nothing_left();
}

Test(host_device, the_loop_streams_of_cuda_and_a_null_output_are_refused)
{
    zo_device_event *event = new_event();
    int not_a_stream;
    cr_expect(eq(int, device.ops->takes_external_streams, false));
    cr_expect(eq(int, device.ops->event_record_external(device.ctx, event, &not_a_stream),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, device.ops->external_stream_wait_event(device.ctx, &not_a_stream, event),
                 ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_device_host_create(NULL), ZO_ERR_INVALID_ARGUMENT));
    device.ops->event_destroy(device.ctx, event);
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

/* ---- the audit, on devices of the test's own so the fixture's stays clean ---------- */

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

/* ---- the device-memory budget (zo.device_memory_budget) and its high-water mark ----- */

enum { KIB = 1024, BUDGET = 1024 * KIB };

static void *device_buffer(size_t bytes) { return new_buffer(bytes, true); }

static void free_device_buffer(void *buffer) { device.ops->free_device(device.ctx, buffer); }

Test(host_device_budget,
     allocations_within_it_succeed_and_one_past_it_fails_naming_it_and_changes_nothing)
{
    CHECK(zo_device_host_set_budget(&device, BUDGET));
    cr_expect(eq(u64, zo_device_host_budget(&device), BUDGET));
    void *first = device_buffer(768 * KIB), *second = device_buffer(128 * KIB);
    void *refused = &refused;
    cr_expect(
        eq(int, device.ops->alloc_device(device.ctx, 129 * KIB, &refused), ZO_ERR_OUT_OF_MEMORY));
    cr_expect(eq(ptr, refused, NULL));
    const char *message = zo_last_error();
    cr_expect(contains(message, "zo.device_memory_budget") && contains(message, "(132096 bytes)") &&
                  contains(message, "896.00 KiB (917504 bytes) in use") &&
                  contains(message, "1.00 MiB (1048576 bytes)"),
              "message: %s", message);
    cr_expect(eq(u64, zo_device_host_in_use(&device), 896 * KIB),
              "the refusal changed the bytes in use");
    cr_expect(eq(u64, zo_device_host_high_water(&device), 896 * KIB),
              "the refusal moved the high-water mark");
    void *last = device_buffer(128 * KIB); /* exactly up to the budget is within it */
    cr_expect(eq(u64, zo_device_host_in_use(&device), BUDGET));
    cr_expect(eq(int, device.ops->alloc_device(device.ctx, 1, &refused), ZO_ERR_OUT_OF_MEMORY));
    free_device_buffer(first);
    free_device_buffer(second);
    free_device_buffer(last);
    expect_nothing_left();
}

Test(host_device_budget, freeing_makes_room_again_and_pinned_memory_is_not_counted)
{
    CHECK(zo_device_host_set_budget(&device, BUDGET));
    void *pinned = new_buffer(4 * BUDGET, false); /* host memory on a GPU too */
    cr_expect(eq(u64, zo_device_host_in_use(&device), 0));
    void *whole = device_buffer(BUDGET), *refused = NULL;
    cr_expect(eq(int, device.ops->alloc_device(device.ctx, KIB, &refused), ZO_ERR_OUT_OF_MEMORY));
    free_device_buffer(whole);
    cr_expect(eq(u64, zo_device_host_in_use(&device), 0));
    whole = device_buffer(BUDGET);
    free_device_buffer(whole);
    device.ops->free_pinned(device.ctx, pinned);
    expect_nothing_left();
}

Test(host_device_budget, the_high_water_mark_is_exact_over_allocations_and_frees)
{
    uint64_t mark = 1;
    CHECK(zo_device_memory_high_water(&device, &mark));
    cr_expect(eq(u64, mark, 0), "a new device has allocated nothing");
    void *a = device_buffer(100), *b = device_buffer(300); /* 400 */
    free_device_buffer(a);                                 /* 300 */
    void *c = device_buffer(50), *d = device_buffer(1000); /* 1350: the peak */
    free_device_buffer(d);                                 /* 350 */
    void *e = device_buffer(999), *f = device_buffer(0);   /* 1349: just under */
    cr_expect(eq(u64, zo_device_host_in_use(&device), 1349));
    cr_expect(eq(u64, zo_device_host_high_water(&device), 1350));
    CHECK(zo_device_memory_high_water(&device, &mark));
    cr_expect(eq(u64, mark, 1350), "the op and the host's getter disagree");
    zo_device_host_reset_high_water(&device);
    cr_expect(eq(u64, zo_device_host_high_water(&device), 1349),
              "a reset starts from the bytes in use");
    free_device_buffer(b);
    free_device_buffer(c);
    free_device_buffer(e);
    free_device_buffer(f);
    cr_expect(eq(u64, zo_device_host_in_use(&device), 0));
    cr_expect(eq(u64, zo_device_host_high_water(&device), 1349));
    cr_expect(eq(int, device.ops->memory_high_water(device.ctx, NULL), ZO_ERR_INVALID_ARGUMENT));
    expect_nothing_left();
}

Test(host_device_budget,
     memory_info_answers_like_a_gpu_of_the_budget_and_like_the_machine_without_one)
{
    size_t free_bytes = 0, total_bytes = 0;
    CHECK(zo_device_memory_info(&device, &free_bytes, &total_bytes));
    cr_expect(gt(sz, total_bytes, (size_t)BUDGET), "no budget: the machine's RAM");
    cr_expect(le(sz, free_bytes, total_bytes));
    CHECK(zo_device_host_set_budget(&device, BUDGET));
    void *buffer = device_buffer(100 * KIB);
    CHECK(zo_device_memory_info(&device, &free_bytes, &total_bytes));
    cr_expect(eq(sz, total_bytes, (size_t)BUDGET));
    cr_expect(eq(sz, free_bytes, (size_t)BUDGET - 100 * KIB));
    cr_expect(
        eq(int, device.ops->memory_info(device.ctx, NULL, &total_bytes), ZO_ERR_INVALID_ARGUMENT));
    free_device_buffer(buffer);
    expect_nothing_left();
}

Test(host_device_budget, one_below_the_bytes_in_use_is_refused_and_zero_means_none)
{
    void *buffer = device_buffer(2 * BUDGET);
    cr_expect(eq(int, zo_device_host_set_budget(&device, BUDGET), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(contains(zo_last_error(), "already in use"), "message: %s", zo_last_error());
    cr_expect(eq(u64, zo_device_host_budget(&device), 0), "a refused budget was kept");
    CHECK(zo_device_host_set_budget(&device, 2 * BUDGET)); /* exactly what is in use */
    void *refused = NULL;
    cr_expect(eq(int, device.ops->alloc_device(device.ctx, 1, &refused), ZO_ERR_OUT_OF_MEMORY));
    CHECK(zo_device_host_set_budget(&device, 0));
    void *more = device_buffer(4 * BUDGET); /* no budget: only the machine's RAM limits it */
    free_device_buffer(more);
    free_device_buffer(buffer);
    zo_device not_host = {0};
    cr_expect(eq(int, zo_device_host_set_budget(&not_host, BUDGET), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(int, zo_device_host_set_budget(NULL, BUDGET), ZO_ERR_INVALID_ARGUMENT));
    cr_expect(eq(u64, zo_device_host_high_water(NULL), 0));
    cr_expect(eq(u64, zo_device_host_in_use(&not_host), 0));
    expect_nothing_left();
}

/* Two threads, each holding two buffers at a time, against a budget of three: every
 * allocation either fits or is refused, and the mark never passes the budget. */
enum { SLICE = BUDGET / 3, ROUNDS_PER_THREAD = 2000 };

typedef struct budget_traffic {
    size_t granted, refused;
    bool other_failure;
} budget_traffic;

static void *allocate_and_free_in_a_loop(void *arg)
{
    budget_traffic *traffic = arg;
    for (size_t round = 0; round < ROUNDS_PER_THREAD; round++) {
        void *held[2] = {NULL, NULL};
        for (size_t k = 0; k < 2; k++) {
            zo_status status = device.ops->alloc_device(device.ctx, SLICE, &held[k]);
            traffic->granted += status == ZO_OK;
            traffic->refused += status == ZO_ERR_OUT_OF_MEMORY;
            traffic->other_failure |= status != ZO_OK && status != ZO_ERR_OUT_OF_MEMORY;
        }
        device.ops->free_device(device.ctx, held[0]);
        device.ops->free_device(device.ctx, held[1]);
    }
    return NULL;
}

Test(host_device_budget, two_threads_allocating_and_freeing_never_take_it_past_the_budget)
{
    CHECK(zo_device_host_set_budget(&device, BUDGET));
    budget_traffic traffic[2] = {{0}};
    pthread_t threads[2];
    for (size_t t = 0; t < 2; t++)
        cr_assert(eq(
            int, pthread_create(&threads[t], NULL, allocate_and_free_in_a_loop, &traffic[t]), 0));
    for (size_t t = 0; t < 2; t++)
        pthread_join(threads[t], NULL);
    for (size_t t = 0; t < 2; t++) {
        cr_expect(eq(int, traffic[t].other_failure, false));
        cr_expect(eq(sz, traffic[t].granted + traffic[t].refused, 2 * ROUNDS_PER_THREAD));
        /* the other thread holds two at most: a round's first buffer always fits */
        cr_expect(ge(sz, traffic[t].granted, ROUNDS_PER_THREAD));
    }
    cr_expect(le(u64, zo_device_host_high_water(&device), BUDGET));
    /* a second buffer is refused only while the other thread holds two */
    cr_expect(ge(u64, zo_device_host_high_water(&device), 2 * (uint64_t)SLICE));
    cr_expect(eq(u64, zo_device_host_in_use(&device), 0));
    expect_nothing_left();
}
