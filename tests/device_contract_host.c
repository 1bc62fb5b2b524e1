/* The contract suite run on the host backend, each test audited for leaks at its end. */
#include "device/host/backend.h"
#include "device_contract.h"

static void open_host(zo_device *out)
{
    cr_assert(eq(int, zo_device_host_create(out), ZO_OK), "%s", zo_last_error());
}

static void audit_host(const zo_device *device)
{
    zo_status audit = zo_device_host_audit(device);
    cr_expect(eq(int, audit, ZO_OK), "the test left something behind: %s", zo_last_error());
}

const device_contract_backend backend_under_test = {
    .name = "host",
    .open = open_host,
    .expect_nothing_left = audit_host,
    .refusal_to_wait_for_itself = "wait for itself",
    .refusal_to_wait_for_later_work = "never finish",
};
