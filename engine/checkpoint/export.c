/* zo_checkpoint_export: the shards' master weights merged into one safetensors file
 * of per-parameter fp32 tensors. Every shard is opened and its master weights verified
 * first; then each parameter is copied piece by piece (rank r holds piece r of every
 * bucket, partition.h) in flat order, through a bounded buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "shard.h"
#include "durable_io.h"
#include "error.h"
#include "zo/checkpoint.h"

enum { ZO_EXPORT_CHUNK_ELEMS = 1 << 20 };

typedef struct zo_export {
    zo_manifest manifest;
    zo_partition geometry;
    zo_st_file *shards;         /* one per rank */
    const zo_st_entry **master; /* each shard's master tensor */
    float *buffer;              /* ZO_EXPORT_CHUNK_ELEMS */
} zo_export;

static void zo_export_free(zo_export *x)
{
    for (size_t r = 0; x->shards && r < x->manifest.ranks; r++)
        if (x->shards[r].fd >= 0)
            zo_st_close(&x->shards[r]);
    free(x->shards), free(x->master), free(x->buffer);
    zo_manifest_free(&x->manifest);
}

static zo_status zo_export_open(const char *dir, zo_export *x)
{
    zo_status status = zo_manifest_read(dir, &x->manifest);
    if (status != ZO_OK)
        return status;
    size_t ranks = (size_t)x->manifest.ranks;
    x->geometry = zo_manifest_geometry(&x->manifest);
    x->shards = calloc(ranks, sizeof *x->shards);
    x->master = calloc(ranks, sizeof *x->master);
    x->buffer = malloc(ZO_EXPORT_CHUNK_ELEMS * sizeof *x->buffer);
    for (size_t r = 0; x->shards && r < ranks; r++)
        x->shards[r].fd = -1; /* nothing open yet */
    if (!x->shards || !x->master || !x->buffer)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_checkpoint_export: out of memory for %zu shards",
                       ranks);
    for (size_t r = 0; status == ZO_OK && r < ranks; r++) {
        const zo_st_entry *tensors[ZO_SHARD_TENSORS];
        if ((status = zo_shard_open(dir, &x->manifest, r, &x->shards[r], tensors)) == ZO_OK)
            status = zo_st_verify(&x->shards[r], x->master[r] = tensors[ZO_SHARD_MASTER]);
    }
    return status;
}

/* Copies flat elements [begin, end) of rank r's piece of bucket b to the writer. */
static zo_status zo_export_piece(zo_export *x, zo_st_writer *writer, size_t b, size_t r,
                                 size_t begin, size_t end)
{
    const zo_partition *g = &x->geometry;
    size_t in_shard = zo_shard_offset(g, b) + (begin - zo_piece_begin(g, b, r));
    zo_status status = ZO_OK;
    for (size_t done = 0; status == ZO_OK && done < end - begin; done += ZO_EXPORT_CHUNK_ELEMS) {
        size_t elems =
            end - begin - done < ZO_EXPORT_CHUNK_ELEMS ? end - begin - done : ZO_EXPORT_CHUNK_ELEMS;
        status = zo_st_read_range(&x->shards[r], x->master[r], (in_shard + done) * sizeof(float),
                                  elems * sizeof(float), x->buffer);
        if (status == ZO_OK)
            status = zo_st_writer_append(writer, x->buffer, elems * sizeof(float));
    }
    return status;
}

/* Parameter p's elements, in order, from whichever ranks hold them. */
static zo_status zo_export_param(zo_export *x, zo_st_writer *writer, size_t p)
{
    const zo_partition *g = &x->geometry;
    size_t first = (size_t)x->manifest.param_offset[p],
           last = first + (size_t)x->manifest.param_elems[p];
    zo_status status = ZO_OK;
    for (size_t b = first / g->bucket_elems; status == ZO_OK && b <= (last - 1) / g->bucket_elems;
         b++)
        for (size_t r = 0; status == ZO_OK && r < g->ranks; r++) {
            size_t piece = zo_piece_begin(g, b, r), piece_end = piece + zo_piece_elems(g, b);
            size_t begin = first > piece ? first : piece, end = last < piece_end ? last : piece_end;
            if (begin < end)
                status = zo_export_piece(x, writer, b, r, begin, end);
        }
    return status;
}

static zo_status zo_export_write(zo_export *x, const char *dir, const char *path)
{
    size_t count = x->manifest.param_count;
    zo_st_tensor *tensors = calloc(count + 1, sizeof *tensors);
    if (!tensors)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_checkpoint_export: out of memory for %zu tensors",
                       count);
    for (size_t p = 0; p < count; p++)
        tensors[p] =
            (zo_st_tensor){x->manifest.param_names[p], ZO_DTYPE_F32, x->manifest.param_elems[p]};
    char step[32];
    snprintf(step, sizeof step, "%llu", (unsigned long long)x->manifest.steps);
    json_t *metadata =
        json_pack("{s:s, s:s, s:s}", "format", "zo-export", "step", step, "source", dir);
    zo_st_writer writer;
    zo_status status = metadata
                           ? zo_st_writer_open(&writer, path, tensors, count, metadata)
                           : zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_checkpoint_export: out of memory");
    json_decref(metadata);
    if (status == ZO_ERR_INVALID_ARGUMENT) { /* a name used twice: the model's, not the caller's */
        char cause[1024];                    /* zo_fail writes where zo_last_error() points */
        snprintf(cause, sizeof cause, "%s", zo_last_error());
        status = zo_fail(ZO_ERR_CONFIG, "zo_checkpoint_export: %s", cause);
    }
    for (size_t p = 0; status == ZO_OK && p < count; p++)
        if ((status = zo_export_param(x, &writer, p)) != ZO_OK)
            zo_st_writer_abort(&writer);
    if (status == ZO_OK)
        status = zo_st_writer_finish(&writer);
    free(tensors);
    return status;
}

zo_status zo_checkpoint_export(const char *dir, const char *out_path)
{
    if (!dir || !out_path || !dir[0] || !out_path[0])
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_checkpoint_export: %s is NULL or empty",
                       !dir || !dir[0] ? "dir" : "out_path");
    char staging[4200], parent[4096];
    if (snprintf(staging, sizeof staging, "%s.tmp", out_path) >= (int)sizeof staging)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_checkpoint_export: out_path is too long");
    zo_io_parent_dir(out_path, parent, sizeof parent);
    zo_export x = {0};
    zo_status status = zo_export_open(dir, &x);
    if (status == ZO_OK)
        status = zo_export_write(&x, dir, staging);
    if (status == ZO_OK && (status = zo_io_rename(staging, out_path)) == ZO_OK)
        status = zo_io_sync_dir(parent);
    if (status != ZO_OK)
        remove(staging);
    zo_export_free(&x);
    return status;
}
