/* Where a checkpoint and its temporary siblings live, the two moves that make a save
 * atomic (swapping the finished <dir>.tmp in, and finishing a swap a crash cut short),
 * and when a save or load may run at all. Internal. */
#ifndef ZO_CHECKPOINT_PATHS_H
#define ZO_CHECKPOINT_PATHS_H

#include <stdbool.h>

#include "engine_internal.h"
#include "zo/status.h"

/* Save and load run between micro-steps only: with gradients handed over
 * (zo_engine_grad_ready) and no zo_engine_step yet, half a micro-step is in flight.
 * ZO_ERR_INVALID_ARGUMENT naming `call` and the first ready parameter. */
zo_status zo_checkpoint_check_between_micro_steps(const zo_engine *engine, const char *call);

typedef struct zo_checkpoint_paths {
    char dir[4096];     /* the checkpoint, without trailing slashes; where the name
                           given is a symbolic link, its target (resolved) */
    char staging[4160]; /* <dir>.tmp: the next checkpoint being written  */
    char retired[4160]; /* <dir>.old: the last one, only while two plain renames replace it
                           (file systems without an atomic exchange)  */
    char parent[4096];  /* the directory holding all three              */
} zo_checkpoint_paths;

/* Fills the paths for `dir`. A symbolic link at `dir` means its target: it is resolved
 * here, once (realpath), and the other names are the target's siblings. Refused by
 * name, naming `call`: a link to a missing directory or to a non-directory, and a `dir`
 * that exists but is not a directory (ZO_ERR_IO); a name too long
 * (ZO_ERR_INVALID_ARGUMENT). */
zo_status zo_checkpoint_paths_for(const char *dir, const char *call, zo_checkpoint_paths *out);

/* Makes the complete staging directory the checkpoint: one atomic exchange with an
 * existing <dir> (or one rename when there is none), the parent fsync'ed, the old one
 * removed. Where the file system cannot exchange (NFS), <dir> is renamed to <dir>.old
 * first: a crash between the two renames leaves <dir>.old whole, which
 * zo_checkpoint_recover (and load) find. ZO_ERR_IO. *swapped tells whether the new
 * checkpoint is in place: once it is, a failure (of the fsync, or of removing the old
 * one) says so in its message, and names what is left; before, <dir>.tmp still holds
 * only the new files (the caller removes it). */
zo_status zo_checkpoint_swap_in(const zo_checkpoint_paths *paths, bool *swapped);

/* Refuses (ZO_ERR_IO, by name, nothing removed) a <dir>.tmp or <dir>.old that is not a
 * real directory: a symbolic link, a regular file, a FIFO. Then, after a crash between
 * the two renames of the fallback: <dir> missing and <dir>.old present: renames
 * <dir>.old back. Otherwise removes a leftover <dir>.old. ZO_ERR_IO. */
zo_status zo_checkpoint_recover(const zo_checkpoint_paths *paths);

#endif
