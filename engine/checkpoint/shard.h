/* One rank's shard file of a checkpoint: its metadata (which save, which rank, which
 * layout) and its three tensors, written by save and checked by load and export; and
 * the vote that keeps the ranks of a collective save or load together. Internal. */
#ifndef ZO_CHECKPOINT_SHARD_H
#define ZO_CHECKPOINT_SHARD_H

#include <jansson.h>

#include "manifest.h"
#include "safetensors.h"

/* The tensors of a shard, in file order; the device weights only when they lag
 * (manifest.device_lags). */
enum {
    ZO_SHARD_MASTER = 0,
    ZO_SHARD_EXP_AVG = 1,
    ZO_SHARD_EXP_AVG_SQ = 2,
    ZO_SHARD_DEVICE_WEIGHTS = 3,
    ZO_SHARD_TENSORS = 4
};
extern const char *const zo_shard_tensor_names[ZO_SHARD_TENSORS];

/* How many of them this checkpoint's shards hold, and the dtype of each. */
static inline size_t zo_shard_tensor_count(const zo_manifest *m) { return m->device_lags ? 4 : 3; }
static inline zo_dtype zo_shard_tensor_dtype(const zo_manifest *m, size_t tensor)
{
    return tensor == ZO_SHARD_MASTER           ? ZO_DTYPE_F32
           : tensor == ZO_SHARD_DEVICE_WEIGHTS ? m->dtype
                                               : m->moments_dtype;
}

/* The shard's __metadata__ (a new reference; NULL when out of memory). */
json_t *zo_shard_metadata(const zo_manifest *manifest, size_t rank);

/* Opens rank `rank`'s shard of the checkpoint in `dir` and checks it belongs there: its
 * metadata names this save, rank and layout, and its tensors have the manifest's dtypes
 * and the shard's size, each with a checksum. `tensors` gets them in the enum's order
 * (NULL past zo_shard_tensor_count).
 * Errors: ZO_ERR_IO naming the file and what is wrong. */
zo_status zo_shard_open(const char *dir, const zo_manifest *manifest, size_t rank, zo_st_file *file,
                        const zo_st_entry *tensors[ZO_SHARD_TENSORS]);

/* Collective: every rank learns whether any failed. Returns `local` (with its message)
 * on a rank that failed, ZO_ERR_PEER on the others, ZO_OK when all succeeded. */
zo_status zo_checkpoint_agree(zo_engine *engine, zo_status local, const char *call);

#endif
