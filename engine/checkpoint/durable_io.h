/* The file operations of crash-safe checkpoints: whole writes and reads with errors
 * that name the path, fsync of files and directories, atomic renames, and removal of a
 * checkpoint directory. Every call that changes the file system first calls the fault
 * hook, so tests can kill the process at each point of a save. Internal. */
#ifndef ZO_DURABLE_IO_H
#define ZO_DURABLE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/status.h"

/* Creates (or truncates) `path` for writing, mode 0644; a symbolic link there is not
 * followed (ZO_ERR_IO). Errors: ZO_ERR_IO. */
zo_status zo_io_create(const char *path, int *fd);
/* Opens `path` for reading. Errors: ZO_ERR_IO ("cannot open ...: reason"). */
zo_status zo_io_open_read(const char *path, int *fd);
/* Writes all `bytes` (in pieces of at most zo_io_write_chunk_bytes()). ZO_ERR_IO. */
zo_status zo_io_write_all(int fd, const void *data, size_t bytes, const char *path);
/* Writes all `bytes` at `offset` without moving the file position. ZO_ERR_IO. */
zo_status zo_io_write_at(int fd, const void *data, size_t bytes, uint64_t offset, const char *path);
/* Reads exactly `bytes` at `offset`; a file that ends first is ZO_ERR_IO ("truncated"). */
zo_status zo_io_read_at(int fd, void *data, size_t bytes, uint64_t offset, const char *path);
/* fsync, then close (the descriptor is closed even on failure). ZO_ERR_IO. */
zo_status zo_io_sync_close(int fd, const char *path);
/* fsync of a directory, so the names created or renamed in it are durable. */
zo_status zo_io_sync_dir(const char *dir);
zo_status zo_io_mkdir(const char *path);
/* rename(2): atomic replacement of `to` by `from` (a file, or a directory onto an
 * absent name). */
zo_status zo_io_rename(const char *from, const char *to);
/* Swaps two existing directories in one atomic step (renameat2 RENAME_EXCHANGE).
 * ZO_ERR_NOT_SUPPORTED where the file system or kernel cannot (NFS, old kernels). */
zo_status zo_io_exchange(const char *a, const char *b);
/* Removes the entries of checkpoint directory `dir` whose names `is_ours` accepts and
 * that are regular files or symbolic links (a link is removed itself, never followed:
 * entries are unlinked relative to the directory, opened with O_NOFOLLOW), then `dir`.
 * Anything else in it is left alone and the directory kept (ZO_ERR_IO naming the first
 * such entry). `dir` itself must be a real directory: a symbolic link or any other file
 * there is refused by name (ZO_ERR_IO) and nothing removed. A missing `dir` is not an
 * error. */
zo_status zo_io_remove_checkpoint_dir(const char *dir, bool (*is_ours)(const char *name));
/* Whether `dir` is a real directory (not a link to one) whose every entry is one that
 * zo_io_remove_checkpoint_dir would remove (true when empty). */
bool zo_io_dir_holds_only(const char *dir, bool (*is_ours)(const char *name));
/* What `path` itself is, by lstat: a symbolic link is reported, never followed. */
typedef enum zo_io_kind {
    ZO_IO_MISSING,
    ZO_IO_DIRECTORY,
    ZO_IO_SYMLINK,
    ZO_IO_REGULAR,
    ZO_IO_OTHER,  /* a FIFO, socket or device */
    ZO_IO_UNKNOWN /* lstat failed otherwise (permissions) */
} zo_io_kind;
zo_io_kind zo_io_kind_of(const char *path);
/* "a symbolic link", "a regular file", ... for messages. */
const char *zo_io_kind_name(zo_io_kind kind);
/* Whether `path` is a real directory (lstat: a symbolic link to one is not). */
bool zo_io_is_dir(const char *path);
/* Whether `path` exists and is a regular file (stat: links followed). */
bool zo_io_is_file(const char *path);
/* The directory holding `path` ("." for a bare name), into out[size]. */
void zo_io_parent_dir(const char *path, char *out, size_t size);

/* Tests only, process-wide: `hook(user, operation, path)` runs before every file-system
 * change (create, each write piece, fsync, mkdir, rename, exchange, unlink, rmdir),
 * then `fail(user, operation, path)`, whose non-zero return is an errno that change
 * then fails with (it is not made);
 * writes go in pieces of `write_chunk_bytes` (0: the default, 8 MiB); `no_exchange`
 * makes zo_io_exchange fail as on a file system without it; `before_read(user, path)`
 * runs before every zo_io_read_at. NULL restores the defaults. */
typedef void (*zo_io_fault_hook)(void *user, const char *operation, const char *path);
typedef struct zo_io_test_settings {
    zo_io_fault_hook hook;
    int (*fail)(void *user, const char *operation, const char *path); /* errno, or 0 */
    void *user;
    size_t write_chunk_bytes;
    bool no_exchange;
    void (*before_read)(void *user, const char *path); /* before each zo_io_read_at */
} zo_io_test_settings;
void zo_io_set_test_settings(const zo_io_test_settings *settings);

#endif
