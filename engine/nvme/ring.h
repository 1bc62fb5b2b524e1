/* The ring through which the NVMe state streams: buffer_count aligned, page-locked
 * buffers ("slots", one bucket's record each) and one io_uring that reads records into
 * them and writes them back, cut into aio.block_size requests with at most
 * aio.queue_depth in flight. Driven from one thread (the engine's worker). The first
 * failed request is kept, with the file, offset and errno, and every later call
 * returns it. Internal; needs liburing. */
#ifndef ZO_NVME_RING_H
#define ZO_NVME_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "zo/config.h"

typedef struct zo_nvme_request zo_nvme_request;

typedef struct zo_nvme_ring {
    struct io_uring uring;
    bool uring_ready;
    const zo_nvme_file *file;
    unsigned char *memory; /* slot_count x slot_bytes, aligned */
    size_t slot_bytes;
    unsigned slot_count;
    bool locked;              /* mlock took the slots                     */
    unsigned *slot_in_flight; /* per slot: its requests not yet completed */
    zo_nvme_request *requests;
    unsigned *free_requests, free_count; /* a stack of request indices */
    unsigned queue_depth, in_flight, unsubmitted;
    uint64_t block_size;
    bool single_submit, overlap_events;
    zo_status failure; /* ZO_OK, or the first failed request's */
    char failure_message[1400];
    uint64_t bytes_read, bytes_written; /* completed, for the bench */
} zo_nvme_ring;

/* Sets up `slots` buffers of `slot_bytes` (a multiple of 4096) and an io_uring with the
 * "aio" settings for `file`. The buffers are page-locked (mlock) where RLIMIT_MEMLOCK
 * allows; where it does not, `notice` says so and they stay pageable.
 * Errors: ZO_ERR_OUT_OF_MEMORY, ZO_ERR_IO (io_uring_queue_init's errno). */
zo_status zo_nvme_ring_create(zo_nvme_ring *ring, const zo_nvme_file *file, unsigned slots,
                              size_t slot_bytes, const zo_settings *settings, char *notice,
                              size_t notice_bytes);
/* Waits for the requests in flight, then frees everything. A zeroed ring is a no-op. */
void zo_nvme_ring_destroy(zo_nvme_ring *ring);

static inline void *zo_nvme_ring_slot(const zo_nvme_ring *ring, unsigned slot)
{
    return ring->memory + (size_t)slot * ring->slot_bytes;
}

/* Queues the read of [offset, offset + bytes) of the file into slot `slot` (or the
 * write of the slot's first `bytes` there) and submits it; returns without waiting.
 * offset and bytes are multiples of 4096. */
zo_status zo_nvme_ring_read(zo_nvme_ring *ring, unsigned slot, uint64_t offset, size_t bytes);
zo_status zo_nvme_ring_write(zo_nvme_ring *ring, unsigned slot, uint64_t offset, size_t bytes);

/* Whether slot `slot` has requests in flight, after taking in what has completed
 * (does not wait). */
bool zo_nvme_ring_slot_busy(zo_nvme_ring *ring, unsigned slot);
/* Waits until slot `slot` (or every slot) has no request in flight. Returns the
 * ring's failure, if any request ever failed. */
zo_status zo_nvme_ring_wait_slot(zo_nvme_ring *ring, unsigned slot);
zo_status zo_nvme_ring_wait_all(zo_nvme_ring *ring);

/* Forgets a failure once the state behind it was replaced (a checkpoint load); the
 * ring must be idle. */
void zo_nvme_ring_clear_failure(zo_nvme_ring *ring);

#endif
