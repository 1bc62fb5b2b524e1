/* The safetensors format (huggingface/safetensors), written and read: an 8-byte
 * little-endian header length, a JSON header {"name": {"dtype", "shape",
 * "data_offsets": [begin, end]}, "__metadata__": {string: string}} padded with spaces
 * to 8 bytes, then the tensors' raw little-endian bytes back to back. zo adds a CRC-32C
 * per tensor to the metadata, "checksum.<name>": "crc32c:xxxxxxxx", and one of the
 * header itself, "checksum.__header__" (its canonical text without that member, so a
 * renamed tensor or an edited metadata value is caught). Internal. */
#ifndef ZO_SAFETENSORS_H
#define ZO_SAFETENSORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/dtype.h"
#include "zo/status.h"

/* A tensor to write: 1-D, `elems` elements. */
typedef struct zo_st_tensor {
    const char *name;
    zo_dtype dtype;
    uint64_t elems;
} zo_st_tensor;

/* Writes one file, tensor data streamed in order through zo_st_writer_append; the
 * header is written first with placeholder checksums and rewritten, same length, at
 * the end. The file is not renamed: callers write to a temporary name. */
typedef struct zo_st_writer {
    int fd;
    char path[4096];
    json_t *header; /* owned */
    size_t tensor_count;
    uint64_t *tensor_bytes; /* owned, per tensor                         */
    char **tensor_names;    /* borrowed from the caller's zo_st_tensor   */
    uint32_t *crc;          /* owned, per tensor                         */
    size_t current;         /* the tensor being appended to              */
    uint64_t current_written;
    size_t header_bytes; /* the padded JSON, without the 8-byte length */
} zo_st_writer;

/* Creates `path` and writes the header. `metadata` (a JSON object of strings, may be
 * NULL) is copied. Errors: ZO_ERR_IO, ZO_ERR_INVALID_ARGUMENT (two tensors of one
 * name, a name starting "__"), ZO_ERR_OUT_OF_MEMORY. Nothing to clean up on failure. */
zo_status zo_st_writer_open(zo_st_writer *writer, const char *path, const zo_st_tensor *tensors,
                            size_t count, const json_t *metadata);
/* Appends the next `bytes` of data, crossing from one tensor to the next as each fills. */
zo_status zo_st_writer_append(zo_st_writer *writer, const void *data, size_t bytes);
/* Checks every tensor is complete, rewrites the header with the checksums, fsyncs and
 * closes. The writer is freed whatever the outcome. */
zo_status zo_st_writer_finish(zo_st_writer *writer);
/* Closes and frees without finishing (the partial file stays: callers remove it). */
void zo_st_writer_abort(zo_st_writer *writer);

/* One tensor of a file being read. */
typedef struct zo_st_entry {
    char *name;
    zo_dtype dtype;
    uint64_t elems;      /* the product of its shape */
    uint64_t begin, end; /* byte offsets in the data section */
    bool has_checksum;
    uint32_t checksum;
} zo_st_entry;

typedef struct zo_st_file {
    int fd;
    char path[4096];
    uint64_t data_begin; /* file offset of the data section */
    size_t count;
    zo_st_entry *entries; /* in file order */
    json_t *metadata;     /* the __metadata__ object, or NULL */
    bool has_header_checksum; /* checksum.__header__ was there (and matched) */
} zo_st_file;

/* Opens and validates a file as the safetensors library does: a header length that
 * fits the file, a JSON object, known dtypes (F32, F16, BF16, I8, U8), shapes that match their
 * byte ranges, ranges back to back from 0 without gaps or overlaps, and data that ends
 * where the file does (a truncated file is refused here); a header checksum, when the
 * file has one, must match. Errors: ZO_ERR_IO (missing,
 * unreadable, truncated or malformed; the message names the file and the problem),
 * ZO_ERR_NOT_SUPPORTED (another dtype), ZO_ERR_OUT_OF_MEMORY. *file is empty on failure. */
zo_status zo_st_open(const char *path, zo_st_file *file);
void zo_st_close(zo_st_file *file);

/* The tensor called `name`, or NULL. */
const zo_st_entry *zo_st_find(const zo_st_file *file, const char *name);
/* The metadata string under `key`, or NULL. */
const char *zo_st_metadata(const zo_st_file *file, const char *key);

/* Reads the whole tensor into `out` (entry->end - entry->begin bytes) and checks its
 * CRC when the file has one. Errors: ZO_ERR_IO (read failure, "checksum mismatch"). */
zo_status zo_st_read(const zo_st_file *file, const zo_st_entry *entry, void *out);
/* Streams the tensor through its CRC without keeping it. Errors as zo_st_read. */
zo_status zo_st_verify(const zo_st_file *file, const zo_st_entry *entry);
/* Reads `bytes` bytes starting `offset` bytes into the tensor (no checksum). */
zo_status zo_st_read_range(const zo_st_file *file, const zo_st_entry *entry, uint64_t offset,
                           size_t bytes, void *out);

#endif
