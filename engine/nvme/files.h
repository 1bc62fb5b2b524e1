/* The optimizer state's files on NVMe: where each bucket's state lies in this rank's
 * file (one record per bucket: its piece's master weights, exp_avg and exp_avg_sq, each
 * starting on a 4096-byte boundary so direct I/O reads and writes whole pages), the
 * file's size and the file system's free room (the memory plan's check), and the file
 * itself: created, preallocated (fallocate) and, unless fast_init, written with zeros.
 * Needs no liburing: the plan sizes the files in every build. Internal. */
#ifndef ZO_NVME_FILES_H
#define ZO_NVME_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "partition.h"
#include "zo/config.h"

enum { ZO_NVME_ALIGNMENT = 4096 }; /* direct I/O's unit: offsets, lengths, buffers */

/* One bucket's record: where each tensor of its piece starts, from the record's start. */
typedef struct zo_nvme_record {
    uint64_t offset[3]; /* master, exp_avg, exp_avg_sq (a checkpoint shard's order) */
    uint64_t bytes;     /* the whole record, a multiple of ZO_NVME_ALIGNMENT       */
} zo_nvme_record;

/* The record of a piece of `piece_elems` elements with moments of `moment_bytes`. */
zo_nvme_record zo_nvme_record_for(uint64_t piece_elems, uint64_t moment_bytes);

/* What one rank's state needs: its file (every bucket's record) and the ring
 * (buffer_count x the largest record). */
typedef struct zo_nvme_sizes {
    uint64_t file_bytes;
    uint64_t record_bytes; /* the largest record: one ring buffer */
    uint64_t ring_bytes;
} zo_nvme_sizes;

zo_nvme_sizes zo_nvme_sizes_for(const zo_partition *layout, uint64_t moment_bytes,
                                uint64_t buffer_count);

/* Bytes an unprivileged writer may still take on the file system of `directory`
 * (statvfs: f_bavail x f_frsize). ZO_ERR_IO naming the directory when it cannot be
 * read (missing, not a directory). */
zo_status zo_nvme_free_bytes(const char *directory, uint64_t *out);

/* This rank's state file, open twice: for the ring's direct I/O (O_DIRECT where the file
 * system takes it, else buffered, with `notice` saying so) and buffered, for the
 * synchronous element-wise accessors (master weights, checkpoints). Linux keeps the two
 * coherent: a direct read writes back dirty cached pages first, a direct write drops
 * cached ones. */
typedef struct zo_nvme_file {
    char path[1200];
    int ring_fd; /* O_DIRECT when `direct` */
    int buffered_fd;
    bool direct;
    uint64_t bytes;
} zo_nvme_file;

/* Creates "<directory>/zo-optimizer-state.rank<rank>.pid<pid>.<n>" (new, never an
 * existing file), preallocates `bytes` with fallocate and, unless `fast_init`, writes
 * zeros over it (so a disk that cannot hold it fails now, not mid-step); then unlinks
 * it, so the file lives exactly as long as the engine and a crash leaves nothing
 * behind. Appends to `notice` (of `notice_bytes`) when direct I/O is refused.
 * Errors: ZO_ERR_IO naming the file, the bytes and errno (ENOSPC: the bytes needed and
 * free). */
zo_status zo_nvme_file_create(zo_nvme_file *file, const char *directory, size_t rank,
                              uint64_t bytes, bool fast_init, char *notice, size_t notice_bytes);
void zo_nvme_file_close(zo_nvme_file *file);

/* Synchronous buffered I/O of [offset, offset + bytes): the whole range or ZO_ERR_IO
 * naming the file, offset and errno (a short read past the end as "short read"). */
zo_status zo_nvme_file_read(const zo_nvme_file *file, uint64_t offset, void *out, size_t bytes);
zo_status zo_nvme_file_write(const zo_nvme_file *file, uint64_t offset, const void *in,
                             size_t bytes);

#endif
