/* The NVMe state's ring of buffers, its io_uring and the thread that drives it
 * (ring.h). */
#define _GNU_SOURCE
#include "ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "fault_injection.h"
#include "notice.h"

struct zo_nvme_request {
    unsigned slot;
    bool write;
    uint64_t offset; /* in the file                       */
    unsigned bytes;
    size_t within;   /* where in the slot its bytes start */
};

/* Keeps the first failure: the file, the offset, the bytes and why. Under the lock. */
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

/* One completion (the fault points replace what the kernel said). Under the lock. */
static void zo_ring_complete(zo_nvme_ring *ring, unsigned index, int result)
{
    zo_nvme_request *r = &ring->requests[index];
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

/* The submission of request r: its slot and the file by their registered index where
 * zo_ring_register could register them. */
static void zo_ring_prepare(const zo_nvme_ring *ring, struct io_uring_sqe *sqe, const zo_nvme_request *r)
{
    unsigned char *buffer = (unsigned char *)zo_nvme_ring_slot(ring, r->slot) + r->within;
    int fd = ring->fixed_file ? 0 : ring->file->ring_fd;
    if (ring->fixed_buffers && r->write)
        io_uring_prep_write_fixed(sqe, fd, buffer, r->bytes, r->offset, (int)r->slot);
    else if (ring->fixed_buffers)
        io_uring_prep_read_fixed(sqe, fd, buffer, r->bytes, r->offset, (int)r->slot);
    else if (r->write)
        io_uring_prep_write(sqe, fd, buffer, r->bytes, r->offset);
    else
        io_uring_prep_read(sqe, fd, buffer, r->bytes, r->offset);
    if (ring->fixed_file)
        io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
}

/* Moves queued requests into the io_uring while requests are free (one, with
 * single_submit: each is submitted alone); whether any went. Under the lock; the
 * caller submits them. Without overlap_events a new batch starts only once the last
 * one has completed (`within_batch`: this call continues the batch being submitted). */
static bool zo_ring_fill(zo_nvme_ring *ring, bool within_batch)
{
    if (!within_batch && !ring->overlap_events && ring->in_flight > 0)
        return false;
    bool any = false;
    while (ring->pending_count > 0 && ring->free_count > 0) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->uring);
        if (!sqe)
            break; /* the submission queue is full: submitted below, then more */
        zo_nvme_request *r = &ring->pending[ring->pending_first];
        ring->pending_first = (ring->pending_first + 1) % ring->pending_capacity;
        ring->pending_count--;
        unsigned index = ring->free_requests[--ring->free_count];
        ring->requests[index] = *r;
        zo_ring_prepare(ring, sqe, r);
        io_uring_sqe_set_data64(sqe, index);
        ring->in_flight++;
        any = true;
        if (ring->single_submit)
            break;
    }
    return any;
}

/* Takes in the completions the io_uring holds; how many. Under the lock. */
static unsigned zo_ring_reap(zo_nvme_ring *ring)
{
    struct io_uring_cqe *cqe = NULL;
    unsigned reaped = 0;
    while (io_uring_peek_cqe(&ring->uring, &cqe) == 0) {
        unsigned index = (unsigned)io_uring_cqe_get_data64(cqe);
        int result = cqe->res;
        io_uring_cqe_seen(&ring->uring, cqe);
        zo_ring_complete(ring, index, result);
        reaped++;
    }
    if (reaped)
        pthread_cond_broadcast(&ring->completed);
    return reaped;
}

/* The io_uring failed (`error`, a negative errno, from its wait): the ring is broken.
 * Requests not yet submitted are dropped; those in flight stay counted (the kernel may
 * still complete them into the slots) but nobody waits on them any more. Under the lock. */
static void zo_ring_break(zo_nvme_ring *ring, int error)
{
    ring->broken = true;
    ring->failure = ZO_ERR_IO;
    snprintf(ring->failure_message, sizeof ring->failure_message,
             "NVMe optimizer state: the io_uring of %.1000s failed (io_uring_submit_and_wait: %s, errno "
             "%d), %u requests in flight; the state can no longer be moved: destroy the engine, create "
             "it again",
             ring->file->path, strerror(-error), -error, ring->in_flight);
    while (ring->pending_count > 0) {
        ring->slot_in_flight[ring->pending[ring->pending_first].slot]--;
        ring->pending_first = (ring->pending_first + 1) % ring->pending_capacity;
        ring->pending_count--;
    }
    pthread_cond_broadcast(&ring->completed);
}

/* How long a shortage (EAGAIN, EBUSY: the kernel short of memory, or the completion
 * queue full) may last, retried every millisecond, before the ring counts as broken. */
enum { ZO_RING_SHORTAGE_RETRIES = 5000 };

/* Waits for completions (submitting what fill queued first); 0, or a negative errno.
 * Without the lock: the io_uring is this thread's alone. */
static int zo_ring_wait(zo_nvme_ring *ring)
{
    if (zo_fault_hit(ZO_FAULT_NVME_RING))
        return -EBADR; /* as the kernel says when it lost completions */
    int submitted = io_uring_submit_and_wait(&ring->uring, 1);
    return submitted < 0 ? submitted : 0;
}

/* A broken ring's last duty: reap what the kernel still completes, so that its slots
 * can be freed, until destroy asks it to stop (then for 2 seconds at most). */
static void zo_ring_drain_broken(zo_nvme_ring *ring)
{
    unsigned quiet_tries = 0;
    while (ring->in_flight > 0 && !(ring->stopping && quiet_tries >= 20)) {
        pthread_mutex_unlock(&ring->lock);
        struct io_uring_cqe *cqe = NULL;
        struct __kernel_timespec wait = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        int error = io_uring_wait_cqe_timeout(&ring->uring, &cqe, &wait);
        if (error < 0 && error != -ETIME && error != -EINTR)
            usleep(100 * 1000); /* the ring fails at once: no faster than its timeout */
        pthread_mutex_lock(&ring->lock);
        quiet_tries = zo_ring_reap(ring) ? 0 : quiet_tries + 1;
    }
    while (!ring->stopping)
        pthread_cond_wait(&ring->queued, &ring->lock);
}

/* The ring's thread: submit what is queued, take in completions, wake the waiters. */
static void *zo_ring_thread(void *arg)
{
    zo_nvme_ring *ring = arg;
    unsigned shortages = 0;
    pthread_mutex_lock(&ring->lock);
    for (;;) {
        /* Submitted without the lock (the io_uring is this thread's alone): the kernel
         * may do the I/O's setup in the call, and the workers queue and wait meanwhile.
         * A failed submit leaves its entries queued: the wait below submits them again. */
        for (bool within_batch = false; zo_ring_fill(ring, within_batch); within_batch = true) {
            pthread_mutex_unlock(&ring->lock);
            io_uring_submit(&ring->uring);
            pthread_mutex_lock(&ring->lock);
            if (!ring->single_submit) /* the whole batch went at once */
                break;
        }
        if (ring->in_flight == 0) {
            if (ring->stopping && ring->pending_count == 0)
                break;
            pthread_cond_wait(&ring->queued, &ring->lock);
            continue;
        }
        pthread_mutex_unlock(&ring->lock);
        int error = zo_ring_wait(ring);
        if (error == -EAGAIN || error == -EBUSY)
            usleep(1000);
        pthread_mutex_lock(&ring->lock);
        unsigned reaped = zo_ring_reap(ring);
        if (error == 0 || error == -EINTR || reaped) {
            shortages = 0;
            continue;
        }
        if ((error == -EAGAIN || error == -EBUSY) && ++shortages < ZO_RING_SHORTAGE_RETRIES)
            continue;
        zo_ring_break(ring, error);
        zo_ring_drain_broken(ring);
        break;
    }
    pthread_mutex_unlock(&ring->lock);
    return NULL;
}

/* Registers the slots (one buffer each, index = slot) and the file with the io_uring:
 * the kernel then pins the slots' pages and takes the file once, here, instead of at
 * every request. The pinned pages count against RLIMIT_MEMLOCK, and a buffer cannot
 * pass 1 GiB: where the kernel refuses, requests name their buffer and file as usual
 * (slower, not wrong) and the notice says why. */
static void zo_ring_register(zo_nvme_ring *ring, char *notice, size_t notice_bytes)
{
    struct iovec *slots = calloc(ring->slot_count, sizeof *slots);
    int error = slots ? 0 : -ENOMEM;
    for (unsigned i = 0; slots && i < ring->slot_count; i++)
        slots[i] = (struct iovec){.iov_base = zo_nvme_ring_slot(ring, i), .iov_len = ring->slot_bytes};
    if (error == 0 && zo_fault_hit(ZO_FAULT_NVME_REGISTER))
        error = -ENOMEM;
    if (error == 0)
        error = io_uring_register_buffers(&ring->uring, slots, ring->slot_count);
    free(slots);
    ring->fixed_buffers = error == 0;
    if (!ring->fixed_buffers)
        zo_notice_append(notice, notice_bytes,
                         "NVMe optimizer state: the ring's %u buffers of %zu bytes could not be registered "
                         "with the io_uring (io_uring_register_buffers: %s; raise RLIMIT_MEMLOCK, ulimit -l; "
                         "a buffer, one bucket's record, must stay under 1 GiB: reduce_bucket_size): the "
                         "kernel pins their pages at each request instead",
                         ring->slot_count, ring->slot_bytes, strerror(-error));
    int fd = ring->file->ring_fd;
    ring->fixed_file = io_uring_register_files(&ring->uring, &fd, 1) == 0;
}

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
    pthread_mutex_init(&ring->lock, NULL);
    pthread_cond_init(&ring->queued, NULL);
    pthread_cond_init(&ring->completed, NULL);
    size_t bytes = slot_bytes * slots;
    void *memory = NULL;
    if (posix_memalign(&memory, ZO_NVME_ALIGNMENT, bytes ? bytes : ZO_NVME_ALIGNMENT) != 0)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "NVMe optimizer state: no host memory for the ring (%u buffers of %zu bytes)",
                       slots, slot_bytes);
    ring->memory = memory;
    memset(ring->memory, 0, bytes);
    ring->locked = mlock(ring->memory, bytes) == 0;
    if (!ring->locked)
        zo_notice_append(notice, notice_bytes,
                         "NVMe optimizer state: the ring's %zu bytes could not be page-locked (mlock: %s; "
                         "raise RLIMIT_MEMLOCK, ulimit -l): they stay pageable",
                         bytes, strerror(errno));
    /* each slot holds at most one read or write of its record at a time */
    size_t blocks_per_slot = (slot_bytes + ring->block_size - 1) / ring->block_size;
    ring->pending_capacity = blocks_per_slot * slots + 1;
    ring->slot_in_flight = calloc(slots, sizeof *ring->slot_in_flight);
    ring->pending = calloc(ring->pending_capacity, sizeof *ring->pending);
    ring->requests = calloc(ring->queue_depth, sizeof *ring->requests);
    ring->free_requests = calloc(ring->queue_depth, sizeof *ring->free_requests);
    if (!ring->slot_in_flight || !ring->pending || !ring->requests || !ring->free_requests)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "NVMe optimizer state: out of host memory");
    for (unsigned i = 0; i < ring->queue_depth; i++)
        ring->free_requests[ring->free_count++] = ring->queue_depth - 1 - i;
    int error = io_uring_queue_init(ring->queue_depth, &ring->uring, 0);
    if (error < 0)
        return zo_fail(ZO_ERR_IO,
                       "NVMe optimizer state: io_uring_queue_init(%u) failed: %s (errno %d)",
                       ring->queue_depth, strerror(-error), -error);
    ring->uring_ready = true;
    zo_ring_register(ring, notice, notice_bytes);
    if ((error = pthread_create(&ring->thread, NULL, zo_ring_thread, ring)) != 0)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "NVMe optimizer state: cannot start the ring's thread: %s",
                       strerror(error));
    ring->thread_started = true;
    return ZO_OK;
}

static zo_status zo_ring_failure(zo_nvme_ring *ring)
{
    return ring->failure ? zo_fail(ring->failure, "%s", ring->failure_message) : ZO_OK;
}

/* Queues the request's blocks (the caller holds no lock). */
static zo_status zo_ring_queue(zo_nvme_ring *ring, unsigned slot, bool write, uint64_t offset,
                               size_t bytes)
{
    pthread_mutex_lock(&ring->lock);
    zo_status status = zo_ring_failure(ring);
    for (size_t done = 0; status == ZO_OK && done < bytes;) {
        size_t piece = bytes - done < ring->block_size ? bytes - done : (size_t)ring->block_size;
        size_t at = (ring->pending_first + ring->pending_count) % ring->pending_capacity;
        ring->pending[at] = (zo_nvme_request){slot, write, offset + done, (unsigned)piece, done};
        ring->pending_count++;
        ring->slot_in_flight[slot]++;
        done += piece;
    }
    pthread_cond_signal(&ring->queued);
    pthread_mutex_unlock(&ring->lock);
    return status;
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
    pthread_mutex_lock(&ring->lock);
    bool busy = ring->slot_in_flight[slot] > 0 && !ring->broken;
    pthread_mutex_unlock(&ring->lock);
    return busy;
}

zo_status zo_nvme_ring_wait_slot(zo_nvme_ring *ring, unsigned slot)
{
    pthread_mutex_lock(&ring->lock);
    while (ring->slot_in_flight[slot] > 0 && !ring->broken)
        pthread_cond_wait(&ring->completed, &ring->lock);
    zo_status status = zo_ring_failure(ring);
    pthread_mutex_unlock(&ring->lock);
    return status;
}

zo_status zo_nvme_ring_wait_all(zo_nvme_ring *ring)
{
    if (!ring->thread_started)
        return ZO_OK;
    pthread_mutex_lock(&ring->lock);
    while ((ring->in_flight > 0 || ring->pending_count > 0) && !ring->broken)
        pthread_cond_wait(&ring->completed, &ring->lock);
    zo_status status = zo_ring_failure(ring);
    pthread_mutex_unlock(&ring->lock);
    return status;
}

void zo_nvme_ring_bytes(zo_nvme_ring *ring, uint64_t *read, uint64_t *written)
{
    pthread_mutex_lock(&ring->lock);
    *read = ring->bytes_read;
    *written = ring->bytes_written;
    pthread_mutex_unlock(&ring->lock);
}

zo_status zo_nvme_ring_clear_failure(zo_nvme_ring *ring)
{
    pthread_mutex_lock(&ring->lock);
    zo_status status = ZO_OK;
    if (ring->broken) {
        status = zo_ring_failure(ring);
    } else {
        ring->failure = ZO_OK;
        ring->failure_message[0] = '\0';
    }
    pthread_mutex_unlock(&ring->lock);
    return status;
}

void zo_nvme_ring_destroy(zo_nvme_ring *ring)
{
    if (!ring->file) /* never created */
        return;
    if (ring->thread_started) {
        zo_nvme_ring_wait_all(ring); /* the kernel may still write into the slots */
        pthread_mutex_lock(&ring->lock);
        ring->stopping = true;
        pthread_cond_signal(&ring->queued);
        pthread_mutex_unlock(&ring->lock);
        pthread_join(ring->thread, NULL);
    }
    if (ring->uring_ready)
        io_uring_queue_exit(&ring->uring);
    if (ring->in_flight == 0) {
        if (ring->memory && ring->locked)
            munlock(ring->memory, ring->slot_bytes * ring->slot_count);
        free(ring->memory);
    } /* else a broken ring whose requests never completed: the kernel may still write
         into the slots, so they are left allocated (a leak, not a corruption) */
    free(ring->slot_in_flight), free(ring->pending), free(ring->requests), free(ring->free_requests);
    pthread_mutex_destroy(&ring->lock);
    pthread_cond_destroy(&ring->queued);
    pthread_cond_destroy(&ring->completed);
    *ring = (zo_nvme_ring){0};
}
