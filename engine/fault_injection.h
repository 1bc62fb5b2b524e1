/* Fault injection for tests: makes the Nth call of a fallible operation (a pinned or
 * device allocation, a host allocation of the engine, a copy, a host function on a
 * stream) fail as if the system had refused it, so the error paths run on every CI
 * machine. Armed by tests through zo_fault_arm, or by a plain program's environment:
 * ZO_FAULT=name:after[:failures][,name:after[:failures]...], e.g. ZO_FAULT=copy:10:1.
 * Disarmed (the default) it costs one relaxed atomic load per operation. Internal. */
#ifndef ZO_FAULT_INJECTION_H
#define ZO_FAULT_INJECTION_H

#include <stdbool.h>
#include <stdint.h>

#include "zo/status.h"

typedef enum zo_fault {
    ZO_FAULT_PINNED_ALLOC, /* host backend: page-locked staging buffer ("pinned_alloc")  */
    ZO_FAULT_DEVICE_ALLOC, /* host backend: device buffer ("device_alloc")               */
    ZO_FAULT_HOST_ALLOC,   /* engine: master weights, moments, fp32 sum ("host_alloc")   */
    ZO_FAULT_COPY,         /* host backend: a queued copy fails when it runs ("copy")    */
    ZO_FAULT_HOST_FN,      /* host backend: a host function runs, then reports an error
                              ("host_fn"), as the engine's worker jobs can              */
    ZO_FAULT_NVME_READ,       /* NVMe state: a ring read completes with EIO ("nvme_read")   */
    ZO_FAULT_NVME_SHORT_READ, /* NVMe state: a ring read completes with half its bytes
                                 ("nvme_short_read")                                       */
    ZO_FAULT_NVME_WRITE,      /* NVMe state: a ring write completes with ENOSPC ("nvme_write") */
    ZO_FAULT_NVME_NO_DIRECT,  /* NVMe state: the file system refuses O_DIRECT
                                 ("nvme_no_direct"), as tmpfs before Linux 6.6 does         */
    ZO_FAULT_NVME_NO_SPACE,   /* NVMe state: fallocate finds no space ("nvme_no_space")     */
    ZO_FAULT_NVME_RING,       /* NVMe state: the io_uring's wait for completions fails with
                                 EBADR, as a broken ring's would ("nvme_ring")             */
    ZO_FAULT_NVME_REGISTER,   /* NVMe state: the io_uring refuses to register the ring's
                                 buffers with ENOMEM, as RLIMIT_MEMLOCK can ("nvme_register") */
    ZO_FAULT_COUNT
} zo_fault;

enum { ZO_FAULT_FOREVER = -1 }; /* as `failures`: every call after `after_calls` fails */

/* From now on, calls after_calls + 1 .. after_calls + failures of `fault` fail (counted
 * from this call; failures ZO_FAULT_FOREVER: all of them). Thread-safe. */
void zo_fault_arm(zo_fault fault, uint64_t after_calls, int64_t failures);

/* Disarms every fault (and forgets ZO_FAULT). */
void zo_fault_disarm_all(void);

/* At an injection point: true when this call must fail. Reads ZO_FAULT on first use. */
bool zo_fault_hit(zo_fault fault);

/* Faults injected in this process so far (all kinds). */
uint64_t zo_fault_injected_count(void);

/* "pinned_alloc", ...; "unknown fault" otherwise. */
const char *zo_fault_name(zo_fault fault);

/* Arms the faults a ZO_FAULT-style string lists. ZO_ERR_INVALID_ARGUMENT naming the
 * part it cannot read (nothing is armed then). */
zo_status zo_fault_arm_from_string(const char *spec);

#endif
