/* The checkpoint's directory names and the atomic swap (paths.h). */
#define _DEFAULT_SOURCE /* realpath, readlink */
#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest.h"
#include "durable_io.h"
#include "error.h"

zo_status zo_checkpoint_check_between_micro_steps(const zo_engine *e, const char *call)
{
    for (size_t i = 0; i < e->layout.param_count; i++)
        if (e->param_ready[i])
            return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                           "%s: a micro-step is in progress (parameter %s is ready): call "
                           "zo_engine_step first",
                           call, e->layout.param_names[i]);
    return ZO_OK;
}

/* A symbolic link at the checkpoint's name stands for its target (`latest ->
 * step_2000`): resolved once, so that a save swaps real directories next to the target
 * and the link stays as it was. A link to nothing or to a non-directory is refused by
 * name: writing through it would create or replace its target by surprise. */
static zo_status zo_resolve_link(const char *name, const char *call, char *out, size_t size)
{
    char *target = realpath(name, NULL);
    if (!target) {
        int reason = errno;
        char points_to[4096] = "?";
        ssize_t length = readlink(name, points_to, sizeof points_to - 1);
        points_to[length > 0 ? length : 1] = '\0';
        if (reason == ENOENT)
            return zo_fail(ZO_ERR_IO,
                           "%s: %s is a symbolic link to a missing directory, %s; create it or "
                           "point the link at a checkpoint",
                           call, name, points_to);
        return zo_fail(ZO_ERR_IO, "%s: cannot resolve the symbolic link %s (to %s): %s", call, name,
                       points_to, strerror(reason));
    }
    zo_io_kind kind = zo_io_kind_of(target);
    zo_status status = ZO_OK;
    if (kind != ZO_IO_DIRECTORY)
        status = zo_fail(ZO_ERR_IO,
                         "%s: %s is a symbolic link to %s, which is %s, not a checkpoint directory",
                         call, name, target, zo_io_kind_name(kind));
    else if (strlen(target) >= size)
        status = zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: the directory name %s is %zu bytes long",
                         call, target, strlen(target));
    else
        snprintf(out, size, "%s", target);
    free(target);
    return status;
}

zo_status zo_checkpoint_paths_for(const char *dir, const char *call, zo_checkpoint_paths *p)
{
    size_t length = strlen(dir);
    while (length > 1 && dir[length - 1] == '/')
        length--;
    if (length >= sizeof p->dir)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: the directory name is %zu bytes long", call,
                       length);
    snprintf(p->dir, sizeof p->dir, "%.*s", (int)length, dir);
    zo_io_kind kind = zo_io_kind_of(p->dir);
    zo_status status = ZO_OK;
    if (kind == ZO_IO_SYMLINK)
        status = zo_resolve_link(p->dir, call, p->dir, sizeof p->dir);
    else if (kind != ZO_IO_MISSING && kind != ZO_IO_DIRECTORY)
        status = zo_fail(ZO_ERR_IO, "%s: %s is %s, not a checkpoint directory", call, p->dir,
                         zo_io_kind_name(kind));
    if (status != ZO_OK)
        return status;
    snprintf(p->staging, sizeof p->staging, "%s.tmp", p->dir);
    snprintf(p->retired, sizeof p->retired, "%s.old", p->dir);
    zo_io_parent_dir(p->dir, p->parent, sizeof p->parent);
    return ZO_OK;
}

/* <dir>.tmp and <dir>.old are zo's own: a real directory or nothing. Anything else
 * there, above all a symbolic link (a removal that followed it would delete another
 * checkpoint), is refused by name and nothing is removed. */
static zo_status zo_check_sibling(const char *path)
{
    zo_io_kind kind = zo_io_kind_of(path);
    if (kind == ZO_IO_MISSING || kind == ZO_IO_DIRECTORY)
        return ZO_OK;
    return zo_fail(ZO_ERR_IO, "zo_engine_save: %s is %s, not a directory zo made; remove it", path,
                   zo_io_kind_name(kind));
}

zo_status zo_checkpoint_recover(const zo_checkpoint_paths *p)
{
    zo_status status = zo_check_sibling(p->staging);
    if (status == ZO_OK)
        status = zo_check_sibling(p->retired);
    if (status != ZO_OK || !zo_io_is_dir(p->retired))
        return status;
    if (zo_io_is_dir(p->dir))
        return zo_io_remove_checkpoint_dir(p->retired, zo_checkpoint_owns_file);
    status = zo_io_rename(p->retired, p->dir);
    return status ? status : zo_io_sync_dir(p->parent);
}

/* After the swap the new checkpoint is in place: the parent fsync'ed and `previous`
 * (the old checkpoint's new name, NULL if there was none) removed. A failure then says
 * that the new one is saved, and what is left for the user to remove. */
static zo_status zo_finish_swap(const zo_checkpoint_paths *p, const char *previous)
{
    zo_status status = zo_io_sync_dir(p->parent);
    const char *step = "making the swap durable (fsync of its directory)";
    if (status == ZO_OK && previous) {
        status = zo_io_remove_checkpoint_dir(previous, zo_checkpoint_owns_file);
        step = "removing the previous one";
    }
    if (status == ZO_OK)
        return ZO_OK;
    char cause[1024]; /* zo_fail writes where zo_last_error() points */
    snprintf(cause, sizeof cause, "%s", zo_last_error());
    return zo_fail(ZO_ERR_IO,
                   "zo_engine_save: the new checkpoint is saved in %s; %s failed: %s%s%s%s", p->dir,
                   step, cause, previous ? "; the previous one is left in " : "",
                   previous ? previous : "", previous ? ": remove it yourself" : "");
}

/* Without an atomic exchange: old aside, new in, old removed. */
static zo_status zo_swap_by_two_renames(const zo_checkpoint_paths *p, bool *swapped)
{
    zo_status status = zo_io_rename(p->dir, p->retired);
    if (status == ZO_OK)
        status = zo_io_rename(p->staging, p->dir);
    if (status != ZO_OK) /* <dir>.old, if made, is whole: load and the next save find it */
        return status;
    *swapped = true;
    return zo_finish_swap(p, p->retired);
}

zo_status zo_checkpoint_swap_in(const zo_checkpoint_paths *p, bool *swapped)
{
    *swapped = false;
    if (!zo_io_is_dir(p->dir)) {
        zo_status status = zo_io_rename(p->staging, p->dir);
        *swapped = status == ZO_OK;
        return status ? status : zo_finish_swap(p, NULL);
    }
    zo_status status = zo_io_exchange(p->staging, p->dir);
    if (status == ZO_ERR_NOT_SUPPORTED)
        return zo_swap_by_two_renames(p, swapped);
    if (status != ZO_OK)
        return status;
    *swapped = true; /* the staging name now holds the old checkpoint */
    return zo_finish_swap(p, p->staging);
}
