/* The lagging device weights of a delayed update, saved and restored
 * (device_state.h). */
#include "device_state.h"

#include <string.h>

#include "error.h"

zo_status zo_copy_device_pieces(zo_engine *e, void **out)
{
    size_t bytes = zo_shard_elems(&e->layout) * e->dtype_bytes;
    zo_status status = zo_device_alloc_pinned(&e->device, bytes ? bytes : 1, out);
    for (size_t b = 0; status == ZO_OK && b < e->layout.bucket_count; b++)
        status = zo_device_copy_async(&e->device, (char *)*out + zo_shard_offset(&e->layout, b) * e->dtype_bytes,
                                 (const char *)e->device_weights +
                                     zo_piece_begin(&e->layout, b, e->rank) * e->dtype_bytes,
                                 zo_piece_elems(&e->layout, b) * e->dtype_bytes, e->d2h_stream);
    zo_status synced = *out ? zo_device_stream_synchronize(&e->device, e->d2h_stream) : ZO_OK;
    if (status == ZO_OK)
        status = synced;
    if (status != ZO_OK && *out) {
        zo_device_free_pinned(&e->device, *out);
        *out = NULL;
    }
    return status;
}

zo_status zo_restore_lagging_device(zo_engine *e, const void *pieces, void *bucket_buffer)
{
    zo_status status = ZO_OK;
    for (size_t b = 0; status == ZO_OK && b < e->layout.bucket_count; b++) {
        size_t piece_bytes = zo_piece_elems(&e->layout, b) * e->dtype_bytes;
        char *mine = (char *)bucket_buffer + e->rank * piece_bytes;
        memcpy(mine, (const char *)pieces + zo_shard_offset(&e->layout, b) * e->dtype_bytes,
               piece_bytes);
        if ((status = zo_comm_allgather(&e->comm, mine, bucket_buffer, piece_bytes)) ||
            (status = zo_device_copy_async(&e->device, (char *)e->device_weights +
                                          zo_bucket_begin(&e->layout, b) * e->dtype_bytes,
                                      bucket_buffer, piece_bytes * e->ranks, e->h2d_stream)))
            break;
        /* the buffer is reused by the next bucket */
        status = zo_device_stream_synchronize(&e->device, e->h2d_stream);
    }
    if (status == ZO_OK) /* the staged master weights go up at the next step, as after step t */
        e->unsent_generation = ++e->generation;
    return status;
}
