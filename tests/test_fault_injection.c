/* Failures injected into the host backend and the engine's allocations
 * (engine/fault_injection.h): every failing create returns the error and leaks nothing;
 * every failing step returns an error naming the fault, leaves the master weights as
 * they were, and training goes on afterwards exactly as if that micro-step had never
 * happened (checked against a twin engine that skipped it). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "fault_injection.h"
#include "test_support.h"

/* Criterion ignores what a test process does after its test passed, LeakSanitizer's
 * exit-time report included (and a .fini fixture runs too late to fail it): under ASan
 * each test here runs the check itself at its end, so a leak on an error path fails it. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
static void expect_no_leaks(void)
{
    cr_expect(eq(int, __lsan_do_recoverable_leak_check(), 0),
              "LeakSanitizer found leaks (listed above)");
}
#else
static void expect_no_leaks(void) {}
#endif

static const zo_param_desc model[] = {{"embedding", 700}, {"bias", 33}, {"head", 1500}};
enum { PARAMS = 3, MODEL_ELEMS = 700 + 33 + 1500, MICRO_STEPS = 8 };

/* fp16 with a fixed scale (the window is never reached), 512-element buckets so that
 * parameters straddle them; the host backend, since the tests write gradients. */
#define BASE_CONFIG                                                                                \
    "\"fp16\": {\"enabled\": true, \"initial_scale_power\": 8, \"loss_scale_window\": 1000},"      \
    " \"zero_optimization\": {\"stage\": 2, \"reduce_bucket_size\": 512}, \"gradient_clipping\": " \
    "0"
static const char plain_config[] =
    "{" BASE_CONFIG ", \"zo\": {\"device\": \"host\", \"threads\": 2}}";
static const char delayed_config[] =
    "{" BASE_CONFIG ", \"zo\": {\"device\": \"host\", \"delayed_param_update\": true}}";
static const char accumulating_config[] = "{" BASE_CONFIG ", \"gradient_accumulation_steps\": 2,"
                                          " \"zo\": {\"device\": \"host\"}}";

static zo_status try_create(const char *json, zo_engine **out)
{
    zo_config *config = NULL;
    cr_assert(eq(int, zo_config_from_string(json, &config), ZO_OK), "%s", zo_last_error());
    zo_status status = zo_engine_create(config, model, PARAMS, out);
    zo_config_destroy(&config);
    return status;
}

static zo_engine *create(const char *json)
{
    zo_engine *e = NULL;
    cr_assert(eq(int, try_create(json, &e), ZO_OK), "zo_engine_create: %s", zo_last_error());
    float w[MODEL_ELEMS];
    zo_test_rng rng = {99};
    for (size_t i = 0; i < MODEL_ELEMS; i++)
        w[i] = zo_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t p = 0, offset = 0; p < PARAMS; offset += model[p++].elems)
        cr_assert(eq(int, zo_engine_set_master(e, p, w + offset), ZO_OK), "%s", zo_last_error());
    return e;
}

static void get_master(zo_engine *e, float *w)
{
    for (size_t p = 0, offset = 0; p < PARAMS; offset += model[p++].elems)
        cr_assert(eq(int, zo_engine_get_master(e, p, w + offset), ZO_OK), "get_master: %s",
                  zo_last_error());
}

/* Forward: wait for every parameter's weights. */
static void forward(zo_engine *e)
{
    for (size_t p = 0; p < PARAMS; p++)
        cr_assert(eq(int, zo_engine_wait_params(e, p, NULL), ZO_OK), "%s", zo_last_error());
}

/* Backward of micro-step `micro`: gradients that depend only on it, declared ready
 * last layer first. */
static void backward(zo_engine *e, int micro)
{
    zo_test_rng rng = {1000 + (uint64_t)micro};
    float scale = zo_engine_loss_scale(e);
    for (size_t p = PARAMS; p-- > 0;) {
        uint16_t *grads = zo_engine_grads(e, p);
        for (size_t i = 0; i < model[p].elems; i++)
            grads[i] = zo_f32_to_f16(zo_test_uniform(&rng, -0.5f, 0.5f) * scale);
        cr_assert(eq(int, zo_engine_grad_ready(e, p, NULL), ZO_OK), "%s", zo_last_error());
    }
}

/* One fault during training: `fault` armed (once, after `after` calls) just before the
 * backward of micro-step `armed_at`; the step of micro-step `fails_at` must fail, which
 * loses micro-steps `lost_from`..`fails_at` (its accumulation window so far). */
typedef struct step_fault {
    const char *config;
    zo_fault fault;
    uint64_t after;
    int armed_at, fails_at, lost_from;
} step_fault;

/* 512-element buckets over 2233 elements */
enum { BUCKETS = 5 };

/* Runs MICRO_STEPS micro-steps with the fault; a twin engine runs them without the lost
 * ones. The failing step leaves the master weights at the twin's before the lost
 * micro-steps, and both end with the same master weights, bit for bit. */
static void check_step_fault(step_fault f)
{
    static float faulted_after_failure[MODEL_ELEMS], twin_before[MODEL_ELEMS], faulted[MODEL_ELEMS],
        twin[MODEL_ELEMS];
    zo_engine *e = create(f.config);
    cr_assert(eq(sz, zo_engine_bucket_count(e), BUCKETS));
    for (int micro = 0; micro < MICRO_STEPS; micro++) {
        forward(e);
        if (micro == f.armed_at)
            zo_fault_arm(f.fault, f.after, 1);
        backward(e, micro);
        zo_status status = zo_engine_step(e, NULL);
        if (micro != f.fails_at) {
            cr_assert(eq(int, status, ZO_OK), "micro-step %d: %s", micro, zo_last_error());
            continue;
        }
        cr_assert(eq(int, status, ZO_ERR_DEVICE), "micro-step %d must fail", micro);
        cr_expect(ne(ptr, strstr(zo_last_error(), zo_fault_name(f.fault)), NULL),
                  "the error names the fault: %s", zo_last_error());
        get_master(e, faulted_after_failure);
    }
    cr_assert(eq(u64, zo_fault_injected_count(), 1), "the fault was injected once");
    get_master(e, faulted);
    forward(e); /* the device weights are the rounded masters again */
    bool delayed = f.config == delayed_config; /* the device lags one update there */
    for (size_t p = 0, offset = 0; p < PARAMS && !delayed; offset += model[p++].elems) {
        const uint16_t *device = zo_engine_weights(e, p);
        for (size_t i = 0; i < model[p].elems; i++)
            cr_assert(eq(u16, device[i], zo_f32_to_f16(faulted[offset + i])), "%s[%zu]",
                      model[p].name, i);
    }
    zo_engine_destroy(&e);

    zo_engine *t = create(f.config);
    for (int micro = 0; micro < MICRO_STEPS; micro++) {
        if (micro == f.lost_from)
            get_master(t, twin_before);
        if (micro >= f.lost_from && micro <= f.fails_at)
            continue;
        forward(t);
        backward(t, micro);
        cr_assert(eq(int, zo_engine_step(t, NULL), ZO_OK), "twin, micro-step %d: %s", micro,
                  zo_last_error());
    }
    get_master(t, twin);
    zo_engine_destroy(&t);
    cr_expect(memcmp(faulted_after_failure, twin_before, sizeof twin) == 0,
              "the failing step changed the master weights");
    cr_expect(memcmp(faulted, twin, sizeof twin) == 0,
              "training after the fault differs from the twin's");
    expect_no_leaks();
}

Test(fault_injection, a_failed_gradient_copy_fails_that_step)
{
    check_step_fault((step_fault){plain_config, ZO_FAULT_COPY, 2, 3, 3, 3});
}

/* The copies of micro-step 3 are its BUCKETS gradient copies, then the update's copies
 * up: the first of those fails, and the next step says so. */
Test(fault_injection, a_failed_weight_upload_fails_the_next_step)
{
    check_step_fault((step_fault){plain_config, ZO_FAULT_COPY, BUCKETS, 3, 4, 4});
}

/* Host functions of a micro-step: one per bucket on the copy stream, one per bucket on
 * the worker (stats); then the update's, one per bucket. */
Test(fault_injection, a_failing_stats_job_fails_that_step)
{
    check_step_fault((step_fault){plain_config, ZO_FAULT_HOST_FN, BUCKETS + 1, 2, 2, 2});
}

Test(fault_injection, a_failing_update_job_fails_the_next_step)
{
    check_step_fault((step_fault){plain_config, ZO_FAULT_HOST_FN, 2 * BUCKETS + 1, 2, 3, 3});
}

Test(fault_injection, a_failed_copy_with_delayed_update_fails_that_step)
{
    check_step_fault((step_fault){delayed_config, ZO_FAULT_COPY, 0, 4, 4, 4});
}

/* A micro-step that fails loses the accumulation window it was in: here the failing 3
 * is a window's boundary, and 2, its first micro-step, is lost with it. */
Test(fault_injection, a_failed_copy_loses_its_accumulation_window)
{
    check_step_fault((step_fault){accumulating_config, ZO_FAULT_COPY, 0, 3, 3, 2});
}

/* The failing first micro-step of a window: the next micro-step starts the window again. */
Test(fault_injection, a_failing_first_micro_step_restarts_its_window)
{
    check_step_fault((step_fault){accumulating_config, ZO_FAULT_HOST_FN, 0, 4, 4, 4});
}

/* Fails the Nth allocation of `fault` for N = 1, 2, ... until creation succeeds: each
 * attempt returns ZO_ERR_OUT_OF_MEMORY with `*out` NULL (leaks show under ASan and
 * valgrind). Returns how many creations failed. */
static int fail_each_allocation(const char *json, zo_fault fault, const char *message)
{
    for (int after = 0;; after++) {
        zo_fault_arm(fault, (uint64_t)after, 1);
        zo_engine *e = (zo_engine *)1;
        zo_status status = try_create(json, &e);
        if (status == ZO_OK) {
            zo_fault_disarm_all();
            zo_engine_destroy(&e);
            cr_assert(gt(int, after, 0), "%s: no allocation was refused", zo_fault_name(fault));
            expect_no_leaks();
            return after;
        }
        cr_assert(eq(int, status, ZO_ERR_OUT_OF_MEMORY), "%s #%d: %s", zo_fault_name(fault), after,
                  zo_last_error());
        cr_assert(eq(ptr, e, NULL));
        cr_expect(ne(ptr, strstr(zo_last_error(), message), NULL), "%s #%d: %s",
                  zo_fault_name(fault), after, zo_last_error());
    }
}

/* No fallback to pageable memory: the user asked for page-locked staging (the copy/compute
 * overlap needs it), so creation fails and says how to do without. */
Test(fault_injection, a_refused_pinned_allocation_fails_creation_and_names_pin_memory)
{
    int failed = fail_each_allocation(plain_config, ZO_FAULT_PINNED_ALLOC, "pin_memory false");
    cr_expect(eq(int, failed, 2), "gradient and weight staging");
    failed = fail_each_allocation(delayed_config, ZO_FAULT_PINNED_ALLOC, "pinned memory");
    cr_expect(eq(int, failed, 3), "and the delayed update's second landing buffer");
}

Test(fault_injection, a_refused_device_allocation_fails_creation)
{
    cr_expect(
        eq(int, fail_each_allocation(plain_config, ZO_FAULT_DEVICE_ALLOC, "device memory"), 2));
}

Test(fault_injection, a_refused_host_allocation_fails_creation)
{
    cr_expect(
        eq(int, fail_each_allocation(plain_config, ZO_FAULT_HOST_ALLOC, "bytes of host state"), 3),
        "master weights and two moments");
    cr_expect(
        eq(int,
           fail_each_allocation(accumulating_config, ZO_FAULT_HOST_ALLOC, "bytes of host state"), 4),
        "and the fp32 gradient sum");
}

/* An engine whose every copy and host function fails from some point on is still
 * destroyed without hanging, and (under ASan) without leaking. */
Test(fault_injection, an_engine_failing_everywhere_is_still_destroyable)
{
    zo_engine *e = create(delayed_config);
    forward(e);
    backward(e, 0);
    cr_assert(eq(int, zo_engine_step(e, NULL), ZO_OK));
    zo_fault_arm(ZO_FAULT_COPY, 0, ZO_FAULT_FOREVER);
    zo_fault_arm(ZO_FAULT_HOST_FN, 1, ZO_FAULT_FOREVER);
    for (int micro = 1; micro < 4; micro++) {
        backward(e, micro);
        cr_expect(eq(int, zo_engine_step(e, NULL), ZO_ERR_DEVICE), "micro-step %d", micro);
    }
    backward(e, 4); /* a micro-step in flight */
    zo_engine_destroy(&e);
    cr_expect(eq(ptr, e, NULL));
    expect_no_leaks();
}

Test(fault_injection, zo_fault_settings_are_read_or_refused_by_name)
{
    cr_expect(eq(int, zo_fault_arm_from_string("copy:3,host_fn:0:-1"), ZO_OK), "%s",
              zo_last_error());
    cr_expect(eq(int, zo_fault_arm_from_string("copy:18446744073709551615:9223372036854775807"), ZO_OK),
              "the largest counts: %s", zo_last_error());
    /* strtoull read "-3" as 2^64 - 3 and clamped numbers past 2^64: both were armed silently */
    static const char *const bad[] = {"copy",
                                      "copy:x",
                                      "cpy:1",
                                      "copy:1:0",
                                      "copy:1:2:3",
                                      ",copy:1",
                                      "copy:-3",
                                      "copy:18446744073709551616",
                                      "copy:1:-5",
                                      "copy:1:-1x",
                                      "copy:1:9223372036854775808",
                                      "copy: 1",
                                      "copy:+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect(eq(int, zo_fault_arm_from_string(bad[i]), ZO_ERR_INVALID_ARGUMENT), "%s", bad[i]);
        cr_expect(ne(ptr, strstr(zo_last_error(), "ZO_FAULT"), NULL), "%s: %s", bad[i],
                  zo_last_error());
    }
}
