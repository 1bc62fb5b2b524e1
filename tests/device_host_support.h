/* What the host device backend's tests add to device_test_support.h: the audited
 * fixture, and a log host functions on several streams append to. */
#ifndef ZO_DEVICE_HOST_SUPPORT_H
#define ZO_DEVICE_HOST_SUPPORT_H

#include "device/host/backend.h"
#include "device_test_support.h"

/* ---- the device every test runs on, audited for leaks at the end --------------- */

static inline void open_device(void)
{
    cr_assert(eq(int, zo_device_host_create(&device), ZO_OK), "%s", zo_last_error());
    cr_assert(eq(str, (char *)device.ops->name, "host"));
}

/* Each test ends with it: an assertion in .fini does not fail a test (Criterion 2.4). */
static inline void expect_nothing_left(void)
{
    zo_status audit = zo_device_host_audit(&device);
    cr_expect(eq(int, audit, ZO_OK), "the test left something behind: %s", zo_last_error());
}

static inline void close_device(void) { device.ops->destroy(device.ctx); }

TestSuite(host_device, .init = open_device, .fini = close_device, .timeout = 120);

/* A log that host functions on several streams append to; the events between them are
 * its only synchronization, so a missing one is also a data race for TSan. */
typedef struct order_log {
    size_t count;
    char entries[4096];
} order_log;

typedef struct log_entry {
    order_log *log;
    char mark;
} log_entry;

static inline zo_status append_mark(void *arg)
{
    log_entry *entry = arg;
    entry->log->entries[entry->log->count++] = entry->mark;
    return ZO_OK;
}

#endif
