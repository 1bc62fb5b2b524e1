/* The checkpoint's directory names and the atomic swap (checkpoint_paths.h). */
#include "checkpoint_paths.h"

#include <stdio.h>
#include <string.h>

#include "checkpoint_manifest.h"
#include "durable_io.h"
#include "error.h"

zo_status zo_checkpoint_paths_for(const char *dir, const char *call, zo_checkpoint_paths *p)
{
    size_t length = strlen(dir);
    while (length > 1 && dir[length - 1] == '/')
        length--;
    if (length >= sizeof p->dir)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: the directory name is %zu bytes long", call,
                       length);
    snprintf(p->dir, sizeof p->dir, "%.*s", (int)length, dir);
    snprintf(p->staging, sizeof p->staging, "%s.tmp", p->dir);
    snprintf(p->retired, sizeof p->retired, "%s.old", p->dir);
    zo_io_parent_dir(p->dir, p->parent, sizeof p->parent);
    return ZO_OK;
}

zo_status zo_checkpoint_recover(const zo_checkpoint_paths *p)
{
    if (!zo_io_is_dir(p->retired))
        return ZO_OK;
    if (zo_io_is_dir(p->dir))
        return zo_io_remove_checkpoint_dir(p->retired, zo_checkpoint_owns_file);
    zo_status status = zo_io_rename(p->retired, p->dir);
    return status ? status : zo_io_sync_dir(p->parent);
}

/* Without an atomic exchange: old aside, new in, old removed. */
static zo_status zo_swap_by_two_renames(const zo_checkpoint_paths *p)
{
    zo_status status = zo_io_rename(p->dir, p->retired);
    if (status == ZO_OK)
        status = zo_io_rename(p->staging, p->dir);
    if (status == ZO_OK)
        status = zo_io_sync_dir(p->parent);
    if (status == ZO_OK) /* as below: the new checkpoint is in place either way */
        zo_io_remove_checkpoint_dir(p->retired, zo_checkpoint_owns_file);
    return status;
}

zo_status zo_checkpoint_swap_in(const zo_checkpoint_paths *p)
{
    if (!zo_io_is_dir(p->dir)) {
        zo_status status = zo_io_rename(p->staging, p->dir);
        return status ? status : zo_io_sync_dir(p->parent);
    }
    zo_status status = zo_io_exchange(p->staging, p->dir);
    if (status == ZO_ERR_NOT_SUPPORTED)
        return zo_swap_by_two_renames(p);
    if (status == ZO_OK)
        status = zo_io_sync_dir(p->parent);
    /* The staging name now holds the old checkpoint. The new one is in place whatever
     * happens here; a leftover is removed by the next save. */
    if (status == ZO_OK)
        zo_io_remove_checkpoint_dir(p->staging, zo_checkpoint_owns_file);
    return status;
}
