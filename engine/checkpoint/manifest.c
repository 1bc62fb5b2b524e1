/* manifest.json of a checkpoint (manifest.h): built from the engine and
 * written, with jansson. Reading it back is checkpoint_manifest_read.c. */
#include "manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable_io.h"
#include "error.h"
#include "fnv1a.h"
#include "json_checksum.h"

void zo_checkpoint_shard_path(const char *dir, size_t rank, size_t ranks, char *out, size_t size)
{
    snprintf(out, size, "%s/rank%zu-of-%zu.safetensors", dir, rank, ranks);
}

/* Exactly the names zo writes: a name sscanf merely accepts ("rank+1-of-2", "rank 01",
 * "rank00-of-1", a rank past the count) is someone else's file, printed back to compare. */
bool zo_checkpoint_owns_file(const char *name)
{
    size_t rank, ranks;
    int used = 0;
    if (strcmp(name, ZO_CHECKPOINT_MANIFEST) == 0)
        return true;
    if (sscanf(name, "rank%zu-of-%zu.safetensors%n", &rank, &ranks, &used) != 2 ||
        name[used] != '\0' || rank >= ranks)
        return false;
    char canonical[64];
    snprintf(canonical, sizeof canonical, "rank%zu-of-%zu.safetensors", rank, ranks);
    return strcmp(canonical, name) == 0;
}

void zo_manifest_free(zo_manifest *m)
{
    for (size_t i = 0; m->param_names && i < m->param_count; i++)
        free(m->param_names[i]);
    free(m->param_names), free(m->param_offset), free(m->param_elems);
    *m = (zo_manifest){0};
}

zo_status zo_manifest_alloc_params(zo_manifest *m, size_t count)
{
    m->param_count = count;
    m->param_names = calloc(count + 1, sizeof *m->param_names);
    m->param_offset = calloc(count + 1, sizeof *m->param_offset);
    m->param_elems = calloc(count + 1, sizeof *m->param_elems);
    if (m->param_names && m->param_offset && m->param_elems)
        return ZO_OK;
    zo_manifest_free(m);
    return zo_fail(ZO_ERR_OUT_OF_MEMORY, "checkpoint: out of memory for %zu parameter names",
                   count);
}

/* FNV-1a 64 over what an engine must match to load the shards: the rank count, the
 * shard geometry, the dtypes, and every parameter's name and size. */
void zo_manifest_fingerprint(const zo_manifest *m, char out[17])
{
    uint64_t fields[] = {m->ranks,
                         m->padded_elems,
                         m->bucket_elems,
                         (uint64_t)m->dtype,
                         (uint64_t)m->moments_dtype,
                         m->param_count};
    uint64_t h = zo_fnv1a(ZO_FNV1A_OFFSET_BASIS, fields, sizeof fields);
    for (size_t i = 0; i < m->param_count; i++) {
        h = zo_fnv1a(h, m->param_names[i], strlen(m->param_names[i]) + 1);
        h = zo_fnv1a(h, &m->param_offset[i], sizeof m->param_offset[i]);
        h = zo_fnv1a(h, &m->param_elems[i], sizeof m->param_elems[i]);
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void zo_manifest_seal(zo_manifest *m) { zo_manifest_fingerprint(m, m->fingerprint); }

zo_status zo_manifest_from_engine(const zo_engine *e, uint64_t save_id, zo_manifest *m)
{
    *m = (zo_manifest){.version = ZO_CHECKPOINT_VERSION,
                       .ranks = e->ranks,
                       .padded_elems = e->layout.padded_elems,
                       .total_elems = e->layout.total_elems,
                       .bucket_elems = e->layout.bucket_elems,
                       .dtype = e->dtype,
                       .moments_dtype = e->settings.moments_dtype,
                       .stage = e->settings.stage,
                       .delayed_param_update = e->settings.delayed_param_update,
                       .device_lags = e->settings.delayed_param_update && e->unsent_generation != 0,
                       .steps = e->steps,
                       .micro_steps = e->micro_steps,
                       .scaler = e->scaler};
    snprintf(m->save_id, sizeof m->save_id, "%016llx", (unsigned long long)save_id);
    zo_status status = zo_manifest_alloc_params(m, e->layout.param_count);
    for (size_t i = 0; status == ZO_OK && i < m->param_count; i++) {
        m->param_offset[i] = e->layout.param_offset[i];
        m->param_elems[i] = e->layout.param_elems[i];
        if (!(m->param_names[i] = strdup(e->layout.param_names[i]))) {
            zo_manifest_free(m);
            status = zo_fail(ZO_ERR_OUT_OF_MEMORY, "checkpoint: out of memory for parameter names");
        }
    }
    if (status == ZO_OK)
        zo_manifest_seal(m);
    return status;
}

/* A failed jansson call while building the manifest: an error naming the part, never a
 * silently smaller manifest (a name jansson refuses would vanish from it). */
static zo_status zo_manifest_build_failed(const char *what, const json_error_t *error)
{
    bool memory = !error || json_error_code(error) == json_error_out_of_memory;
    return zo_fail(memory ? ZO_ERR_OUT_OF_MEMORY : ZO_ERR_INTERNAL,
                   "checkpoint: cannot build the manifest's %s: %s", what,
                   error ? error->text : "out of memory");
}

/* Adds `value` (a new reference, NULL when building it failed) to `object`. */
static zo_status zo_manifest_set(json_t *object, const char *key, json_t *value,
                                 const json_error_t *error)
{
    if (!value)
        return zo_manifest_build_failed(key, error);
    return json_object_set_new(object, key, value) == 0 ? ZO_OK
                                                        : zo_manifest_build_failed(key, NULL);
}

static zo_status zo_manifest_params_to_json(const zo_manifest *m, json_t *params)
{
    json_error_t error;
    for (size_t i = 0; i < m->param_count; i++) {
        json_t *param =
            json_pack_ex(&error, 0, "{s:s, s:I, s:I}", "name", m->param_names[i], "offset",
                         (json_int_t)m->param_offset[i], "elems", (json_int_t)m->param_elems[i]);
        if (!param)
            return zo_fail(ZO_ERR_INTERNAL,
                           "checkpoint: cannot write parameter %zu to the manifest: %s", i,
                           error.text);
        if (json_array_append_new(params, param) != 0)
            return zo_manifest_build_failed("params", NULL);
    }
    return ZO_OK;
}

static zo_status zo_manifest_files_to_json(const zo_manifest *m, json_t *files)
{
    char name[64];
    for (size_t r = 0; r < m->ranks; r++) {
        snprintf(name, sizeof name, "rank%zu-of-%zu.safetensors", r, (size_t)m->ranks);
        if (json_array_append_new(files, json_string(name)) != 0)
            return zo_manifest_build_failed("files", NULL);
    }
    return ZO_OK;
}

/* The manifest as JSON, its checksum included, into *out (a new reference). */
static zo_status zo_manifest_to_json(const zo_manifest *m, json_t **out)
{
    const zo_loss_scaler *s = &m->scaler;
    json_error_t error;
    json_t *root = json_pack_ex(
        &error, 0, "{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:i, s:b, s:b, s:I, s:I}",
        "format", ZO_CHECKPOINT_FORMAT, "version", (json_int_t)m->version, "save_id", m->save_id,
        "fingerprint", m->fingerprint, "ranks", (json_int_t)m->ranks, "padded_elems",
        (json_int_t)m->padded_elems, "total_elems", (json_int_t)m->total_elems, "bucket_elems",
        (json_int_t)m->bucket_elems, "dtype", zo_dtype_name(m->dtype), "moments_dtype",
        zo_dtype_name(m->moments_dtype), "stage", m->stage, "delayed_param_update",
        m->delayed_param_update, "device_lags", m->device_lags, "step", (json_int_t)m->steps,
        "micro_steps", (json_int_t)m->micro_steps);
    if (!root)
        return zo_manifest_build_failed("fields", &error);
    json_t *params = json_array(), *files = json_array();
    zo_status status = zo_manifest_set(
        root, "loss_scaler",
        json_pack_ex(&error, 0, "{s:b, s:f, s:f, s:I, s:i, s:i, s:b, s:I, s:I}", "dynamic",
                     s->dynamic, "scale", s->scale, "min_scale", s->min_scale, "window",
                     (json_int_t)s->window, "hysteresis", s->hysteresis, "hysteresis_left",
                     s->hysteresis_left, "consecutive_hysteresis", s->consecutive_hysteresis,
                     "iteration", (json_int_t)s->iteration, "last_overflow_iteration",
                     (json_int_t)s->last_overflow_iteration),
        &error);
    if (status == ZO_OK && m->moments_dtype == ZO_DTYPE_Q8)
        status = zo_manifest_set(root, ZO_MANIFEST_MOMENTS_CODE_KEY, json_string(ZO_MANIFEST_MOMENTS_CODE), NULL);
    if (status == ZO_OK &&
        (status = zo_manifest_set(root, "files", json_incref(files), NULL)) == ZO_OK)
        status = zo_manifest_files_to_json(m, files);
    if (status == ZO_OK &&
        (status = zo_manifest_set(root, "params", json_incref(params), NULL)) == ZO_OK)
        status = zo_manifest_params_to_json(m, params);
    json_decref(params), json_decref(files);
    char checksum[ZO_CHECKSUM_TEXT_BYTES];
    if (status == ZO_OK && m->version >= 2 &&
        (status = zo_json_checksum(root, NULL, ZO_MANIFEST_CHECKSUM_KEY, checksum)) == ZO_OK)
        status = zo_manifest_set(root, ZO_MANIFEST_CHECKSUM_KEY, json_string(checksum), NULL);
    if (status != ZO_OK) {
        json_decref(root);
        return status;
    }
    *out = root;
    return ZO_OK;
}

zo_status zo_manifest_write(const zo_manifest *m, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ZO_CHECKPOINT_MANIFEST);
    json_t *root = NULL;
    zo_status status = zo_manifest_to_json(m, &root);
    if (status != ZO_OK)
        return status;
    char *text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    if (!text)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "checkpoint: out of memory for the manifest");
    int fd;
    status = zo_io_create(path, &fd);
    if (status == ZO_OK) {
        status = zo_io_write_all(fd, text, strlen(text), path);
        zo_status synced = zo_io_sync_close(fd, path);
        status = status ? status : synced;
    }
    free(text);
    return status;
}

zo_partition zo_manifest_geometry(const zo_manifest *m)
{
    return (zo_partition){.ranks = m->ranks,
                          .padded_elems = m->padded_elems,
                          .total_elems = m->total_elems,
                          .bucket_elems = m->bucket_elems,
                          .bucket_count =
                              (m->padded_elems + m->bucket_elems - 1) / m->bucket_elems};
}
