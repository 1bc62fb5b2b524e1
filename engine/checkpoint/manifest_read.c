/* Reading a checkpoint's manifest.json (manifest.h): its checksum first, so
 * that an edited or corrupted file is named as such, then every field's type and range,
 * then what the fields say about each other. Nothing in it is trusted before all passed:
 * a wrong step would give a wrong bias correction and learning rate, an infinite loss
 * scale would skip every later step. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "durable_io.h"
#include "error.h"
#include "json_checksum.h"

/* The weights' dtype (f32, f16, bf16), or with `moments` the moments' (f32, bf16, 8bit:
 * f16 is refused later, by the engine's check, as before). */
static int zo_dtype_from_name(const char *name, zo_dtype *out, bool moments)
{
    static const zo_dtype all[] = {ZO_DTYPE_F32, ZO_DTYPE_F16, ZO_DTYPE_BF16, ZO_DTYPE_Q8};
    for (size_t i = 0; i < (moments ? 4 : 3); i++)
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
        const char *name = "";
        json_int_t offset, elems;
        json_error_t error;
        if (json_unpack_ex(json_array_get(params, i), &error, 0, "{s:s, s:I, s:I}", "name", &name,
                           "offset", &offset, "elems", &elems) != 0)
            return zo_fail(ZO_ERR_IO, "%s: params[%zu] is malformed: %s", path, i, error.text);
        if (offset < 0 || elems <= 0 || name[0] == '\0')
            return zo_fail(ZO_ERR_IO,
                           "%s: params[%zu] is malformed: an empty name, a negative "
                           "offset or no elements",
                           path, i);
        m->param_offset[i] = (uint64_t)offset, m->param_elems[i] = (uint64_t)elems;
        if (!(m->param_names[i] = strdup(name)))
            status = zo_fail(ZO_ERR_OUT_OF_MEMORY, "checkpoint: out of memory for parameter names");
    }
    return status;
}

static zo_status zo_manifest_out_of_range(const char *path, const char *what)
{
    return zo_fail(ZO_ERR_IO, "%s is malformed: %s (the file was edited or is corrupted)", path,
                   what);
}

/* The loss scaler's fields against each other, the precision and the micro-step count.
 * What the scaler can reach: a dynamic scale starts at 2^initial_scale_power >= 1, only
 * doubles or halves down to min_scale; a static or absent one never moves; the
 * hysteresis counter stays in 1..hysteresis; one iteration per optimizer step. */
static zo_status zo_manifest_check_scaler(const zo_manifest *m, const char *path)
{
    const zo_loss_scaler *s = &m->scaler;
    if (!isfinite(s->scale) || s->scale <= 0.0 || s->scale > FLT_MAX)
        return zo_manifest_out_of_range(path, "loss_scaler.scale is not a finite positive float");
    if (!isfinite(s->min_scale) || s->min_scale <= 0.0)
        return zo_manifest_out_of_range(path, "loss_scaler.min_scale is not finite and positive");
    if (s->dynamic && (m->dtype != ZO_DTYPE_F16 || s->scale < fmin(s->min_scale, 1.0)))
        return zo_manifest_out_of_range(
            path, "a dynamic loss_scaler needs f16 weights and a scale of at least "
                  "min(min_scale, 1)");
    if (!s->dynamic && m->dtype != ZO_DTYPE_F16 && s->scale != 1.0)
        return zo_manifest_out_of_range(path, "the loss scale of bf16 or f32 weights is not 1");
    if (s->window < 1 || s->hysteresis < 1 || s->hysteresis_left < 1 ||
        s->hysteresis_left > s->hysteresis)
        return zo_manifest_out_of_range(
            path, "loss_scaler.window, hysteresis or hysteresis_left out of range "
                  "(window >= 1, 1 <= hysteresis_left <= hysteresis)");
    if (s->iteration > m->micro_steps || s->last_overflow_iteration < -1 ||
        s->last_overflow_iteration >= (int64_t)s->iteration)
        return zo_manifest_out_of_range(
            path, "loss_scaler.iteration or last_overflow_iteration out of range "
                  "(-1 <= last_overflow_iteration < iteration <= micro_steps)");
    return ZO_OK;
}

/* The layout: whole pieces per rank, parameters inside the flat space, total_elems where
 * the last one ends (as zo_partition_build lays them out). */
static zo_status zo_manifest_check_layout(const zo_manifest *m, const char *path)
{
    if (m->padded_elems % m->ranks != 0 || m->bucket_elems % m->ranks != 0 ||
        m->total_elems > m->padded_elems)
        return zo_fail(
            ZO_ERR_IO,
            "%s is malformed: padded_elems %llu and bucket_elems %llu must split into %llu "
            "ranks and hold total_elems %llu",
            path, (unsigned long long)m->padded_elems, (unsigned long long)m->bucket_elems,
            (unsigned long long)m->ranks, (unsigned long long)m->total_elems);
    uint64_t end = 0;
    for (size_t i = 0; i < m->param_count; i++) {
        if (m->param_offset[i] > m->total_elems ||
            m->param_elems[i] > m->total_elems - m->param_offset[i])
            return zo_fail(ZO_ERR_IO, "%s is malformed: parameter %s runs past total_elems", path,
                           m->param_names[i]);
        if (m->param_offset[i] + m->param_elems[i] > end)
            end = m->param_offset[i] + m->param_elems[i];
    }
    if (end != m->total_elems)
        return zo_manifest_out_of_range(path, "total_elems is not where the last parameter ends");
    if (m->device_lags && !m->delayed_param_update)
        return zo_manifest_out_of_range(path, "device_lags without delayed_param_update");
    if (m->steps > m->micro_steps)
        return zo_manifest_out_of_range(path, "more steps than micro_steps");
    return zo_manifest_check_scaler(m, path);
}

/* Unpacks the fields; the caller frees `root`. Integers are unpacked as json_int_t and
 * range-checked (jansson's "i" would truncate a large value silently). */
static zo_status zo_manifest_from_json(zo_manifest *m, json_t *root, const char *path)
{
    const char *save_id, *fingerprint, *dtype, *moments_dtype;
    json_int_t ranks, padded, total, bucket, stage, steps, micro, window, hysteresis,
        hysteresis_left, iteration, last_overflow;
    int delayed, lags, dynamic, consecutive;
    json_t *params;
    json_error_t error;
    zo_loss_scaler *s = &m->scaler;
    if (json_unpack_ex(root, &error, 0,
                       "{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:b, s:b, s:I, s:I, s:o, "
                       "s:{s:b, s:F, s:F, s:I, s:I, s:I, s:b, s:I, s:I}}",
                       "save_id", &save_id, "fingerprint", &fingerprint, "ranks", &ranks,
                       "padded_elems", &padded, "total_elems", &total, "bucket_elems", &bucket,
                       "dtype", &dtype, "moments_dtype", &moments_dtype, "stage", &stage,
                       "delayed_param_update", &delayed, "device_lags", &lags, "step", &steps,
                       "micro_steps", &micro, "params", &params, "loss_scaler", "dynamic", &dynamic,
                       "scale", &s->scale, "min_scale", &s->min_scale, "window", &window,
                       "hysteresis", &hysteresis, "hysteresis_left", &hysteresis_left,
                       "consecutive_hysteresis", &consecutive, "iteration", &iteration,
                       "last_overflow_iteration", &last_overflow) != 0)
        return zo_fail(ZO_ERR_IO, "%s is malformed: %s", path, error.text);
    if (ranks < 1 || padded < 0 || total < 0 || bucket < 1 || stage < 0 || stage > 3 || steps < 0 ||
        micro < 0 || window < 0 || hysteresis < 0 || hysteresis > 1 << 30 || hysteresis_left < 0 ||
        hysteresis_left > 1 << 30 || iteration < 0 || zo_dtype_from_name(dtype, &m->dtype, false) != 0 ||
        zo_dtype_from_name(moments_dtype, &m->moments_dtype, true) != 0 || !json_is_array(params) ||
        json_array_size(params) == 0 || strlen(save_id) != 16 || strlen(fingerprint) != 16)
        return zo_fail(ZO_ERR_IO, "%s is malformed: a count, dtype, id or params list out of range",
                       path);
    if (m->moments_dtype == ZO_DTYPE_Q8) {
        const char *code = json_string_value(json_object_get(root, ZO_MANIFEST_MOMENTS_CODE_KEY));
        if (!code)
            return zo_fail(ZO_ERR_NOT_SUPPORTED,
                           "%s: 8-bit moments without \"%s\": written by zo's first 8-bit code map "
                           "(square-root codes), which this zo does not read (its map: %s); resume "
                           "it with the zo that wrote it and save with moments_dtype f32 or bf16",
                           path, ZO_MANIFEST_MOMENTS_CODE_KEY, ZO_MANIFEST_MOMENTS_CODE);
        if (strcmp(code, ZO_MANIFEST_MOMENTS_CODE) != 0)
            return zo_fail(ZO_ERR_NOT_SUPPORTED, "%s: 8-bit moments in the code map \"%s\"; this zo reads \"%s\"",
                           path, code, ZO_MANIFEST_MOMENTS_CODE);
    }
    m->ranks = (uint64_t)ranks, m->padded_elems = (uint64_t)padded;
    m->total_elems = (uint64_t)total, m->bucket_elems = (uint64_t)bucket;
    m->stage = (int)stage, m->steps = (uint64_t)steps, m->micro_steps = (uint64_t)micro;
    m->delayed_param_update = delayed, m->device_lags = lags;
    s->dynamic = dynamic, s->consecutive_hysteresis = consecutive, s->window = (uint64_t)window;
    s->hysteresis = (int)hysteresis, s->hysteresis_left = (int)hysteresis_left;
    s->iteration = (uint64_t)iteration, s->last_overflow_iteration = last_overflow;
    snprintf(m->save_id, sizeof m->save_id, "%s", save_id);
    snprintf(m->fingerprint, sizeof m->fingerprint, "%s", fingerprint);
    zo_status status = zo_manifest_params_from_json(m, params, path);
    return status ? status : zo_manifest_check_layout(m, path);
}

/* The format and version, then (from version 2) the checksum over everything else. */
static zo_status zo_manifest_check_version(zo_manifest *m, const json_t *root, const char *path)
{
    const char *format = "";
    json_int_t version = 0;
    if (json_unpack((json_t *)root, "{s:s, s:I}", "format", &format, "version", &version) != 0 ||
        strcmp(format, ZO_CHECKPOINT_FORMAT) != 0)
        return zo_fail(ZO_ERR_IO,
                       "%s is not a zo checkpoint manifest (no \"format\": \"%s\" and \"version\")",
                       path, ZO_CHECKPOINT_FORMAT);
    if (version > ZO_CHECKPOINT_VERSION || version < ZO_CHECKPOINT_OLDEST_VERSION)
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "%s: format version %lld; this zo reads versions %d to %d", path,
                       (long long)version, ZO_CHECKPOINT_OLDEST_VERSION, ZO_CHECKPOINT_VERSION);
    m->version = (uint64_t)version;
    if (version < 2)
        return ZO_OK;
    char expected[ZO_CHECKSUM_TEXT_BYTES];
    zo_status status = zo_json_checksum(root, NULL, ZO_MANIFEST_CHECKSUM_KEY, expected);
    const char *found = json_string_value(json_object_get(root, ZO_MANIFEST_CHECKSUM_KEY));
    if (status == ZO_OK && !found)
        status = zo_fail(ZO_ERR_IO,
                         "%s has no \"%s\" (version %lld has one): the file was edited or is "
                         "corrupted",
                         path, ZO_MANIFEST_CHECKSUM_KEY, (long long)version);
    else if (status == ZO_OK && !zo_checksum_matches(expected, found))
        status = zo_fail(ZO_ERR_IO,
                         "%s: its checksum %s does not match its contents (%s): the file was "
                         "edited or is corrupted",
                         path, found, expected);
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
    zo_status status = zo_manifest_check_version(m, root, path);
    if (status == ZO_OK)
        status = zo_manifest_from_json(m, root, path);
    json_decref(root);
    char recomputed[17];
    if (status == ZO_OK) {
        zo_manifest_fingerprint(m, recomputed);
        if (strcmp(recomputed, m->fingerprint) != 0)
            status =
                zo_fail(ZO_ERR_IO,
                        "%s: its fingerprint %s does not match its contents (%s): the file was "
                        "edited or is corrupted",
                        path, m->fingerprint, recomputed);
    }
    if (status != ZO_OK)
        zo_manifest_free(m);
    return status;
}
