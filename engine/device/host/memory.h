/* The host backend's memory: "device" and "pinned" buffers are ordinary zero-filled,
 * 64-byte-aligned host allocations (2 MiB aligned on huge pages from 2 MiB up), kept in a registry so that a copy past the end of
 * one, a double free or a foreign pointer is caught instead of corrupting memory. The
 * device buffers' bytes are counted against an optional budget (zo.device_memory_budget),
 * with their high-water mark, so that the host can play a GPU of that size.
 * Internal. */
#ifndef ZO_HOST_MEMORY_H
#define ZO_HOST_MEMORY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/status.h"

/* The two kinds the device interface hands out; freeing one with the other's free
 * function is an error on CUDA too, so the registry tells them apart. */
typedef enum zo_host_buffer_kind {
    ZO_HOST_BUFFER_DEVICE,
    ZO_HOST_BUFFER_PINNED
} zo_host_buffer_kind;

typedef struct zo_host_buffer {
    char *data;   /* what the caller got (zo_host_pages_alloc): 64-byte aligned */
    size_t bytes; /* as asked for; a copy past it is refused even inside the padding */
    zo_host_buffer_kind kind;
} zo_host_buffer;

typedef struct zo_host_memory {
    pthread_mutex_t lock; /* buffers are allocated, freed and looked up from any thread */
    zo_host_buffer *buffers;
    size_t count, capacity;
    size_t bad_frees;      /* frees of a pointer not live with that kind */
    size_t capacity_bytes; /* the machine's RAM: a request above it is refused up front */
    /* Device buffers only (pinned memory is host memory on a GPU too), in bytes as
     * asked for, padding not counted. */
    uint64_t device_budget_bytes;     /* 0: no budget */
    uint64_t device_bytes_in_use;     /* the live device buffers' bytes */
    uint64_t device_high_water_bytes; /* the most device_bytes_in_use has been */
} zo_host_memory;

/* A snapshot of the device buffers' accounting, all read under the lock together. */
typedef struct zo_host_device_usage {
    uint64_t budget_bytes; /* 0: no budget */
    uint64_t in_use_bytes;
    uint64_t high_water_bytes;
} zo_host_device_usage;

zo_status zo_host_memory_init(zo_host_memory *memory);

/* Frees every buffer still live and the registry itself. */
void zo_host_memory_release(zo_host_memory *memory);

/* A zero-filled, 64-byte-aligned buffer of `bytes` (0 gives a unique pointer too).
 * Errors: ZO_ERR_OUT_OF_MEMORY, with the size in the message; for a device buffer past
 * the budget, naming zo.device_memory_budget, the bytes asked, in use and the budget. */
zo_status zo_host_memory_alloc(zo_host_memory *memory, size_t bytes, zo_host_buffer_kind kind,
                               void **out);

/* Frees `data` if it is a live buffer of `kind`; otherwise touches nothing and counts a
 * bad free (a double free, a foreign pointer or the wrong free function), which
 * zo_device_host_audit reports. NULL is a no-op. */
void zo_host_memory_free(zo_host_memory *memory, void *data, zo_host_buffer_kind kind);

/* ZO_ERR_INVALID_ARGUMENT if [data, data + bytes) starts inside a live buffer and runs
 * past its end; memory the registry does not know (the caller's own) is not checked.
 * `role` ("destination", "source") goes into the message. */
zo_status zo_host_memory_check_range(zo_host_memory *memory, const void *data, size_t bytes,
                                     const char *role);

/* How many buffers of `kind` are live. */
size_t zo_host_memory_live(zo_host_memory *memory, zo_host_buffer_kind kind);

/* How many bad frees were counted so far. */
size_t zo_host_memory_bad_frees(zo_host_memory *memory);

/* Sets the device budget (0: none). ZO_ERR_INVALID_ARGUMENT, the budget unchanged, if
 * the device buffers live already hold more than `bytes`. */
zo_status zo_host_memory_set_device_budget(zo_host_memory *memory, uint64_t bytes);

zo_host_device_usage zo_host_memory_device_usage(zo_host_memory *memory);

/* Starts the high-water mark again from the bytes in use now. */
void zo_host_memory_reset_device_high_water(zo_host_memory *memory);

#endif
