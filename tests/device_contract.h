/* The backend-contract suite of engine/device.h: the tests of device_contract_*.c are
 * written once and linked into one executable per backend, with a small file
 * (device_contract_host.c, device_contract_cuda.c) that says which backend they run on. */
#ifndef ZO_DEVICE_CONTRACT_H
#define ZO_DEVICE_CONTRACT_H

#include "device_test_support.h"

/* What the suite needs to know of the backend under test. */
typedef struct device_contract_backend {
    const char *name; /* the ops->name the device must report */
    /* Creates the device into *out; where the backend cannot run here (CUDA without a
     * GPU), skips the test with the creator's reason (cr_skip_test) instead. */
    void (*open)(zo_device *out);
    /* Fails the test if anything it made is still alive or a free was refused; NULL
     * where the backend cannot tell (CUDA). */
    void (*expect_nothing_left)(const zo_device *device);
    /* Words of the refusal a host function gets when it synchronizes its own stream, and
     * when it waits for an event recorded after it on that stream: each backend says
     * why in its own terms (the host: a wait that could never end; CUDA: no CUDA call
     * from a host function at all). */
    const char *refusal_to_wait_for_itself;
    const char *refusal_to_wait_for_later_work;
} device_contract_backend;

/* Defined by the backend's file of the executable. */
extern const device_contract_backend backend_under_test;

static inline void open_device(void)
{
    backend_under_test.open(&device);
    cr_assert(eq(str, (char *)device.ops->name, (char *)backend_under_test.name));
}

static inline void close_device(void)
{
    if (device.ops) /* NULL when the test skipped in open_device */
        device.ops->destroy(device.ctx);
}

/* Each test ends with it: an assertion in .fini does not fail a test (Criterion 2.4). */
static inline void expect_nothing_left(void)
{
    if (backend_under_test.expect_nothing_left)
        backend_under_test.expect_nothing_left(&device);
}

/* Every contract test runs on a fresh device of its own (Criterion runs each test in its
 * own process, fixtures included). */
#define DEVICE_CONTRACT_SUITE(suite)                                                               \
    TestSuite(suite, .init = open_device, .fini = close_device, .timeout = 120)

#endif
