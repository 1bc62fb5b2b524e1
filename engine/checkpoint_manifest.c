/* manifest.json of a checkpoint (checkpoint_manifest.h), with jansson. */
#include "checkpoint_manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable_io.h"
#include "error.h"

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

static zo_status zo_manifest_alloc_params(zo_manifest *m, size_t count)
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

static uint64_t zo_fnv1a(uint64_t h, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* FNV-1a 64 over what an engine must match to load the shards: the rank count, the
 * shard geometry, the dtypes, and every parameter's name and size. */
static void zo_manifest_fingerprint(const zo_manifest *m, char out[17])
{
    uint64_t fields[] = {m->ranks,
                         m->padded_elems,
                         m->bucket_elems,
                         (uint64_t)m->dtype,
                         (uint64_t)m->moments_dtype,
                         m->param_count};
    uint64_t h = zo_fnv1a(1469598103934665603ull, fields, sizeof fields);
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

static json_t *zo_manifest_to_json(const zo_manifest *m)
{
    const zo_loss_scaler *s = &m->scaler;
    json_t *params = json_array(), *files = json_array();
    for (size_t i = 0; params && i < m->param_count; i++)
        json_array_append_new(params, json_pack("{s:s, s:I, s:I}", "name", m->param_names[i],
                                                "offset", (json_int_t)m->param_offset[i], "elems",
                                                (json_int_t)m->param_elems[i]));
    char name[64];
    for (size_t r = 0; files && r < m->ranks; r++) {
        snprintf(name, sizeof name, "rank%zu-of-%zu.safetensors", r, (size_t)m->ranks);
        json_array_append_new(files, json_string(name));
    }
    json_t *scaler = json_pack("{s:b, s:f, s:f, s:I, s:i, s:i, s:b, s:I, s:I}", "dynamic",
                               s->dynamic, "scale", s->scale, "min_scale", s->min_scale, "window",
                               (json_int_t)s->window, "hysteresis", s->hysteresis,
                               "hysteresis_left", s->hysteresis_left, "consecutive_hysteresis",
                               s->consecutive_hysteresis, "iteration", (json_int_t)s->iteration,
                               "last_overflow_iteration", (json_int_t)s->last_overflow_iteration);
    return json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:i, s:b, s:b, s:I, s:I, "
                     "s:o, s:o, s:o}",
                     "format", ZO_CHECKPOINT_FORMAT, "version", (json_int_t)m->version, "save_id",
                     m->save_id, "fingerprint", m->fingerprint, "ranks", (json_int_t)m->ranks,
                     "padded_elems", (json_int_t)m->padded_elems, "total_elems",
                     (json_int_t)m->total_elems, "bucket_elems", (json_int_t)m->bucket_elems,
                     "dtype", zo_dtype_name(m->dtype), "moments_dtype",
                     zo_dtype_name(m->moments_dtype), "stage", m->stage, "delayed_param_update",
                     m->delayed_param_update, "device_lags", m->device_lags, "step",
                     (json_int_t)m->steps, "micro_steps", (json_int_t)m->micro_steps, "loss_scaler",
                     scaler, "files", files, "params", params);
}

zo_status zo_manifest_write(const zo_manifest *m, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ZO_CHECKPOINT_MANIFEST);
    json_t *root = zo_manifest_to_json(m);
    char *text = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
    json_decref(root);
    if (!text)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "checkpoint: out of memory for the manifest");
    int fd;
    zo_status status = zo_io_create(path, &fd);
    if (status == ZO_OK) {
        status = zo_io_write_all(fd, text, strlen(text), path);
        zo_status synced = zo_io_sync_close(fd, path);
        status = status ? status : synced;
    }
    free(text);
    return status;
}

static int zo_dtype_from_name(const char *name, zo_dtype *out)
{
    static const zo_dtype all[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16};
    for (size_t i = 0; i < 3; i++)
        if (strcmp(name, zo_dtype_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

static zo_status zo_manifest_params_from_json(zo_manifest *m, const json_t *params,
                                              const char *path)
{
    zo_status status = zo_manifest_alloc_params(m, json_array_size(params));
    for (size_t i = 0; status == ZO_OK && i < m->param_count; i++) {
        const char *name;
        json_int_t offset, elems;
        json_error_t error;
        if (json_unpack_ex(json_array_get(params, i), &error, 0, "{s:s, s:I, s:I}", "name", &name,
                           "offset", &offset, "elems", &elems) != 0 ||
            offset < 0 || elems <= 0)
            return zo_fail(ZO_ERR_IO, "%s: params[%zu] is malformed: %s", path, i, error.text);
        m->param_offset[i] = (uint64_t)offset, m->param_elems[i] = (uint64_t)elems;
        if (!(m->param_names[i] = strdup(name)))
            status = zo_fail(ZO_ERR_OUT_OF_MEMORY, "checkpoint: out of memory for parameter names");
    }
    return status;
}

/* Unpacks the fields; the caller frees `root`. */
static zo_status zo_manifest_from_json(zo_manifest *m, json_t *root, const char *path)
{
    const char *format = "", *save_id, *fingerprint, *dtype, *moments_dtype;
    json_int_t version = 0, ranks, padded, total, bucket, steps, micro, window, iteration,
               last_overflow;
    int delayed, lags, dynamic, consecutive;
    json_t *params;
    json_error_t error;
    zo_loss_scaler *s = &m->scaler;
    if (json_unpack(root, "{s:s, s:I}", "format", &format, "version", &version) != 0 ||
        strcmp(format, ZO_CHECKPOINT_FORMAT) != 0)
        return zo_fail(ZO_ERR_IO,
                       "%s is not a zo checkpoint manifest (no \"format\": \"%s\" and \"version\")",
                       path, ZO_CHECKPOINT_FORMAT);
    if (version > ZO_CHECKPOINT_VERSION || version < 1)
        return zo_fail(ZO_ERR_NOT_SUPPORTED, "%s: format version %lld; this zo reads version %d",
                       path, (long long)version, ZO_CHECKPOINT_VERSION);
    if (json_unpack_ex(root, &error, 0,
                       "{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:i, s:b, s:b, s:I, s:I, s:o, "
                       "s:{s:b, s:F, s:F, s:I, s:i, s:i, s:b, s:I, s:I}}",
                       "save_id", &save_id, "fingerprint", &fingerprint, "ranks", &ranks,
                       "padded_elems", &padded, "total_elems", &total, "bucket_elems", &bucket,
                       "dtype", &dtype, "moments_dtype", &moments_dtype, "stage", &m->stage,
                       "delayed_param_update", &delayed, "device_lags", &lags, "step", &steps,
                       "micro_steps", &micro, "params", &params, "loss_scaler", "dynamic", &dynamic,
                       "scale", &s->scale, "min_scale", &s->min_scale, "window", &window,
                       "hysteresis", &s->hysteresis, "hysteresis_left", &s->hysteresis_left,
                       "consecutive_hysteresis", &consecutive, "iteration", &iteration,
                       "last_overflow_iteration", &last_overflow) != 0)
        return zo_fail(ZO_ERR_IO, "%s is malformed: %s", path, error.text);
    if (ranks < 1 || padded < 0 || total < 0 || bucket < 1 || steps < 0 || micro < 0 ||
        window < 0 || iteration < 0 || zo_dtype_from_name(dtype, &m->dtype) != 0 ||
        zo_dtype_from_name(moments_dtype, &m->moments_dtype) != 0 || !json_is_array(params) ||
        strlen(save_id) != 16 || strlen(fingerprint) != 16)
        return zo_fail(ZO_ERR_IO, "%s is malformed: a count, dtype, id or params list out of range",
                       path);
    m->version = (uint64_t)version, m->ranks = (uint64_t)ranks, m->padded_elems = (uint64_t)padded;
    m->total_elems = (uint64_t)total, m->bucket_elems = (uint64_t)bucket,
    m->steps = (uint64_t)steps;
    m->micro_steps = (uint64_t)micro, m->delayed_param_update = delayed;
    m->device_lags = lags;
    s->dynamic = dynamic, s->consecutive_hysteresis = consecutive, s->window = (uint64_t)window;
    s->iteration = (uint64_t)iteration, s->last_overflow_iteration = last_overflow;
    snprintf(m->save_id, sizeof m->save_id, "%s", save_id);
    snprintf(m->fingerprint, sizeof m->fingerprint, "%s", fingerprint);
    zo_status status = zo_manifest_params_from_json(m, params, path);
    if (status == ZO_OK && (m->padded_elems % m->ranks != 0 || m->bucket_elems % m->ranks != 0 ||
                            m->total_elems > m->padded_elems))
        return zo_fail(
            ZO_ERR_IO,
            "%s is malformed: padded_elems %llu and bucket_elems %llu must split into %llu "
            "ranks and hold total_elems %llu",
            path, (unsigned long long)m->padded_elems, (unsigned long long)m->bucket_elems,
            (unsigned long long)m->ranks, (unsigned long long)m->total_elems);
    for (size_t i = 0; status == ZO_OK && i < m->param_count; i++)
        if (m->param_offset[i] + m->param_elems[i] > m->total_elems)
            return zo_fail(ZO_ERR_IO, "%s is malformed: parameter %s runs past total_elems", path,
                           m->param_names[i]);
    return status;
}

zo_status zo_manifest_read(const char *dir, zo_manifest *m)
{
    *m = (zo_manifest){0};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ZO_CHECKPOINT_MANIFEST);
    json_error_t error;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (!root)
        return zo_fail(ZO_ERR_IO, "%s: %s",
                       zo_io_is_file(path) ? "cannot parse checkpoint manifest"
                                           : "no checkpoint manifest",
                       zo_io_is_file(path) ? error.text : path);
    zo_status status = zo_manifest_from_json(m, root, path);
    json_decref(root);
    char recomputed[17];
    if (status == ZO_OK) {
        zo_manifest_fingerprint(m, recomputed);
        if (strcmp(recomputed, m->fingerprint) != 0)
            status =
                zo_fail(ZO_ERR_IO,
                        "%s: its fingerprint %s does not match its contents (%s): the file was "
                        "edited or is corrupt",
                        path, m->fingerprint, recomputed);
    }
    if (status != ZO_OK)
        zo_manifest_free(m);
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
