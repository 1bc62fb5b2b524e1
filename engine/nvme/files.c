/* The optimizer state's files on NVMe: record layout, sizes, free room, and the file
 * itself (files.h). */
#define _GNU_SOURCE
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "checked_math.h"
#include "config/byte_size.h"
#include "error.h"
#include "fault_injection.h"
#include "notice.h"

static uint64_t zo_round_up_aligned(uint64_t bytes)
{
    return (bytes + ZO_NVME_ALIGNMENT - 1) / ZO_NVME_ALIGNMENT * ZO_NVME_ALIGNMENT;
}

zo_nvme_record zo_nvme_record_for(uint64_t piece_elems, uint64_t moment_bytes)
{
    uint64_t master = zo_round_up_aligned(piece_elems * 4),
             moment = zo_round_up_aligned(piece_elems * moment_bytes);
    return (zo_nvme_record){.offset = {0, master, master + moment}, .bytes = master + 2 * moment};
}

zo_nvme_sizes zo_nvme_sizes_for(const zo_partition *layout, uint64_t moment_bytes,
                                uint64_t buffer_count)
{
    zo_nvme_sizes sizes = {0};
    for (size_t b = 0; b < layout->bucket_count; b++) {
        zo_nvme_record record = zo_nvme_record_for(zo_piece_elems(layout, b), moment_bytes);
        sizes.file_bytes = zo_add_saturated(sizes.file_bytes, record.bytes);
        sizes.record_bytes = record.bytes > sizes.record_bytes ? record.bytes : sizes.record_bytes;
    }
    sizes.ring_bytes = zo_mul_saturated(sizes.record_bytes, buffer_count);
    return sizes;
}

zo_status zo_nvme_free_bytes(const char *directory, uint64_t *out)
{
    struct statvfs info;
    *out = 0;
    if (statvfs(directory, &info) != 0)
        return zo_fail(ZO_ERR_IO, "offload_optimizer.nvme_path %s: %s (errno %d)", directory,
                       strerror(errno), errno);
    *out = zo_mul_saturated((uint64_t)info.f_bavail, (uint64_t)info.f_frsize);
    return ZO_OK;
}

/* ENOSPC says what was needed and what is free; other errors say errno. */
static zo_status zo_fail_allocation(const zo_nvme_file *file, const char *directory, int error)
{
    uint64_t free_bytes = 0;
    char needed[32], room[32];
    if (error == ENOSPC && zo_nvme_free_bytes(directory, &free_bytes) == ZO_OK)
        return zo_fail(
            ZO_ERR_IO,
            "NVMe optimizer state: cannot allocate %s (%llu bytes) for %s: no space left on the "
            "device (%s, %llu bytes free; errno %d)",
            zo_format_byte_size(file->bytes, needed, sizeof needed),
            (unsigned long long)file->bytes, file->path,
            zo_format_byte_size(free_bytes, room, sizeof room), (unsigned long long)free_bytes,
            error);
    return zo_fail(ZO_ERR_IO,
                   "NVMe optimizer state: cannot allocate %llu bytes for %s: %s (errno %d)",
                   (unsigned long long)file->bytes, file->path, strerror(error), error);
}

/* Zeros over the whole file through the ring's descriptor, a block at a time. */
static zo_status zo_write_zeros(const zo_nvme_file *file)
{
    enum { BLOCK = 1 << 20 };
    void *zeros = NULL;
    if (posix_memalign(&zeros, ZO_NVME_ALIGNMENT, BLOCK) != 0)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "NVMe optimizer state: no memory for a block of zeros");
    memset(zeros, 0, BLOCK);
    zo_status status = ZO_OK;
    for (uint64_t at = 0; status == ZO_OK && at < file->bytes; at += BLOCK) {
        size_t bytes = file->bytes - at < BLOCK ? (size_t)(file->bytes - at) : BLOCK;
        ssize_t written = pwrite(file->ring_fd, zeros, bytes, (off_t)at);
        if (written != (ssize_t)bytes)
            status = zo_fail(
                ZO_ERR_IO,
                "NVMe optimizer state: writing zeros to %s at offset %llu failed: %s (errno %d)",
                file->path, (unsigned long long)at, written < 0 ? strerror(errno) : "short write",
                written < 0 ? errno : 0);
    }
    free(zeros);
    return status;
}

zo_status zo_nvme_file_create(zo_nvme_file *file, const char *directory, size_t rank,
                              uint64_t bytes, bool fast_init, char *notice, size_t notice_bytes)
{
    static atomic_uint made; /* two engines of one process get two files */
    *file = (zo_nvme_file){.ring_fd = -1, .buffered_fd = -1, .bytes = bytes};
    snprintf(file->path, sizeof file->path, "%s/zo-optimizer-state.rank%zu.pid%ld.%u", directory,
             rank, (long)getpid(), atomic_fetch_add(&made, 1));
    int flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
    /* a file system that refuses O_DIRECT (EINVAL) gets buffered I/O; the fault plays one */
    file->ring_fd = zo_fault_hit(ZO_FAULT_NVME_NO_DIRECT)
                        ? (errno = EINVAL, -1)
                        : open(file->path, flags | O_DIRECT, 0600);
    file->direct = file->ring_fd >= 0;
    if (file->ring_fd < 0 && errno == EINVAL)
        file->ring_fd = open(file->path, flags, 0600);
    if (file->ring_fd < 0)
        return zo_fail(ZO_ERR_IO, "NVMe optimizer state: cannot create %s: %s (errno %d)",
                       file->path, strerror(errno), errno);
    file->buffered_fd = open(file->path, O_RDWR | O_CLOEXEC);
    int error = file->buffered_fd < 0 ? errno : 0;
    unlink(file->path); /* the descriptors keep it as long as the engine */
    if (error)
        return zo_fail(ZO_ERR_IO, "NVMe optimizer state: cannot open %s again: %s (errno %d)",
                       file->path, strerror(error), error);
    if (!file->direct)
        zo_notice_append(notice, notice_bytes,
                         "offload_optimizer.nvme_path %s: the file system does not take direct I/O (O_DIRECT); "
                         "the optimizer state goes through the page cache (buffered I/O)",
                         directory);
    error = zo_fault_hit(ZO_FAULT_NVME_NO_SPACE) ? ENOSPC
                                                 : posix_fallocate(file->ring_fd, 0, (off_t)bytes);
    if (error)
        return zo_fail_allocation(file, directory, error);
    return fast_init ? ZO_OK : zo_write_zeros(file);
}

void zo_nvme_file_close(zo_nvme_file *file)
{
    if (file->ring_fd >= 0)
        close(file->ring_fd);
    if (file->buffered_fd >= 0)
        close(file->buffered_fd);
    file->ring_fd = file->buffered_fd = -1;
}

zo_status zo_nvme_file_read(const zo_nvme_file *file, uint64_t offset, void *out, size_t bytes)
{
    for (size_t done = 0; done < bytes;) {
        ssize_t got =
            pread(file->buffered_fd, (char *)out + done, bytes - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return zo_fail(
                ZO_ERR_IO,
                "NVMe optimizer state: %s of %s at offset %llu (%zu bytes) failed: %s (errno %d)",
                got < 0 ? "read" : "short read", file->path, (unsigned long long)(offset + done),
                bytes - done, got < 0 ? strerror(errno) : "end of file", got < 0 ? errno : 0);
        done += (size_t)got;
    }
    return ZO_OK;
}

zo_status zo_nvme_file_write(const zo_nvme_file *file, uint64_t offset, const void *in,
                             size_t bytes)
{
    for (size_t done = 0; done < bytes;) {
        ssize_t put = pwrite(file->buffered_fd, (const char *)in + done, bytes - done,
                             (off_t)(offset + done));
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return zo_fail(ZO_ERR_IO,
                           "NVMe optimizer state: write of %s at offset %llu (%zu bytes) failed: "
                           "%s (errno %d)",
                           file->path, (unsigned long long)(offset + done), bytes - done,
                           put < 0 ? strerror(errno) : "nothing written", put < 0 ? errno : 0);
        done += (size_t)put;
    }
    return ZO_OK;
}
