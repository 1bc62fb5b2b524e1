/* A checkpoint's shard files and the ranks' vote (shard.h). */
#include "shard.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "safetensors_names.h"

const char *const zo_shard_tensor_names[ZO_SHARD_TENSORS] = {
    "master", "exp_avg", "exp_avg_sq", "exp_avg_scale", "exp_avg_sq_scale", "device_weights"};

/* The metadata values, as safetensors wants them (strings), in one order for writing
 * and checking. From version 2 the micro-step count too (version 1 wrote the rest). */
enum { ZO_SHARD_METADATA_FIELDS = 8 };
typedef struct zo_shard_fields {
    const char *keys[ZO_SHARD_METADATA_FIELDS];
    const char *values[ZO_SHARD_METADATA_FIELDS];
    char version[32], rank[32], ranks[32], step[32], micro_steps[32];
    size_t count;
} zo_shard_fields;

static void zo_shard_fields_of(const zo_manifest *m, size_t rank, zo_shard_fields *f)
{
    snprintf(f->version, sizeof f->version, "%llu", (unsigned long long)m->version);
    snprintf(f->rank, sizeof f->rank, "%zu", rank);
    snprintf(f->ranks, sizeof f->ranks, "%llu", (unsigned long long)m->ranks);
    snprintf(f->step, sizeof f->step, "%llu", (unsigned long long)m->steps);
    snprintf(f->micro_steps, sizeof f->micro_steps, "%llu", (unsigned long long)m->micro_steps);
    const char *keys[] = {"format",      "version", "rank", "ranks",
                          "fingerprint", "save_id", "step", "micro_steps"};
    const char *values[] = {ZO_CHECKPOINT_FORMAT, f->version, f->rank, f->ranks,
                            m->fingerprint,       m->save_id, f->step, f->micro_steps};
    f->count = m->version >= 2 ? ZO_SHARD_METADATA_FIELDS : ZO_SHARD_METADATA_FIELDS - 1;
    memcpy(f->keys, keys, sizeof keys);
    memcpy(f->values, values, sizeof values);
}

json_t *zo_shard_metadata(const zo_manifest *m, size_t rank)
{
    zo_shard_fields fields;
    zo_shard_fields_of(m, rank, &fields);
    json_t *metadata = json_object();
    for (size_t k = 0; metadata && k < fields.count; k++)
        if (json_object_set_new(metadata, fields.keys[k], json_string(fields.values[k])) != 0) {
            json_decref(metadata);
            return NULL;
        }
    return metadata;
}

/* Every metadata field against the manifest (the step and micro-step count too: the
 * manifest's checksum covers them there, the header's here, and they must agree), and
 * from version 2 the header's own checksum present (zo_st_open checked its value). */
static zo_status zo_shard_check_metadata(const zo_st_file *f, const zo_manifest *m, size_t rank)
{
    zo_shard_fields fields;
    zo_shard_fields_of(m, rank, &fields);
    for (size_t k = 0; k < fields.count; k++) {
        const char *value = zo_st_metadata(f, fields.keys[k]);
        if (!value || strcmp(value, fields.values[k]) != 0)
            return zo_fail(
                ZO_ERR_IO,
                "%s does not belong to this checkpoint: its %s is %s, the manifest says %s%s",
                f->path, fields.keys[k], value ? value : "missing", fields.values[k],
                strcmp(fields.keys[k], "save_id") == 0 ? " (a shard of another save)" : "");
    }
    if (m->version >= 2 && !f->has_header_checksum)
        return zo_fail(ZO_ERR_IO,
                       "%s has no header checksum (%s), which version %llu writes: the file was "
                       "edited or is corrupted",
                       f->path, ZO_ST_HEADER_CHECKSUM_KEY, (unsigned long long)m->version);
    return ZO_OK;
}

zo_status zo_shard_open(const char *dir, const zo_manifest *m, size_t rank, zo_st_file *f,
                        const zo_st_entry *tensors[ZO_SHARD_TENSORS])
{
    char path[4200];
    zo_checkpoint_shard_path(dir, rank, m->ranks, path, sizeof path);
    zo_status status = zo_st_open(path, f);
    if (status == ZO_OK)
        status = zo_shard_check_metadata(f, m, rank);
    for (size_t t = 0; t < ZO_SHARD_TENSORS; t++)
        tensors[t] = NULL;
    for (size_t t = 0; status == ZO_OK && t < ZO_SHARD_TENSORS; t++) {
        if (!zo_shard_has_tensor(m, t))
            continue;
        zo_dtype dtype = zo_shard_tensor_dtype(m, t);
        uint64_t shard_elems = zo_shard_tensor_elems(m, t);
        const zo_st_entry *entry = tensors[t] = zo_st_find(f, zo_shard_tensor_names[t]);
        if (!entry)
            status = zo_fail(ZO_ERR_IO, "%s has no tensor %s", path, zo_shard_tensor_names[t]);
        else if (entry->dtype != dtype || entry->elems != shard_elems)
            status = zo_fail(
                ZO_ERR_IO,
                "%s: tensor %s is %llu elements of %s, the manifest's layout needs %llu of %s",
                path, entry->name, (unsigned long long)entry->elems, zo_dtype_name(entry->dtype),
                (unsigned long long)shard_elems, zo_dtype_name(dtype));
        else if (!entry->has_checksum)
            status = zo_fail(ZO_ERR_IO, "%s: tensor %s has no checksum in the metadata", path,
                             entry->name);
    }
    if (status != ZO_OK && f->fd >= 0)
        zo_st_close(f);
    return status;
}

zo_status zo_checkpoint_agree(zo_engine *e, zo_status local, const char *call)
{
    char kept[1024];
    snprintf(kept, sizeof kept, "%s", zo_last_error());
    bool failed = local != ZO_OK;
    zo_status status = zo_comm_allreduce_or(&e->comm, &failed);
    if (local != ZO_OK)
        return zo_fail(local, "%s", kept);
    if (status != ZO_OK)
        return status;
    if (failed)
        return zo_fail(ZO_ERR_PEER,
                       "%s: another rank failed (its own error says why); rank %zu changed nothing",
                       call, e->rank);
    return ZO_OK;
}
