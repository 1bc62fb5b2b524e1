/* A checkpoint's shard files and the ranks' vote (checkpoint_shard.h). */
#include "checkpoint_shard.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

const char *const zo_shard_tensor_names[ZO_SHARD_TENSORS] = {"master", "exp_avg", "exp_avg_sq",
                                                             "device_weights"};

json_t *zo_shard_metadata(const zo_manifest *m, size_t rank)
{
    /* safetensors metadata values are strings */
    char step[32], rank_text[32], ranks_text[32];
    snprintf(step, sizeof step, "%llu", (unsigned long long)m->steps);
    snprintf(rank_text, sizeof rank_text, "%zu", rank);
    snprintf(ranks_text, sizeof ranks_text, "%llu", (unsigned long long)m->ranks);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "format", ZO_CHECKPOINT_FORMAT,
                     "version", "1", "rank", rank_text, "ranks", ranks_text, "save_id", m->save_id,
                     "fingerprint", m->fingerprint, "step", step);
}

static zo_status zo_shard_check_metadata(const zo_st_file *f, const zo_manifest *m, size_t rank)
{
    char expected_rank[32], expected_ranks[32];
    snprintf(expected_rank, sizeof expected_rank, "%zu", rank);
    snprintf(expected_ranks, sizeof expected_ranks, "%llu", (unsigned long long)m->ranks);
    const char *keys[] = {"format", "rank", "ranks", "fingerprint", "save_id"};
    const char *expected[] = {ZO_CHECKPOINT_FORMAT, expected_rank, expected_ranks, m->fingerprint,
                              m->save_id};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *value = zo_st_metadata(f, keys[k]);
        if (!value || strcmp(value, expected[k]) != 0)
            return zo_fail(
                ZO_ERR_IO,
                "%s does not belong to this checkpoint: its %s is %s, the manifest says %s%s",
                f->path, keys[k], value ? value : "missing", expected[k],
                k == 4 ? " (a shard of another save)" : "");
    }
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
    uint64_t shard_elems = m->padded_elems / m->ranks;
    for (size_t t = 0; t < ZO_SHARD_TENSORS; t++)
        tensors[t] = NULL;
    for (size_t t = 0; status == ZO_OK && t < zo_shard_tensor_count(m); t++) {
        zo_dtype dtype = zo_shard_tensor_dtype(m, t);
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
    zo_status status = e->comm.ops->allreduce_or(e->comm.ctx, &failed);
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
