/* Fault injection for tests (fault_injection.h): per fault, a call counter and the
 * window of calls that fail, all atomics, so any thread may consult them. */
#include "fault_injection.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/byte_size.h"
#include "error.h"

typedef struct zo_fault_state {
    atomic_bool armed;
    atomic_uint_fast64_t calls;   /* consultations since armed */
    atomic_uint_fast64_t after;   /* calls that still succeed  */
    atomic_int_fast64_t failures; /* calls that fail after them, or ZO_FAULT_FOREVER */
} zo_fault_state;

static zo_fault_state zo_faults[ZO_FAULT_COUNT];
static atomic_uint_fast64_t zo_faults_injected;
static pthread_once_t zo_fault_environment_once = PTHREAD_ONCE_INIT;

static const char *const zo_fault_names[ZO_FAULT_COUNT] = {
    [ZO_FAULT_PINNED_ALLOC] = "pinned_alloc", [ZO_FAULT_DEVICE_ALLOC] = "device_alloc",
    [ZO_FAULT_HOST_ALLOC] = "host_alloc",     [ZO_FAULT_COPY] = "copy",
    [ZO_FAULT_HOST_FN] = "host_fn",           [ZO_FAULT_NVME_READ] = "nvme_read",
    [ZO_FAULT_NVME_SHORT_READ] = "nvme_short_read", [ZO_FAULT_NVME_WRITE] = "nvme_write",
    [ZO_FAULT_NVME_NO_DIRECT] = "nvme_no_direct", [ZO_FAULT_NVME_NO_SPACE] = "nvme_no_space",
    [ZO_FAULT_NVME_RING] = "nvme_ring",       [ZO_FAULT_NVME_REGISTER] = "nvme_register",
};

const char *zo_fault_name(zo_fault fault)
{
    return (unsigned)fault < ZO_FAULT_COUNT ? zo_fault_names[fault] : "unknown fault";
}

static zo_status zo_fault_arm_parsed(const char *spec);
static void zo_fault_set(zo_fault fault, uint64_t after_calls, int64_t failures);

/* A program run with ZO_FAULT set asked for faults: a setting it cannot read is said
 * on stderr (the one place zo prints unasked), since failing nothing would pass silently. */
static void zo_fault_read_environment(void)
{
    const char *spec = getenv("ZO_FAULT");
    if (spec && *spec && zo_fault_arm_parsed(spec) != ZO_OK)
        fprintf(stderr, "zo: %s\n", zo_last_error());
}

/* Every arm, disarm and hit reads ZO_FAULT first, so the environment never overrides
 * what a test armed after it. */
static void zo_fault_read_environment_once(void)
{
    pthread_once(&zo_fault_environment_once, zo_fault_read_environment);
}

static void zo_fault_set(zo_fault fault, uint64_t after_calls, int64_t failures)
{
    zo_fault_state *state = &zo_faults[fault];
    atomic_store(&state->armed, false);
    atomic_store(&state->calls, 0);
    atomic_store(&state->after, after_calls);
    atomic_store(&state->failures, failures);
    atomic_store(&state->armed, true);
}

void zo_fault_arm(zo_fault fault, uint64_t after_calls, int64_t failures)
{
    if ((unsigned)fault >= ZO_FAULT_COUNT)
        return;
    zo_fault_read_environment_once();
    zo_fault_set(fault, after_calls, failures);
}

void zo_fault_disarm_all(void)
{
    zo_fault_read_environment_once();
    for (int fault = 0; fault < ZO_FAULT_COUNT; fault++)
        atomic_store(&zo_faults[fault].armed, false);
}

static zo_status zo_fault_arm_parsed(const char *spec)
{
    struct zo_fault_setting {
        zo_fault fault;
        uint64_t after;
        int64_t failures;
    } parsed[ZO_FAULT_COUNT];
    size_t count = 0;
    for (const char *part = spec; part && *part;) {
        size_t length = strcspn(part, ":,");
        int fault = 0;
        while (fault < ZO_FAULT_COUNT && !(strlen(zo_fault_names[fault]) == length &&
                                           strncmp(part, zo_fault_names[fault], length) == 0))
            fault++;
        const char *end = part + length;
        uint64_t after = 0, failures_read = 1;
        int64_t failures = 1;
        if (fault == ZO_FAULT_COUNT || *end != ':' || count == ZO_FAULT_COUNT)
            goto bad;
        /* strictly digits: strtoull would take "-3" as 2^64 - 3 and clamp past 2^64 */
        if (!zo_parse_decimal(end + 1, &end, &after))
            goto bad;
        if (*end == ':') {
            if (strncmp(end + 1, "-1", 2) == 0)
                end += 3, failures = ZO_FAULT_FOREVER;
            else if (!zo_parse_decimal(end + 1, &end, &failures_read) || failures_read == 0 ||
                     failures_read > INT64_MAX)
                goto bad;
            else
                failures = (int64_t)failures_read;
        }
        if (*end != '\0' && *end != ',')
            goto bad;
        parsed[count++] = (struct zo_fault_setting){(zo_fault)fault, after, failures};
        part = *end ? end + 1 : end;
        continue;
    bad:
        return zo_fail(
            ZO_ERR_INVALID_ARGUMENT,
            "ZO_FAULT: cannot read \"%.*s\": want name:after[:failures] with name one of "
            "pinned_alloc, device_alloc, host_alloc, copy, host_fn, after a whole number below 2^64 "
            "and failures one from 1 to 2^63 - 1, or -1 for every call",
            (int)strcspn(part, ","), part);
    }
    for (size_t i = 0; i < count; i++)
        zo_fault_set(parsed[i].fault, parsed[i].after, parsed[i].failures);
    return ZO_OK;
}

zo_status zo_fault_arm_from_string(const char *spec)
{
    zo_fault_read_environment_once();
    return zo_fault_arm_parsed(spec);
}

bool zo_fault_hit(zo_fault fault)
{
    zo_fault_read_environment_once();
    zo_fault_state *state = &zo_faults[fault];
    if (!atomic_load_explicit(&state->armed, memory_order_relaxed))
        return false;
    uint64_t call = atomic_fetch_add(&state->calls, 1);
    uint64_t after = atomic_load(&state->after);
    int64_t failures = atomic_load(&state->failures);
    bool hit = call >= after && (failures == ZO_FAULT_FOREVER || call - after < (uint64_t)failures);
    if (hit)
        atomic_fetch_add(&zo_faults_injected, 1);
    return hit;
}

uint64_t zo_fault_injected_count(void) { return atomic_load(&zo_faults_injected); }
