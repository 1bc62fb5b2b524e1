/* Where a checkpoint and its temporary siblings live, and the two moves that make a
 * save atomic: swapping the finished <dir>.tmp in, and finishing a swap a crash cut
 * short. Internal. */
#ifndef ZO_CHECKPOINT_PATHS_H
#define ZO_CHECKPOINT_PATHS_H

#include "zo/status.h"

typedef struct zo_checkpoint_paths {
    char dir[4096];     /* the checkpoint, without trailing slashes      */
    char staging[4160]; /* <dir>.tmp: the next checkpoint being written  */
    char retired[4160]; /* <dir>.old: the last one, only while two plain renames replace it
                           (file systems without an atomic exchange)  */
    char parent[4096];  /* the directory holding all three              */
} zo_checkpoint_paths;

/* Fills the paths for `dir`. ZO_ERR_INVALID_ARGUMENT (too long), naming `call`. */
zo_status zo_checkpoint_paths_for(const char *dir, const char *call, zo_checkpoint_paths *out);

/* Makes the complete staging directory the checkpoint: one atomic exchange with an
 * existing <dir> (or one rename when there is none), the parent fsync'ed, the old one
 * removed. Where the file system cannot exchange (NFS), <dir> is renamed to <dir>.old
 * first: a crash between the two renames leaves <dir>.old whole, which
 * zo_checkpoint_recover (and load) find. ZO_ERR_IO. */
zo_status zo_checkpoint_swap_in(const zo_checkpoint_paths *paths);

/* After a crash between the two renames of the fallback: <dir> missing and <dir>.old
 * present: renames <dir>.old back. Otherwise removes a leftover <dir>.old. ZO_ERR_IO. */
zo_status zo_checkpoint_recover(const zo_checkpoint_paths *paths);

#endif
