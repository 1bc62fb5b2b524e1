/* One rank's shard file of a checkpoint: its metadata (which save, which rank, which
 * layout) and its three tensors, written by save and checked by load and export; and
 * the vote that keeps the ranks of a collective save or load together. Internal. */
#ifndef ZO_CHECKPOINT_SHARD_H
#define ZO_CHECKPOINT_SHARD_H

#include <jansson.h>
#include <stdbool.h>

#include "zo/adam.h"

#include "manifest.h"
#include "safetensors.h"

/* The tensors of a shard, in file order: the state (with 8-bit moments their block
 * scales too), then the device weights only when they lag (manifest.device_lags). */
enum {
    ZO_SHARD_MASTER = 0,
    ZO_SHARD_EXP_AVG = 1,
    ZO_SHARD_EXP_AVG_SQ = 2,
    ZO_SHARD_EXP_AVG_SCALE = 3,
    ZO_SHARD_EXP_AVG_SQ_SCALE = 4,
    ZO_SHARD_DEVICE_WEIGHTS = 5,
    ZO_SHARD_TENSORS = 6
};
extern const char *const zo_shard_tensor_names[ZO_SHARD_TENSORS];

/* Whether this checkpoint's shards hold tensor t, its dtype and its element count. */
static inline bool zo_shard_has_tensor(const zo_manifest *m, size_t tensor)
{
    if (tensor == ZO_SHARD_DEVICE_WEIGHTS)
        return m->device_lags;
    if (tensor == ZO_SHARD_EXP_AVG_SCALE || tensor == ZO_SHARD_EXP_AVG_SQ_SCALE)
        return m->moments_dtype == ZO_DTYPE_Q8;
    return tensor < ZO_SHARD_TENSORS;
}

static inline zo_dtype zo_shard_tensor_dtype(const zo_manifest *m, size_t tensor)
{
    bool codes = m->moments_dtype == ZO_DTYPE_Q8; /* int8 m, uint8 v (zo/adam.h) */
    switch (tensor) {
    case ZO_SHARD_EXP_AVG: return codes ? ZO_DTYPE_I8 : m->moments_dtype;
    case ZO_SHARD_EXP_AVG_SQ: return codes ? ZO_DTYPE_U8 : m->moments_dtype;
    case ZO_SHARD_DEVICE_WEIGHTS: return m->dtype;
    default: return ZO_DTYPE_F32; /* the master weights and the block scales */
    }
}

static inline uint64_t zo_shard_tensor_elems(const zo_manifest *m, size_t tensor)
{
    uint64_t shard = m->padded_elems / m->ranks;
    bool scales = tensor == ZO_SHARD_EXP_AVG_SCALE || tensor == ZO_SHARD_EXP_AVG_SQ_SCALE;
    return scales ? (uint64_t)zo_q8_block_count((size_t)shard) : shard;
}

/* The shard's __metadata__ (a new reference; NULL when out of memory). */
json_t *zo_shard_metadata(const zo_manifest *manifest, size_t rank);

/* Opens rank `rank`'s shard of the checkpoint in `dir` and checks it belongs there: its
 * metadata names this save, rank and layout, and its tensors have the manifest's dtypes
 * and the shard's size, each with a checksum. `tensors` gets them in the enum's order
 * (NULL where !zo_shard_has_tensor).
 * Errors: ZO_ERR_IO naming the file and what is wrong. */
zo_status zo_shard_open(const char *dir, const zo_manifest *manifest, size_t rank, zo_st_file *file,
                        const zo_st_entry *tensors[ZO_SHARD_TENSORS]);

/* Collective: every rank learns whether any failed. Returns `local` (with its message)
 * on a rank that failed, ZO_ERR_PEER on the others, ZO_OK when all succeeded. */
zo_status zo_checkpoint_agree(zo_engine *engine, zo_status local, const char *call);

#endif
