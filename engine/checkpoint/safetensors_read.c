/* The safetensors reader (safetensors.h): the header validated as the safetensors
 * library does before any tensor is trusted, tensors read whole with their CRC checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "durable_io.h"
#include "error.h"
#include "json_checksum.h"
#include "safetensors.h"
#include "safetensors_names.h"

enum {
    ZO_ST_MAX_HEADER_BYTES = 100 << 20, /* the safetensors library's limit */
    ZO_ST_READ_CHUNK_BYTES = 4 << 20
};

void zo_st_close(zo_st_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    for (size_t i = 0; i < f->count; i++)
        free(f->entries[i].name);
    free(f->entries);
    json_decref(f->metadata);
    *f = (zo_st_file){.fd = -1};
}

static zo_status zo_st_malformed(const zo_st_file *f, const char *what, const char *name)
{
    return zo_fail(ZO_ERR_IO, "%s is not a valid safetensors file: %s%s%s", f->path, what,
                   name ? " " : "", name ? name : "");
}

/* "crc32c:xxxxxxxx" from the metadata, when present. */
static zo_status zo_st_parse_checksum(const zo_st_file *f, zo_st_entry *entry)
{
    char key[4200];
    snprintf(key, sizeof key, "%s%s", ZO_ST_CHECKSUM_PREFIX, entry->name);
    const char *value = zo_st_metadata(f, key);
    if (!value)
        return ZO_OK;
    size_t prefix = strlen(ZO_ST_CRC32C_PREFIX);
    char *end = NULL;
    unsigned long crc =
        strncmp(value, ZO_ST_CRC32C_PREFIX, prefix) == 0 ? strtoul(value + prefix, &end, 16) : 0;
    if (!end || *end != '\0' || strlen(value) != prefix + 8)
        return zo_st_malformed(f, "unreadable checksum of tensor", entry->name);
    entry->has_checksum = true;
    entry->checksum = (uint32_t)crc;
    return ZO_OK;
}

static zo_status zo_st_parse_entry(const zo_st_file *f, const char *name, const json_t *value,
                                   zo_st_entry *entry)
{
    const char *dtype_name = json_string_value(json_object_get(value, "dtype"));
    const json_t *shape = json_object_get(value, "shape"),
                 *offsets = json_object_get(value, "data_offsets");
    if (!json_is_object(value) || !dtype_name || !json_is_array(shape) ||
        json_array_size(offsets) != 2 || !json_is_integer(json_array_get(offsets, 0)) ||
        !json_is_integer(json_array_get(offsets, 1)))
        return zo_st_malformed(f, "no dtype, shape or data_offsets for tensor", name);
    if (!(entry->name = strdup(name)))
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    if (zo_st_dtype_parse(dtype_name, &entry->dtype) != 0)
        return zo_fail(ZO_ERR_NOT_SUPPORTED, "%s: tensor %s is %s; zo reads F32, F16, BF16, I8 and U8",
                       f->path, name, dtype_name);
    entry->elems = 1;
    for (size_t d = 0; d < json_array_size(shape); d++) {
        json_int_t extent = json_integer_value(json_array_get(shape, d));
        if (!json_is_integer(json_array_get(shape, d)) || extent < 0 ||
            (extent > 0 && entry->elems > UINT64_MAX / (uint64_t)extent))
            return zo_st_malformed(f, "a bad shape for tensor", name);
        entry->elems *= (uint64_t)extent;
    }
    json_int_t begin = json_integer_value(json_array_get(offsets, 0)),
               end = json_integer_value(json_array_get(offsets, 1));
    if (begin < 0 || end < begin ||
        (uint64_t)(end - begin) != entry->elems * zo_dtype_size(entry->dtype))
        return zo_st_malformed(f, "shape and data_offsets disagree for tensor", name);
    entry->begin = (uint64_t)begin, entry->end = (uint64_t)end;
    return zo_st_parse_checksum(f, entry);
}

static int zo_st_by_begin(const void *a, const void *b)
{
    const zo_st_entry *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Ranges back to back from 0, ending where the file does. */
static zo_status zo_st_check_ranges(const zo_st_file *f, uint64_t file_bytes)
{
    uint64_t expected = 0;
    for (size_t i = 0; i < f->count; i++) {
        if (f->entries[i].begin != expected)
            return zo_st_malformed(f, "a gap or an overlap before tensor", f->entries[i].name);
        expected = f->entries[i].end;
    }
    if (f->data_begin + expected > file_bytes)
        return zo_fail(ZO_ERR_IO, "%s is truncated: %llu bytes, its header promises %llu", f->path,
                       (unsigned long long)file_bytes,
                       (unsigned long long)(f->data_begin + expected));
    if (f->data_begin + expected < file_bytes)
        return zo_st_malformed(f, "bytes after the last tensor", NULL);
    return ZO_OK;
}

/* checksum.__header__, when the metadata has it, against the header's contents: checked
 * before any field is interpreted, so an edited or corrupted header is named as such. */
static zo_status zo_st_check_header_checksum(zo_st_file *f, const json_t *root)
{
    const json_t *stored = json_object_get(f->metadata, ZO_ST_HEADER_CHECKSUM_KEY);
    if (!json_is_object(f->metadata) || !stored)
        return ZO_OK;
    char expected[ZO_CHECKSUM_TEXT_BYTES];
    zo_status status = zo_json_checksum(root, "__metadata__", ZO_ST_HEADER_CHECKSUM_KEY, expected);
    if (status != ZO_OK)
        return status;
    const char *found = json_string_value(stored);
    if (!zo_checksum_matches(expected, found))
        return zo_fail(ZO_ERR_IO,
                       "%s: its header's checksum %s does not match the header (%s): the header "
                       "was edited or is corrupted",
                       f->path, found ? found : "(not a string)", expected);
    f->has_header_checksum = true;
    return ZO_OK;
}

static zo_status zo_st_parse_header(zo_st_file *f, const char *text, size_t bytes,
                                    uint64_t file_bytes)
{
    json_error_t error;
    json_t *root = json_loadb(text, bytes, 0, &error);
    if (!json_is_object(root)) {
        json_decref(root);
        return zo_st_malformed(f, "the header is not a JSON object:", error.text);
    }
    f->metadata = json_incref(json_object_get(root, "__metadata__"));
    size_t count = json_object_size(root) - (f->metadata ? 1 : 0);
    zo_status status = zo_st_check_header_checksum(f, root);
    if (status != ZO_OK) {
        json_decref(root);
        return status;
    }
    f->entries = calloc(count + 1, sizeof *f->entries);
    status = f->entries ? ZO_OK : zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (status != ZO_OK || strcmp(key, "__metadata__") == 0)
            continue;
        status = zo_st_parse_entry(f, key, value, &f->entries[f->count++]);
    }
    if (status == ZO_OK && f->metadata && !json_is_object(f->metadata))
        status = zo_st_malformed(f, "__metadata__ is not an object", NULL);
    const char *meta_key;
    json_object_foreach(f->metadata, meta_key, value)
    {
        if (status == ZO_OK && !json_is_string(value))
            status = zo_st_malformed(f, "a __metadata__ value that is not a string:", meta_key);
    }
    json_decref(root);
    if (status != ZO_OK)
        return status;
    qsort(f->entries, f->count, sizeof *f->entries, zo_st_by_begin);
    return zo_st_check_ranges(f, file_bytes);
}

zo_status zo_st_open(const char *path, zo_st_file *f)
{
    *f = (zo_st_file){.fd = -1};
    snprintf(f->path, sizeof f->path, "%s", path);
    zo_status status = zo_io_open_read(path, &f->fd);
    struct stat info;
    if (status == ZO_OK && fstat(f->fd, &info) != 0)
        status = zo_fail(ZO_ERR_IO, "cannot stat %s", path);
    unsigned char length[8] = {0};
    if (status == ZO_OK && (uint64_t)info.st_size < sizeof length)
        status = zo_fail(ZO_ERR_IO, "%s is truncated: %lld bytes, not even a header length", path,
                         (long long)info.st_size);
    if (status == ZO_OK)
        status = zo_io_read_at(f->fd, length, sizeof length, 0, path);
    uint64_t header_bytes = 0;
    for (int k = 0; k < 8; k++)
        header_bytes |= (uint64_t)length[k] << (8 * k);
    if (status == ZO_OK &&
        (header_bytes > ZO_ST_MAX_HEADER_BYTES || header_bytes > (uint64_t)info.st_size - 8))
        status =
            zo_fail(ZO_ERR_IO,
                    "%s is truncated or not safetensors: a header of %llu bytes in a file of %lld",
                    path, (unsigned long long)header_bytes, (long long)info.st_size);
    char *text = status == ZO_OK ? malloc(header_bytes + 1) : NULL;
    if (status == ZO_OK && !text)
        status = zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for a header");
    if (status == ZO_OK && (status = zo_io_read_at(f->fd, text, header_bytes, 8, path)) == ZO_OK) {
        f->data_begin = 8 + header_bytes;
        status = zo_st_parse_header(f, text, header_bytes, (uint64_t)info.st_size);
    }
    free(text);
    if (status != ZO_OK)
        zo_st_close(f);
    return status;
}

const zo_st_entry *zo_st_find(const zo_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->entries[i].name, name) == 0)
            return &f->entries[i];
    return NULL;
}

const char *zo_st_metadata(const zo_st_file *f, const char *key)
{
    return json_string_value(json_object_get(f->metadata, key));
}

zo_status zo_st_read_range(const zo_st_file *f, const zo_st_entry *entry, uint64_t offset,
                           size_t bytes, void *out)
{
    if (offset + bytes > entry->end - entry->begin)
        return zo_fail(ZO_ERR_INTERNAL, "safetensors: a read past the end of tensor %s",
                       entry->name);
    return zo_io_read_at(f->fd, out, bytes, f->data_begin + entry->begin + offset, f->path);
}

static zo_status zo_st_check_crc(const zo_st_file *f, const zo_st_entry *entry, uint32_t crc)
{
    if (!entry->has_checksum || crc == entry->checksum)
        return ZO_OK;
    return zo_fail(
        ZO_ERR_IO,
        "%s: checksum mismatch in tensor %s (crc32c %08x, the file says %08x): the file is "
        "corrupt",
        f->path, entry->name, crc, entry->checksum);
}

zo_status zo_st_read(const zo_st_file *f, const zo_st_entry *entry, void *out)
{
    size_t bytes = (size_t)(entry->end - entry->begin);
    zo_status status = zo_st_read_range(f, entry, 0, bytes, out);
    return status != ZO_OK ? status : zo_st_check_crc(f, entry, zo_crc32c_update(0, out, bytes));
}

zo_status zo_st_verify(const zo_st_file *f, const zo_st_entry *entry)
{
    char *buffer = malloc(ZO_ST_READ_CHUNK_BYTES);
    if (!buffer)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "safetensors: out of memory for a read buffer");
    uint32_t crc = 0;
    zo_status status = ZO_OK;
    for (uint64_t done = 0, total = entry->end - entry->begin; status == ZO_OK && done < total;) {
        size_t piece =
            total - done < ZO_ST_READ_CHUNK_BYTES ? (size_t)(total - done) : ZO_ST_READ_CHUNK_BYTES;
        if ((status = zo_st_read_range(f, entry, done, piece, buffer)) == ZO_OK)
            crc = zo_crc32c_update(crc, buffer, piece);
        done += piece;
    }
    free(buffer);
    return status != ZO_OK ? status : zo_st_check_crc(f, entry, crc);
}
