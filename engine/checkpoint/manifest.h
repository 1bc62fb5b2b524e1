/* A checkpoint's manifest.json: what the shards hold and what an engine must match to
 * load them, plus the scalars of the state (step, loss scaler). Also the names of a
 * checkpoint's files. Internal. */
#ifndef ZO_CHECKPOINT_MANIFEST_H
#define ZO_CHECKPOINT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine_internal.h"

/* Version 2 added the checksums of manifest.json and of each shard's header, and the
 * shards' "micro_steps"; version 1 (no checksums) still loads, with a notice. */
enum { ZO_CHECKPOINT_VERSION = 2, ZO_CHECKPOINT_OLDEST_VERSION = 1 };

#define ZO_CHECKPOINT_FORMAT "zo-checkpoint"
/* With 8-bit moments, the code map their codes and scales are in (zo/adam.h), under
 * "moments_code". zo's first 8-bit map (square-root codes, 2026-12-01) wrote none:
 * such a checkpoint is refused by name rather than read with the wrong map. */
#define ZO_MANIFEST_MOMENTS_CODE_KEY "moments_code"
#define ZO_MANIFEST_MOMENTS_CODE "small-float e4m3 (m), e4m4 (sqrt v), block 256"
#define ZO_CHECKPOINT_MANIFEST "manifest.json"
/* The manifest's member holding the CRC-32C of its canonical text without that member
 * (json_checksum.h): a hand edit or a flipped bit anywhere is refused. */
#define ZO_MANIFEST_CHECKSUM_KEY "checksum"

typedef struct zo_manifest {
    uint64_t version;
    uint64_t ranks, padded_elems, total_elems, bucket_elems;
    zo_dtype dtype, moments_dtype;
    int stage;
    bool delayed_param_update;
    bool device_lags;     /* delayed update: the device still holds the weights of the
                             step before, and the shards hold them too ("device_weights") */
    char fingerprint[17]; /* hex FNV-1a 64 of what an engine must match */
    char save_id[17];     /* hex, the same in every shard of one save    */
    uint64_t steps, micro_steps;
    zo_loss_scaler scaler;
    size_t param_count;
    char **param_names;
    uint64_t *param_offset, *param_elems;
} zo_manifest;

/* Sets the fingerprint from the fields (zo_manifest_from_engine does it). */
void zo_manifest_seal(zo_manifest *manifest);
/* The fingerprint of the fields, as 16 hex digits. */
void zo_manifest_fingerprint(const zo_manifest *manifest, char out[17]);
/* Room for `count` parameters (zeroed); on failure ZO_ERR_OUT_OF_MEMORY and the
 * manifest freed. */
zo_status zo_manifest_alloc_params(zo_manifest *manifest, size_t count);

/* The manifest of `engine`'s current state (names copied). ZO_ERR_OUT_OF_MEMORY. */
zo_status zo_manifest_from_engine(const zo_engine *engine, uint64_t save_id, zo_manifest *out);
/* manifest.json in `dir`, created, written and fsync'ed (not renamed: the directory is
 * the unit that gets renamed), with its checksum from version 2 on. Every step of
 * building the JSON is checked. ZO_ERR_IO, ZO_ERR_OUT_OF_MEMORY, ZO_ERR_INTERNAL (jansson
 * refused a value, named). */
zo_status zo_manifest_write(const zo_manifest *manifest, const char *dir);
/* Reads and checks `dir`/manifest.json: its checksum (version 2), every field's type and
 * range, and the fields' consistency (step <= micro_steps, the loss scaler's counters,
 * the layout). Errors: ZO_ERR_IO (missing, not JSON, edited or corrupted, a missing,
 * mistyped or out-of-range field: named), ZO_ERR_NOT_SUPPORTED (a newer version). */
zo_status zo_manifest_read(const char *dir, zo_manifest *out);
void zo_manifest_free(zo_manifest *manifest);

/* ZO_OK when `engine` can take this checkpoint; else ZO_ERR_CONFIG naming the first
 * difference (rank count, parameter count, a parameter's name or size, bucket size,
 * precision, moments dtype, an accumulation the saved micro-step count cuts). */
zo_status zo_manifest_check_engine(const zo_manifest *manifest, const zo_engine *engine,
                                   const char *dir);

/* A load of an older version says so in zo_engine_notice (appended): its manifest and
 * shard headers had no checksums. Nothing for the current version. */
void zo_manifest_note_version(const zo_manifest *manifest, zo_engine *engine, const char *dir);

/* The layout of the shards (ranks, padded_elems, bucket_elems, bucket_count), for the
 * geometry helpers of partition.h; parameters are not filled in. */
zo_partition zo_manifest_geometry(const zo_manifest *manifest);

/* "rank<R>-of-<N>.safetensors" inside `dir`, into out[size]. */
void zo_checkpoint_shard_path(const char *dir, size_t rank, size_t ranks, char *out, size_t size);
/* Whether `name` is one of the files a checkpoint directory holds (what a save may remove). */
bool zo_checkpoint_owns_file(const char *name);

#endif
