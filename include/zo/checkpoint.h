/* Checkpoints of an engine's offloaded state (fp32 master weights, both Adam moments,
 * step count, loss-scaler state) in the safetensors format, written crash-safely, and
 * their export to one fp32 safetensors file per model. Guide (the format, the resume
 * procedure, crash safety): docs/checkpoints.md. */
#ifndef ZO_CHECKPOINT_H
#define ZO_CHECKPOINT_H

#include "zo/api.h"
#include "zo/engine.h"
#include "zo/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the engine's state to directory `dir`: one file per rank,
 * `rank<R>-of-<N>.safetensors` (tensors "master", "exp_avg", "exp_avg_sq": the rank's
 * shard, flat, each with a CRC-32C), and `manifest.json` (layout, dtypes, step,
 * loss-scaler state, config fingerprint). The new checkpoint is built in `<dir>.tmp`,
 * every file fsync'ed, and swapped with the old `dir` in one atomic rename: after a
 * crash at any point, `dir` holds the old checkpoint or the new one, whole. `dir`'s
 * parent must exist; an existing `dir` must be a zo checkpoint (or empty). Collective
 * over the ranks (all call it; the directory must be on a file system they share).
 * Call it between steps, at the end of an accumulation. A symbolic link at `dir`
 * means its target (resolved once; a link to nothing is refused); `<dir>.tmp` and
 * `<dir>.old` must be zo's own directories or absent (a link or file there is refused,
 * never followed). Only files with zo's exact names are ever removed. Errors:
 * ZO_ERR_INVALID_ARGUMENT (NULL or empty argument; inside an accumulation; between
 * zo_engine_grad_ready and zo_engine_step), ZO_ERR_IO (with the path and the system's
 * reason; the old checkpoint stays, unless the message says the new one is saved and
 * only removing the previous one failed), ZO_ERR_PEER (another rank failed),
 * ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
ZO_API zo_status zo_engine_save(zo_engine *engine, const char *dir);

/* Restores what zo_engine_save wrote into an engine created with the same parameters
 * (names and sizes), rank count, bucket size, precision and moments dtype; the
 * optimizer's hyper-parameters, schedule, clipping and loss-scaling settings come from
 * the engine's own config (they may change on resume). The master weights then go to
 * the device. Two passes over the files, and no second copy of the state in memory:
 * everything is checked first (layout, shapes, every tensor's checksum, on every
 * rank), and a bad checkpoint leaves every rank's engine unchanged; then the tensors
 * are read into the engine. Only a file that changes or cannot be read between the
 * two passes fails in the second (ZO_ERR_IO saying the state is partly replaced).
 * Collective. Errors: ZO_ERR_IO (no such directory,
 * missing or truncated file, checksum mismatch, a malformed or inconsistent file; the
 * message names the file and what is wrong), ZO_ERR_CONFIG (saved by another rank count,
 * for other parameters, bucket size, precision or moments dtype: the message names
 * which), ZO_ERR_NOT_SUPPORTED (a newer format version), ZO_ERR_PEER (another rank
 * failed), ZO_ERR_INVALID_ARGUMENT (NULL or empty argument; gradients handed over
 * with no step yet), ZO_ERR_OUT_OF_MEMORY, ZO_ERR_DEVICE. */
ZO_API zo_status zo_engine_load(zo_engine *engine, const char *dir);

/* The step counters a resumed loop reads, zo_engine_micro_step_count and
 * zo_engine_step_count, are in zo/engine.h. */

/* Merges the shards of checkpoint `dir` into one safetensors file at `out_path`: one
 * 1-D F32 tensor per parameter, named as registered, holding its master weights
 * (reshape in the reader: the engine knows sizes, not shapes). Checksums are verified
 * first; the output is written to `<out_path>.tmp` and renamed. Needs no engine and no
 * MPI. Errors: ZO_ERR_IO, ZO_ERR_CONFIG (two parameters of one name), ZO_ERR_NOT_SUPPORTED,
 * ZO_ERR_INVALID_ARGUMENT, ZO_ERR_OUT_OF_MEMORY. */
ZO_API zo_status zo_checkpoint_export(const char *dir, const char *out_path);

#ifdef __cplusplus
}
#endif

#endif
