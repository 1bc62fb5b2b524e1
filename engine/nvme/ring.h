/* The ring through which the NVMe state streams: buffer_count aligned, page-locked
 * buffers ("slots", one bucket's record each) and one io_uring that reads records into
 * them and writes them back, cut into aio.block_size requests with at most
 * aio.queue_depth in flight. The io_uring belongs to a thread of the ring's own, which
 * submits queued requests as earlier ones complete: the caller (the engine's worker)
 * only queues and waits, so a deep read-ahead keeps the disk busy while the worker runs
 * Adam, whatever the queue depth. The first failed request is kept, with the file,
 * offset and errno, and every later call returns it. If the io_uring itself fails
 * (its wait for completions returns an error other than an interruption or a
 * passing shortage), the ring is broken for good: waiters return that error at once
 * instead of waiting on completions that will never be reported, and nothing more is
 * queued. Internal; needs liburing. */
#ifndef ZO_NVME_RING_H
#define ZO_NVME_RING_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "files.h"
#include "zo/config.h"

typedef struct zo_nvme_request zo_nvme_request;

typedef struct zo_nvme_ring {
    struct io_uring uring;
    bool uring_ready, thread_started;
    pthread_t thread;
    pthread_mutex_t lock;     /* guards everything below                       */
    pthread_cond_t queued;    /* to the ring's thread: work, or stop           */
    pthread_cond_t completed; /* to waiters: a slot's request completed        */
    bool stopping;
    const zo_nvme_file *file;
    unsigned char *memory; /* slot_count x slot_bytes, aligned */
    size_t slot_bytes;
    unsigned slot_count;
    bool locked;              /* mlock took the slots                             */
    unsigned *slot_in_flight; /* per slot: its requests queued or not completed   */
    zo_nvme_request *pending; /* queued, not yet submitted: a FIFO                */
    size_t pending_capacity, pending_first, pending_count;
    zo_nvme_request *requests; /* submitted, by index (the completion's user data) */
    unsigned *free_requests, free_count;
    unsigned queue_depth, in_flight;
    uint64_t block_size;
    bool single_submit, overlap_events;
    bool fixed_buffers, fixed_file; /* the slots (buffer index = slot) and the file are
                                       registered with the io_uring                     */
    zo_status failure; /* ZO_OK, or the first failed request's */
    bool broken;       /* the io_uring failed: nothing completes any more  */
    char failure_message[1400];
    uint64_t bytes_read, bytes_written; /* completed */
} zo_nvme_ring;

/* Sets up `slots` buffers of `slot_bytes` (a multiple of 4096), an io_uring with the
 * "aio" settings for `file`, and the ring's thread. The buffers are page-locked (mlock)
 * and registered with the io_uring, with the file, where RLIMIT_MEMLOCK allows; where
 * it does not, `notice` says so, they stay pageable and each request names its buffer
 * (the kernel pins its pages for each). Errors: ZO_ERR_OUT_OF_MEMORY, ZO_ERR_IO
 * (io_uring_queue_init's errno). */
zo_status zo_nvme_ring_create(zo_nvme_ring *ring, const zo_nvme_file *file, unsigned slots,
                              size_t slot_bytes, const zo_settings *settings, char *notice,
                              size_t notice_bytes);
/* Waits for the requests queued, stops the thread, frees everything. A zeroed ring is
 * a no-op. A broken ring's buffers are freed only if its requests in flight could be
 * reaped after all (a few seconds at most): the kernel may still write into them. */
void zo_nvme_ring_destroy(zo_nvme_ring *ring);

static inline void *zo_nvme_ring_slot(const zo_nvme_ring *ring, unsigned slot)
{
    return ring->memory + (size_t)slot * ring->slot_bytes;
}

/* Queues the read of [offset, offset + bytes) of the file into slot `slot` (or the
 * write of the slot's first `bytes` there); returns without waiting. offset and bytes
 * are multiples of 4096; the slot must have nothing in flight. */
zo_status zo_nvme_ring_read(zo_nvme_ring *ring, unsigned slot, uint64_t offset, size_t bytes);
zo_status zo_nvme_ring_write(zo_nvme_ring *ring, unsigned slot, uint64_t offset, size_t bytes);

/* Whether slot `slot` has requests queued or in flight (does not wait). */
bool zo_nvme_ring_slot_busy(zo_nvme_ring *ring, unsigned slot);
/* Waits until slot `slot` (or every slot) has no request queued or in flight. Returns
 * the ring's failure, if any request ever failed. */
zo_status zo_nvme_ring_wait_slot(zo_nvme_ring *ring, unsigned slot);
zo_status zo_nvme_ring_wait_all(zo_nvme_ring *ring);

/* Completed bytes read and written so far. */
void zo_nvme_ring_bytes(zo_nvme_ring *ring, uint64_t *read, uint64_t *written);

/* Forgets a failed request once the state behind it was replaced (a checkpoint load);
 * the ring must be idle. A broken ring stays broken: its failure is returned. */
zo_status zo_nvme_ring_clear_failure(zo_nvme_ring *ring);

#endif
