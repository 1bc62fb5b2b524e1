/* The host backend's buffers: zeroed host pages (huge pages when large, left untouched
 * for whoever places them: the engine, host_pages.h), registered so that frees
 * and copies can be checked against what was handed out; device buffers counted against
 * the budget. */
#include "memory.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"
#include "fault_injection.h"
#include "host_pages.h"
#include "zo/byte_size.h"

enum { ZO_HOST_ALIGNMENT = 64 };

static const char *zo_kind_name(zo_host_buffer_kind kind)
{
    return kind == ZO_HOST_BUFFER_PINNED ? "pinned" : "device";
}

zo_status zo_host_memory_init(zo_host_memory *memory)
{
    *memory = (zo_host_memory){0};
    if (pthread_mutex_init(&memory->lock, NULL) != 0)
        return zo_fail(ZO_ERR_DEVICE, "host device: cannot create the lock of its memory registry");
    long pages = sysconf(_SC_PHYS_PAGES), page_bytes = sysconf(_SC_PAGESIZE);
    memory->capacity_bytes =
        pages > 0 && page_bytes > 0 && (size_t)pages <= SIZE_MAX / (size_t)page_bytes
            ? (size_t)pages * (size_t)page_bytes
            : SIZE_MAX;
    return ZO_OK;
}

void zo_host_memory_release(zo_host_memory *memory)
{
    for (size_t i = 0; i < memory->count; i++)
        zo_host_pages_free(memory->buffers[i].data);
    free(memory->buffers);
    pthread_mutex_destroy(&memory->lock);
    *memory = (zo_host_memory){0};
}

/* Room for one more entry; the caller holds the lock. */
static bool zo_registry_reserve(zo_host_memory *memory)
{
    if (memory->count < memory->capacity)
        return true;
    size_t capacity = memory->capacity ? 2 * memory->capacity : 16;
    zo_host_buffer *grown = realloc(memory->buffers, capacity * sizeof *grown);
    if (!grown)
        return false;
    memory->buffers = grown;
    memory->capacity = capacity;
    return true;
}

/* ZO_ERR_OUT_OF_MEMORY if a device buffer of `bytes` more would exceed the budget; the
 * caller holds the lock. */
static zo_status zo_check_device_budget(const zo_host_memory *memory, size_t bytes)
{
    uint64_t budget = memory->device_budget_bytes, in_use = memory->device_bytes_in_use;
    if (budget == 0 || (in_use <= budget && bytes <= budget - in_use))
        return ZO_OK;
    char asked[32], used[32], limit[32];
    return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                   "host device: cannot allocate %s (%zu bytes) of device memory: %s (%" PRIu64
                   " bytes) in use of zo.device_memory_budget %s (%" PRIu64 " bytes)",
                   zo_format_byte_size(bytes, asked, sizeof asked), bytes,
                   zo_format_byte_size(in_use, used, sizeof used), in_use,
                   zo_format_byte_size(budget, limit, sizeof limit), budget);
}

zo_status zo_host_memory_alloc(zo_host_memory *memory, size_t bytes, zo_host_buffer_kind kind,
                               void **out)
{
    *out = NULL;
    /* A host "device" holds no more than the machine's RAM, as a GPU holds no more than
     * its own. Refusing here also keeps absurd sizes away from allocators (sanitizers'
     * among them) that would rather abort than return NULL. */
    if (bytes > memory->capacity_bytes || bytes > SIZE_MAX - ZO_HOST_ALIGNMENT)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "host device: cannot allocate %zu bytes of %s memory: more than the "
                       "machine's %zu bytes of RAM",
                       bytes, zo_kind_name(kind), memory->capacity_bytes);
    zo_fault fault = kind == ZO_HOST_BUFFER_PINNED ? ZO_FAULT_PINNED_ALLOC : ZO_FAULT_DEVICE_ALLOC;
    if (zo_fault_hit(fault))
        return zo_fail(ZO_ERR_OUT_OF_MEMORY,
                       "host device: cannot allocate %zu bytes of %s memory (fault injected: %s)",
                       bytes, zo_kind_name(kind), zo_fault_name(fault));
    /* Checked before allocating, to refuse without touching the allocator, and again when
     * the buffer is registered, for another thread may have taken the room meanwhile. */
    if (kind == ZO_HOST_BUFFER_DEVICE) {
        pthread_mutex_lock(&memory->lock);
        zo_status status = zo_check_device_budget(memory, bytes);
        pthread_mutex_unlock(&memory->lock);
        if (status != ZO_OK)
            return status;
    }
    /* Large buffers come zeroed from their own mapping and their pages are only
     * touched when used (or placed by the engine). */
    void *block = zo_host_pages_alloc(bytes);
    if (!block)
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "host device: cannot allocate %zu bytes of %s memory",
                       bytes, zo_kind_name(kind));
    zo_host_buffer buffer = {.data = block, .bytes = bytes, .kind = kind};

    pthread_mutex_lock(&memory->lock);
    zo_status status =
        kind == ZO_HOST_BUFFER_DEVICE ? zo_check_device_budget(memory, bytes) : ZO_OK;
    if (status == ZO_OK && !zo_registry_reserve(memory))
        status =
            zo_fail(ZO_ERR_OUT_OF_MEMORY,
                    "host device: cannot register a buffer of %zu bytes: out of memory", bytes);
    if (status == ZO_OK) {
        memory->buffers[memory->count++] = buffer;
        if (kind == ZO_HOST_BUFFER_DEVICE) {
            memory->device_bytes_in_use += bytes;
            if (memory->device_bytes_in_use > memory->device_high_water_bytes)
                memory->device_high_water_bytes = memory->device_bytes_in_use;
        }
    }
    pthread_mutex_unlock(&memory->lock);
    if (status != ZO_OK) {
        zo_host_pages_free(block);
        return status;
    }
    *out = buffer.data;
    return ZO_OK;
}

void zo_host_memory_free(zo_host_memory *memory, void *data, zo_host_buffer_kind kind)
{
    if (!data)
        return;
    void *block = NULL;
    pthread_mutex_lock(&memory->lock);
    for (size_t i = 0; i < memory->count; i++) {
        if (memory->buffers[i].data == data && memory->buffers[i].kind == kind) {
            block = memory->buffers[i].data;
            if (kind == ZO_HOST_BUFFER_DEVICE)
                memory->device_bytes_in_use -= memory->buffers[i].bytes;
            memory->buffers[i] = memory->buffers[--memory->count];
            break;
        }
    }
    if (!block)
        memory->bad_frees++;
    pthread_mutex_unlock(&memory->lock);
    zo_host_pages_free(block);
}

zo_status zo_host_memory_check_range(zo_host_memory *memory, const void *data, size_t bytes,
                                     const char *role)
{
    uintptr_t begin = (uintptr_t)data;
    zo_status status = ZO_OK;
    pthread_mutex_lock(&memory->lock);
    for (size_t i = 0; i < memory->count; i++) {
        const zo_host_buffer *buffer = &memory->buffers[i];
        uintptr_t buffer_begin = (uintptr_t)buffer->data;
        /* its start counts as inside even when it is empty, so nothing fits in it */
        bool inside = begin >= buffer_begin &&
                      (begin - buffer_begin < buffer->bytes || begin == buffer_begin);
        if (!inside)
            continue;
        size_t offset = begin - buffer_begin;
        if (bytes > buffer->bytes - offset)
            status = zo_fail(ZO_ERR_INVALID_ARGUMENT,
                             "host device: a copy of %zu bytes with its %s at byte %zu of a %s "
                             "buffer of %zu bytes would run past its end",
                             bytes, role, offset, zo_kind_name(buffer->kind), buffer->bytes);
        break;
    }
    pthread_mutex_unlock(&memory->lock);
    return status;
}

size_t zo_host_memory_live(zo_host_memory *memory, zo_host_buffer_kind kind)
{
    size_t live = 0;
    pthread_mutex_lock(&memory->lock);
    for (size_t i = 0; i < memory->count; i++)
        live += memory->buffers[i].kind == kind;
    pthread_mutex_unlock(&memory->lock);
    return live;
}

size_t zo_host_memory_bad_frees(zo_host_memory *memory)
{
    pthread_mutex_lock(&memory->lock);
    size_t bad_frees = memory->bad_frees;
    pthread_mutex_unlock(&memory->lock);
    return bad_frees;
}

zo_status zo_host_memory_set_device_budget(zo_host_memory *memory, uint64_t bytes)
{
    pthread_mutex_lock(&memory->lock);
    uint64_t in_use = memory->device_bytes_in_use;
    bool fits = bytes == 0 || in_use <= bytes;
    if (fits)
        memory->device_budget_bytes = bytes;
    pthread_mutex_unlock(&memory->lock);
    if (fits)
        return ZO_OK;
    char used[32], limit[32];
    return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                   "host device: a zo.device_memory_budget of %s (%" PRIu64 " bytes) is below the "
                   "%s (%" PRIu64 " bytes) of device memory already in use",
                   zo_format_byte_size(bytes, limit, sizeof limit), bytes,
                   zo_format_byte_size(in_use, used, sizeof used), in_use);
}

zo_host_device_usage zo_host_memory_device_usage(zo_host_memory *memory)
{
    pthread_mutex_lock(&memory->lock);
    zo_host_device_usage usage = {.budget_bytes = memory->device_budget_bytes,
                                  .in_use_bytes = memory->device_bytes_in_use,
                                  .high_water_bytes = memory->device_high_water_bytes};
    pthread_mutex_unlock(&memory->lock);
    return usage;
}

void zo_host_memory_reset_device_high_water(zo_host_memory *memory)
{
    pthread_mutex_lock(&memory->lock);
    memory->device_high_water_bytes = memory->device_bytes_in_use;
    pthread_mutex_unlock(&memory->lock);
}
