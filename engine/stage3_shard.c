/* The 16-bit weights sharded over the ranks with ZeRO stage 3 (stage3_shard.h). */
#include "stage3_shard.h"

static size_t zo_max_size(size_t a, size_t b) { return a > b ? a : b; }
static size_t zo_min_size(size_t a, size_t b) { return a < b ? a : b; }

void *zo_pinned_piece(const zo_engine *e, size_t bucket)
{
    size_t at = zo_weights_sharded(e) ? zo_shard_offset(&e->layout, bucket)
                                      : zo_piece_begin(&e->layout, bucket, e->rank);
    return (char *)e->pinned_weights + at * e->dtype_bytes;
}

zo_status zo_gather_weights(const zo_engine *e, const zo_comm *comm, size_t begin, size_t end, void *dest,
                            size_t *part_bytes)
{
    const zo_partition *layout = &e->layout;
    size_t bytes = e->dtype_bytes;
    for (size_t b = begin / layout->bucket_elems; b < layout->bucket_count && zo_bucket_begin(layout, b) < end;
         b++) {
        /* within a bucket the pieces lie in rank order: their parts of [from, to)
         * follow one another, as allgatherv places them */
        size_t from = zo_max_size(begin, zo_bucket_begin(layout, b)), to = zo_min_size(end, zo_bucket_end(layout, b));
        size_t piece = zo_piece_elems(layout, b);
        for (size_t r = 0; r < e->ranks; r++) {
            size_t lo = zo_max_size(from, zo_piece_begin(layout, b, r));
            size_t hi = zo_min_size(to, zo_piece_begin(layout, b, r) + piece);
            part_bytes[r] = hi > lo ? (hi - lo) * bytes : 0;
        }
        size_t mine = zo_piece_begin(layout, b, e->rank);
        size_t skipped = from > mine ? zo_min_size(from - mine, piece) : 0; /* of my piece, before the range */
        const char *send = (const char *)zo_pinned_piece(e, b) + skipped * bytes;
        zo_status status = zo_comm_allgatherv(comm, send, (char *)dest + (from - begin) * bytes, part_bytes);
        if (status != ZO_OK)
            return status;
    }
    return ZO_OK;
}
