/* The safetensors writer (safetensors.h): header first with placeholder checksums,
 * tensor data streamed, then the same-length header again with the real checksums. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "durable_io.h"
#include "error.h"
#include "json_checksum.h"
#include "safetensors.h"
#include "safetensors_names.h"

/* The header as JSON text padded with spaces to a multiple of 8 bytes (so the data
 * starts aligned), into a malloc'd buffer of *bytes bytes. */
static zo_status zo_st_render_header(const json_t *header, char **text, size_t *bytes)
{
    char *json = json_dumps(header, JSON_COMPACT);
    if (!json)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for a header");
    size_t length = strlen(json), padded = (length + 7) / 8 * 8;
    char *out = realloc(json, padded);
    if (!out) {
        free(json);
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for a header");
    }
    memset(out + length, ' ', padded - length);
    *text = out;
    *bytes = padded;
    return ZO_OK;
}

/* Sets the metadata's checksum strings ("crc32c:" and 8 hex digits: fixed width, so
 * the header keeps its length when the real values replace the zeros). */
static zo_status zo_st_set_checksums(zo_st_writer *w)
{
    json_t *metadata = json_object_get(w->header, "__metadata__");
    char key[4200], value[32];
    for (size_t i = 0; i < w->tensor_count; i++) {
        snprintf(key, sizeof key, "%s%s", ZO_ST_CHECKSUM_PREFIX, w->tensor_names[i]);
        snprintf(value, sizeof value, "%s%08x", ZO_ST_CRC32C_PREFIX, w->crc[i]);
        if (json_object_set_new(metadata, key, json_string(value)) != 0)
            return zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for the checksums");
    }
    return ZO_OK;
}

static zo_status zo_st_build_header(zo_st_writer *w, const zo_st_tensor *tensors, size_t count,
                                    const json_t *metadata)
{
    w->header = json_object();
    json_t *meta = metadata ? json_deep_copy(metadata) : json_object();
    if (!w->header || !meta || json_object_set_new(w->header, "__metadata__", meta) != 0)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for a header");
    const char *key;
    json_t *value;
    json_object_foreach(meta, key, value)
    {
        if (!json_is_string(value))
            return zo_fail(ZO_ERR_INVALID_ARGUMENT, "safetensors: metadata %s is not a string",
                           key);
    }
    if (json_object_set_new(meta, ZO_ST_HEADER_CHECKSUM_KEY, json_string("crc32c:00000000")) != 0)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for a header");
    uint64_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name = tensors[i].name;
        if (!name || strncmp(name, "__", 2) == 0 || json_object_get(w->header, name))
            return zo_fail(ZO_ERR_INVALID_ARGUMENT, "safetensors: tensor name \"%s\" is %s",
                           name ? name : "(null)",
                           name && json_object_get(w->header, name) ? "used twice" : "reserved");
        uint64_t bytes = tensors[i].elems * zo_dtype_size(tensors[i].dtype);
        json_t *entry =
            json_pack("{s:s, s:[I], s:[I, I]}", "dtype", zo_st_dtype_name(tensors[i].dtype),
                      "shape", (json_int_t)tensors[i].elems, "data_offsets", (json_int_t)offset,
                      (json_int_t)(offset + bytes));
        if (!entry || json_object_set_new(w->header, name, entry) != 0)
            return zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for a header");
        w->tensor_bytes[i] = bytes;
        w->tensor_names[i] = (char *)name;
        offset += bytes;
    }
    return zo_st_set_checksums(w);
}

static void zo_st_writer_free(zo_st_writer *w)
{
    json_decref(w->header);
    free(w->tensor_bytes), free(w->tensor_names), free(w->crc);
    *w = (zo_st_writer){.fd = -1};
}

void zo_st_writer_abort(zo_st_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    zo_st_writer_free(w);
}

/* The header's own checksum, over everything else in it (the tensors' checksums too). */
static zo_status zo_st_seal_header(zo_st_writer *w)
{
    char crc[ZO_CHECKSUM_TEXT_BYTES];
    zo_status status = zo_json_checksum(w->header, "__metadata__", ZO_ST_HEADER_CHECKSUM_KEY, crc);
    if (status == ZO_OK && json_object_set_new(json_object_get(w->header, "__metadata__"),
                                               ZO_ST_HEADER_CHECKSUM_KEY, json_string(crc)) != 0)
        status = zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for a header");
    return status;
}

/* The 8-byte little-endian header length, then the header. */
static zo_status zo_st_write_header(zo_st_writer *w, bool at_start)
{
    char *text = NULL;
    size_t bytes = 0;
    zo_status status = zo_st_seal_header(w);
    if (status == ZO_OK)
        status = zo_st_render_header(w->header, &text, &bytes);
    if (status != ZO_OK)
        return status;
    if (!at_start && bytes != w->header_bytes) {
        free(text);
        return zo_fail(ZO_ERR_INTERNAL, "safetensors: the header of %s changed length", w->path);
    }
    unsigned char length[8];
    for (int k = 0; k < 8; k++)
        length[k] = (unsigned char)((uint64_t)bytes >> (8 * k));
    w->header_bytes = bytes;
    if ((status = zo_io_write_at(w->fd, length, sizeof length, 0, w->path)) == ZO_OK)
        status = zo_io_write_at(w->fd, text, bytes, sizeof length, w->path);
    free(text);
    return status;
}

zo_status zo_st_writer_open(zo_st_writer *w, const char *path, const zo_st_tensor *tensors,
                            size_t count, const json_t *metadata)
{
    *w = (zo_st_writer){.fd = -1, .tensor_count = count};
    snprintf(w->path, sizeof w->path, "%s", path);
    w->tensor_bytes = calloc(count + 1, sizeof *w->tensor_bytes);
    w->tensor_names = calloc(count + 1, sizeof *w->tensor_names);
    w->crc = calloc(count + 1, sizeof *w->crc);
    zo_status status =
        !w->tensor_bytes || !w->tensor_names || !w->crc
            ? zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for %zu tensors", count)
            : zo_st_build_header(w, tensors, count, metadata);
    if (status == ZO_OK)
        status = zo_io_create(path, &w->fd);
    if (status == ZO_OK && (status = zo_st_write_header(w, true)) == ZO_OK &&
        lseek(w->fd, (off_t)(8 + w->header_bytes), SEEK_SET) < 0)
        status = zo_fail(ZO_ERR_IO, "cannot seek in %s", path);
    if (status != ZO_OK)
        zo_st_writer_abort(w);
    return status;
}

/* Moves past tensors that are complete (empty ones included). */
static void zo_st_skip_full(zo_st_writer *w)
{
    while (w->current < w->tensor_count && w->current_written == w->tensor_bytes[w->current])
        w->current++, w->current_written = 0;
}

zo_status zo_st_writer_append(zo_st_writer *w, const void *data, size_t bytes)
{
    const char *p = data;
    while (bytes > 0) {
        zo_st_skip_full(w);
        if (w->current == w->tensor_count)
            return zo_fail(ZO_ERR_INTERNAL, "safetensors: more data than the tensors of %s hold",
                           w->path);
        uint64_t room = w->tensor_bytes[w->current] - w->current_written;
        size_t piece = bytes < room ? bytes : (size_t)room;
        w->crc[w->current] = zo_crc32c_update(w->crc[w->current], p, piece);
        zo_status status = zo_io_write_all(w->fd, p, piece, w->path);
        if (status != ZO_OK)
            return status;
        w->current_written += piece;
        p += piece, bytes -= piece;
    }
    return ZO_OK;
}

zo_status zo_st_writer_finish(zo_st_writer *w)
{
    zo_st_skip_full(w);
    zo_status status = ZO_OK;
    if (w->current != w->tensor_count)
        status = zo_fail(ZO_ERR_INTERNAL, "safetensors: tensor %s of %s is incomplete",
                         w->tensor_names[w->current], w->path);
    if (status == ZO_OK && (status = zo_st_set_checksums(w)) == ZO_OK)
        status = zo_st_write_header(w, false);
    if (status != ZO_OK) {
        zo_st_writer_abort(w);
        return status;
    }
    status = zo_io_sync_close(w->fd, w->path);
    w->fd = -1;
    zo_st_writer_free(w);
    return status;
}
