/* The NVMe state's ring of buffers and its io_uring (ring.h). */
#define _GNU_SOURCE
#include "ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "error.h"
#include "fault_injection.h"

struct zo_nvme_request {
    unsigned slot;
    bool write;
    uint64_t offset;
    unsigned bytes;
};

zo_status zo_nvme_ring_create(zo_nvme_ring *ring, const zo_nvme_file *file, unsigned slots,
                              size_t slot_bytes, const zo_settings *s, char *notice,
                              size_t notice_bytes)
{
    *ring = (zo_nvme_ring){.file = file,
                           .slot_bytes = slot_bytes,
                           .slot_count = slots,
                           .queue_depth = (unsigned)s->aio.queue_depth,
                           .block_size = s->aio.block_size,
                           .single_submit = s->aio.single_submit,
                           .overlap_events = s->aio.overlap_events};
    size_t bytes = slot_bytes * slots;
    void *memory = NULL;
    if (posix_memalign(&memory, ZO_NVME_ALIGNMENT, bytes ? bytes : ZO_NVME_ALIGNMENT) != 0)
        return zo_fail(
            ZO_ERR_OUT_OF_MEMORY,
            "NVMe optimizer state: no host memory for the ring (%u buffers of %zu bytes)", slots,
            slot_bytes);
    ring->memory = memory;
    memset(ring->memory, 0, bytes);
    ring->locked = mlock(ring->memory, bytes) == 0;
    if (!ring->locked && notice) {
        size_t used = strlen(notice);
        snprintf(notice + used, notice_bytes - used,
                 "%sNVMe optimizer state: the ring's %zu bytes could not be page-locked (mlock: "
                 "%s; raise "
                 "RLIMIT_MEMLOCK, ulimit -l): they stay pageable",
                 used ? "; " : "", bytes, strerror(errno));
    }
    ring->slot_in_flight = calloc(slots, sizeof *ring->slot_in_flight);
    ring->requests = calloc(ring->queue_depth, sizeof *ring->requests);
    ring->free_requests = calloc(ring->queue_depth, sizeof *ring->free_requests);
    if (!ring->slot_in_flight || !ring->requests || !ring->free_requests)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "NVMe optimizer state: out of host memory");
    for (unsigned i = 0; i < ring->queue_depth; i++)
        ring->free_requests[ring->free_count++] = ring->queue_depth - 1 - i;
    int error = io_uring_queue_init(ring->queue_depth, &ring->uring, 0);
    if (error < 0)
        return zo_fail(ZO_ERR_IO,
                       "NVMe optimizer state: io_uring_queue_init(%u) failed: %s (errno %d)",
                       ring->queue_depth, strerror(-error), -error);
    ring->uring_ready = true;
    return ZO_OK;
}

/* Keeps the first failure: the file, the offset, the bytes and why. */
static void zo_ring_note_failure(zo_nvme_ring *ring, const zo_nvme_request *r, int result)
{
    if (ring->failure != ZO_OK)
        return;
    ring->failure = ZO_ERR_IO;
    if (result < 0)
        snprintf(ring->failure_message, sizeof ring->failure_message,
                 "NVMe optimizer state: %s of %s at offset %llu (%u bytes) failed: %s (errno %d)",
                 r->write ? "write" : "read", ring->file->path, (unsigned long long)r->offset,
                 r->bytes, strerror(-result), -result);
    else
        snprintf(ring->failure_message, sizeof ring->failure_message,
                 "NVMe optimizer state: short %s of %s at offset %llu: %d of %u bytes (errno 0)",
                 r->write ? "write" : "read", ring->file->path, (unsigned long long)r->offset,
                 result, r->bytes);
}

/* One completion: its request is done (the fault points replace what the kernel said). */
static void zo_ring_complete(zo_nvme_ring *ring, struct io_uring_cqe *cqe)
{
    unsigned index = (unsigned)io_uring_cqe_get_data64(cqe);
    zo_nvme_request *r = &ring->requests[index];
    int result = cqe->res;
    io_uring_cqe_seen(&ring->uring, cqe);
    if (!r->write && zo_fault_hit(ZO_FAULT_NVME_READ))
        result = -EIO;
    else if (!r->write && zo_fault_hit(ZO_FAULT_NVME_SHORT_READ))
        result = (int)(r->bytes / 2);
    else if (r->write && zo_fault_hit(ZO_FAULT_NVME_WRITE))
        result = -ENOSPC;
    if (result != (int)r->bytes)
        zo_ring_note_failure(ring, r, result);
    else if (r->write)
        ring->bytes_written += r->bytes;
    else
        ring->bytes_read += r->bytes;
    ring->slot_in_flight[r->slot]--;
    ring->in_flight--;
    ring->free_requests[ring->free_count++] = index;
}

/* Takes in completions: all that are ready, or (wait) at least one. */
static void zo_ring_reap(zo_nvme_ring *ring, bool wait)
{
    if (ring->unsubmitted) {
        io_uring_submit(&ring->uring);
        ring->unsubmitted = 0;
    }
    struct io_uring_cqe *cqe = NULL;
    if (wait && ring->in_flight) {
        int error;
        while ((error = io_uring_wait_cqe(&ring->uring, &cqe)) == -EINTR)
            ;
        if (error == 0)
            zo_ring_complete(ring, cqe);
    }
    while (ring->in_flight && io_uring_peek_cqe(&ring->uring, &cqe) == 0)
        zo_ring_complete(ring, cqe);
}

static zo_status zo_ring_queue(zo_nvme_ring *ring, unsigned slot, bool write, uint64_t offset,
                               size_t bytes)
{
    if (ring->failure != ZO_OK)
        return zo_fail(ring->failure, "%s", ring->failure_message);
    for (size_t done = 0; done < bytes;) {
        /* a full queue: overlap_events takes in one completion and goes on; without it
         * the batch in flight finishes before the next one starts */
        while (ring->free_count == 0)
            if (ring->overlap_events)
                zo_ring_reap(ring, true);
            else
                while (ring->in_flight)
                    zo_ring_reap(ring, true);
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->uring);
        if (!sqe) { /* the submission queue is full of unsubmitted entries */
            io_uring_submit(&ring->uring);
            ring->unsubmitted = 0;
            sqe = io_uring_get_sqe(&ring->uring);
        }
        size_t piece = bytes - done < ring->block_size ? bytes - done : (size_t)ring->block_size;
        unsigned index = ring->free_requests[--ring->free_count];
        ring->requests[index] = (zo_nvme_request){slot, write, offset + done, (unsigned)piece};
        unsigned char *buffer = (unsigned char *)zo_nvme_ring_slot(ring, slot) + done;
        if (write)
            io_uring_prep_write(sqe, ring->file->ring_fd, buffer, (unsigned)piece, offset + done);
        else
            io_uring_prep_read(sqe, ring->file->ring_fd, buffer, (unsigned)piece, offset + done);
        io_uring_sqe_set_data64(sqe, index);
        ring->slot_in_flight[slot]++;
        ring->in_flight++;
        ring->unsubmitted++;
        if (ring->single_submit) {
            io_uring_submit(&ring->uring);
            ring->unsubmitted = 0;
        }
        done += piece;
    }
    if (ring->unsubmitted) {
        io_uring_submit(&ring->uring);
        ring->unsubmitted = 0;
    }
    return ZO_OK;
}

zo_status zo_nvme_ring_read(zo_nvme_ring *ring, unsigned slot, uint64_t offset, size_t bytes)
{
    return zo_ring_queue(ring, slot, false, offset, bytes);
}

zo_status zo_nvme_ring_write(zo_nvme_ring *ring, unsigned slot, uint64_t offset, size_t bytes)
{
    return zo_ring_queue(ring, slot, true, offset, bytes);
}

bool zo_nvme_ring_slot_busy(zo_nvme_ring *ring, unsigned slot)
{
    zo_ring_reap(ring, false);
    return ring->slot_in_flight[slot] > 0;
}

zo_status zo_nvme_ring_wait_slot(zo_nvme_ring *ring, unsigned slot)
{
    while (ring->slot_in_flight[slot] > 0)
        zo_ring_reap(ring, true);
    return ring->failure ? zo_fail(ring->failure, "%s", ring->failure_message) : ZO_OK;
}

zo_status zo_nvme_ring_wait_all(zo_nvme_ring *ring)
{
    while (ring->in_flight > 0)
        zo_ring_reap(ring, true);
    return ring->failure ? zo_fail(ring->failure, "%s", ring->failure_message) : ZO_OK;
}

void zo_nvme_ring_clear_failure(zo_nvme_ring *ring)
{
    ring->failure = ZO_OK;
    ring->failure_message[0] = '\0';
}

void zo_nvme_ring_destroy(zo_nvme_ring *ring)
{
    if (ring->uring_ready) {
        zo_nvme_ring_wait_all(ring); /* the kernel may still write into the slots */
        io_uring_queue_exit(&ring->uring);
    }
    if (ring->memory && ring->locked)
        munlock(ring->memory, ring->slot_bytes * ring->slot_count);
    free(ring->memory);
    free(ring->slot_in_flight), free(ring->requests), free(ring->free_requests);
    *ring = (zo_nvme_ring){0};
}
