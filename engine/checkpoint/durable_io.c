/* Whole-file I/O with errors that name the path, and the fsync/rename steps of
 * crash-safe checkpoints (see durable_io.h). */
#define _GNU_SOURCE /* renameat2 */
#include "durable_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

enum { ZO_IO_DEFAULT_CHUNK_BYTES = 8 << 20 };

/* Test-only fault injection (durable_io.h); all zero in production. */
static zo_io_test_settings zo_test_settings;
static size_t zo_write_chunk_bytes = ZO_IO_DEFAULT_CHUNK_BYTES;

void zo_io_set_test_settings(const zo_io_test_settings *settings)
{
    zo_test_settings = settings ? *settings : (zo_io_test_settings){0};
    zo_write_chunk_bytes = zo_test_settings.write_chunk_bytes ? zo_test_settings.write_chunk_bytes
                                                              : ZO_IO_DEFAULT_CHUNK_BYTES;
}

/* Runs the test hooks before a change; true (errno set) when a test makes it fail. */
static bool zo_before_change(const char *operation, const char *path)
{
    if (zo_test_settings.hook)
        zo_test_settings.hook(zo_test_settings.user, operation, path);
    int injected =
        zo_test_settings.fail ? zo_test_settings.fail(zo_test_settings.user, operation, path) : 0;
    if (injected)
        errno = injected;
    return injected != 0;
}

static zo_status zo_io_error(const char *what, const char *path)
{
    return zo_fail(ZO_ERR_IO, "cannot %s %s: %s", what, path, strerror(errno));
}

zo_status zo_io_create(const char *path, int *fd)
{
    /* O_NOFOLLOW: a symbolic link in a checkpoint being written is never written through */
    *fd = zo_before_change("create", path)
              ? -1
              : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    return *fd < 0 ? zo_io_error("create", path) : ZO_OK;
}

zo_status zo_io_open_read(const char *path, int *fd)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    return *fd < 0 ? zo_io_error("open", path) : ZO_OK;
}

/* One write loop for both: pwrite at an offset, or write at the file position. */
static zo_status zo_io_write_loop(int fd, const void *data, size_t bytes, int64_t offset,
                                  const char *path)
{
    const char *p = data;
    while (bytes > 0) {
        size_t piece = bytes < zo_write_chunk_bytes ? bytes : zo_write_chunk_bytes;
        ssize_t written = zo_before_change("write", path) ? -1
                          : offset < 0                    ? write(fd, p, piece)
                                                          : pwrite(fd, p, piece, (off_t)offset);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return written < 0
                       ? zo_io_error("write", path)
                       : zo_fail(ZO_ERR_IO, "cannot write %s: no progress (disk full?)", path);
        p += written, bytes -= (size_t)written;
        if (offset >= 0)
            offset += written;
    }
    return ZO_OK;
}

zo_status zo_io_write_all(int fd, const void *data, size_t bytes, const char *path)
{
    return zo_io_write_loop(fd, data, bytes, -1, path);
}

zo_status zo_io_write_at(int fd, const void *data, size_t bytes, uint64_t offset, const char *path)
{
    return zo_io_write_loop(fd, data, bytes, (int64_t)offset, path);
}

zo_status zo_io_read_at(int fd, void *data, size_t bytes, uint64_t offset, const char *path)
{
    if (zo_test_settings.before_read)
        zo_test_settings.before_read(zo_test_settings.user, path);
    char *p = data;
    while (bytes > 0) {
        ssize_t got = pread(fd, p, bytes, (off_t)offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return zo_io_error("read", path);
        if (got == 0)
            return zo_fail(
                ZO_ERR_IO,
                "%s is truncated: it ends at byte %llu, %zu bytes short of what its header "
                "promises",
                path, (unsigned long long)offset, bytes);
        p += got, bytes -= (size_t)got, offset += (uint64_t)got;
    }
    return ZO_OK;
}

zo_status zo_io_sync_close(int fd, const char *path)
{
    bool failed = zo_before_change("fsync", path) || fsync(fd) != 0;
    zo_status status = failed ? zo_io_error("fsync", path) : ZO_OK;
    if (close(fd) != 0 && status == ZO_OK)
        status = zo_io_error("close", path);
    return status;
}

zo_status zo_io_sync_dir(const char *dir)
{
    if (zo_before_change("fsync", dir))
        return zo_io_error("fsync directory", dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return zo_io_error("open directory", dir);
    zo_status status = fsync(fd) == 0 ? ZO_OK : zo_io_error("fsync directory", dir);
    close(fd);
    return status;
}

zo_status zo_io_mkdir(const char *path)
{
    bool failed = zo_before_change("mkdir", path) || mkdir(path, 0755) != 0;
    return !failed ? ZO_OK : zo_io_error("create directory", path);
}

zo_status zo_io_rename(const char *from, const char *to)
{
    if (!zo_before_change("rename", from) && rename(from, to) == 0)
        return ZO_OK;
    return zo_fail(ZO_ERR_IO, "cannot rename %s to %s: %s", from, to, strerror(errno));
}

zo_status zo_io_exchange(const char *a, const char *b)
{
    bool injected = zo_before_change("exchange", a);
    if (zo_test_settings.no_exchange && !injected)
        return zo_fail(ZO_ERR_NOT_SUPPORTED, "cannot exchange %s and %s: disabled for a test", a,
                       b);
    if (!injected && renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0)
        return ZO_OK;
    zo_status status =
        errno == EINVAL || errno == ENOSYS || errno == ENOTSUP ? ZO_ERR_NOT_SUPPORTED : ZO_ERR_IO;
    return zo_fail(status, "cannot exchange %s and %s: %s", a, b, strerror(errno));
}

/* Opens directory `dir` itself for listing, never a symbolic link's target. NULL with
 * *status ZO_OK when it is missing, ZO_ERR_IO naming what it is when not a directory. */
static DIR *zo_open_listing(const char *dir, zo_status *status)
{
    *status = ZO_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *listing = fd >= 0 ? fdopendir(fd) : NULL;
    if (listing)
        return listing;
    if (fd >= 0) {
        *status = zo_io_error("list directory", dir);
        close(fd);
    } else if (errno == ELOOP || errno == ENOTDIR) {
        zo_io_kind kind = zo_io_kind_of(dir);
        *status = kind == ZO_IO_MISSING
                      ? zo_io_error("open directory", dir)
                      : zo_fail(ZO_ERR_IO, "%s is %s, not a directory zo made; remove it", dir,
                                zo_io_kind_name(kind));
    } else if (errno != ENOENT) {
        *status = zo_io_error("open directory", dir);
    }
    return NULL;
}

/* A checkpoint's own entry: one of its names, and a regular file or a symbolic link
 * (removed as the link: unlinkat never follows one). A directory, FIFO or device under
 * such a name is not zo's. */
static bool zo_entry_is_ours(DIR *listing, const struct dirent *entry,
                             bool (*is_ours)(const char *name))
{
    if (!is_ours(entry->d_name))
        return false;
    unsigned char type = entry->d_type;
    struct stat info;
    if (type == DT_UNKNOWN &&
        fstatat(dirfd(listing), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0)
        type = S_ISREG(info.st_mode) ? DT_REG : S_ISLNK(info.st_mode) ? DT_LNK : DT_UNKNOWN;
    return type == DT_REG || type == DT_LNK;
}

static bool zo_is_dot_entry(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

zo_status zo_io_remove_checkpoint_dir(const char *dir, bool (*is_ours)(const char *name))
{
    zo_status status;
    DIR *listing = zo_open_listing(dir, &status);
    if (!listing)
        return status;
    char path[4096], foreign[256] = "";
    for (struct dirent *entry; status == ZO_OK && (entry = readdir(listing));) {
        if (zo_is_dot_entry(entry->d_name))
            continue;
        if (!zo_entry_is_ours(listing, entry, is_ours)) {
            if (!foreign[0])
                snprintf(foreign, sizeof foreign, "%s", entry->d_name);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        bool failed =
            zo_before_change("unlink", path) || unlinkat(dirfd(listing), entry->d_name, 0) != 0;
        if (failed && errno != ENOENT)
            status = zo_io_error("remove", path);
    }
    closedir(listing);
    if (status != ZO_OK)
        return status;
    if (foreign[0])
        return zo_fail(ZO_ERR_IO,
                       "cannot remove %s: it holds %s, which is not part of a zo checkpoint; "
                       "move it away or remove the directory yourself",
                       dir, foreign);
    if (!zo_before_change("rmdir", dir) && rmdir(dir) == 0)
        return ZO_OK;
    return errno == ENOENT ? ZO_OK : zo_io_error("remove directory", dir);
}

bool zo_io_dir_holds_only(const char *dir, bool (*is_ours)(const char *name))
{
    zo_status status;
    DIR *listing = zo_open_listing(dir, &status);
    if (!listing)
        return false;
    bool only_ours = true;
    for (struct dirent *entry; only_ours && (entry = readdir(listing));)
        only_ours = zo_is_dot_entry(entry->d_name) || zo_entry_is_ours(listing, entry, is_ours);
    closedir(listing);
    return only_ours;
}

zo_io_kind zo_io_kind_of(const char *path)
{
    struct stat info;
    if (lstat(path, &info) != 0)
        return errno == ENOENT || errno == ENOTDIR ? ZO_IO_MISSING : ZO_IO_UNKNOWN;
    return S_ISDIR(info.st_mode)   ? ZO_IO_DIRECTORY
           : S_ISLNK(info.st_mode) ? ZO_IO_SYMLINK
           : S_ISREG(info.st_mode) ? ZO_IO_REGULAR
                                   : ZO_IO_OTHER;
}

const char *zo_io_kind_name(zo_io_kind kind)
{
    switch (kind) {
    case ZO_IO_MISSING: return "missing";
    case ZO_IO_DIRECTORY: return "a directory";
    case ZO_IO_SYMLINK: return "a symbolic link";
    case ZO_IO_REGULAR: return "a regular file";
    case ZO_IO_UNKNOWN: return "a path zo cannot inspect";
    default: return "a special file (FIFO, socket or device)";
    }
}

bool zo_io_is_dir(const char *path) { return zo_io_kind_of(path) == ZO_IO_DIRECTORY; }

bool zo_io_is_file(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

void zo_io_parent_dir(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, size, ".");
    else if (slash == path)
        snprintf(out, size, "/");
    else
        snprintf(out, size, "%.*s", (int)(slash - path), path);
}
