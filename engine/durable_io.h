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

/* Creates (or truncates) `path` for writing, mode 0644. Errors: ZO_ERR_IO. */
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
/* Removes the files of a checkpoint directory whose names `is_ours` accepts, then
 * the directory itself; anything else in it is left alone and the directory kept
 * (ZO_ERR_IO naming it). A missing directory is not an error. */
zo_status zo_io_remove_checkpoint_dir(const char *dir, bool (*is_ours)(const char *name));
/* Whether every entry of directory `dir` is one `is_ours` accepts (true when empty). */
bool zo_io_dir_holds_only(const char *dir, bool (*is_ours)(const char *name));
/* Whether `path` exists and is a directory / a regular file. */
bool zo_io_is_dir(const char *path);
bool zo_io_is_file(const char *path);
/* The directory holding `path` ("." for a bare name), into out[size]. */
void zo_io_parent_dir(const char *path, char *out, size_t size);

/* Tests only, process-wide: `hook(user, operation, path)` runs before every file-system
 * change (create, each write piece, fsync, mkdir, rename, exchange, unlink, rmdir);
 * writes go in pieces of `write_chunk_bytes` (0: the default, 8 MiB); `no_exchange`
 * makes zo_io_exchange fail as on a file system without it; `before_read(user, path)`
 * runs before every zo_io_read_at. NULL restores the defaults. */
typedef void (*zo_io_fault_hook)(void *user, const char *operation, const char *path);
typedef struct zo_io_test_settings {
    zo_io_fault_hook hook;
    void *user;
    size_t write_chunk_bytes;
    bool no_exchange;
    void (*before_read)(void *user, const char *path); /* before each zo_io_read_at */
} zo_io_test_settings;
void zo_io_set_test_settings(const zo_io_test_settings *settings);

#endif
