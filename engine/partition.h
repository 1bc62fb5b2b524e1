/* The flat layout of the parameters and its buckets. Internal.
 *
 * Parameters lie one after another in one flat space, each starting on a multiple of
 * ZO_PARAM_ALIGN_ELEMS elements (whole cache lines and vectors in every dtype). The
 * flat space is cut into buckets of bucket_elems elements, rounded up to a multiple
 * of ZO_PARAM_ALIGN_ELEMS; a parameter may straddle buckets, and a bucket may hold
 * pieces of many parameters. The space ends where the last parameter does, so every
 * bucket holds part of some parameter (no bucket is padding alone).
 *
 * ZeRO sharding over R ranks: bucket sizes are rounded up to a multiple of
 * R * ZO_PARAM_ALIGN_ELEMS and the space is padded up to one (padded_elems), so every
 * bucket splits into R equal pieces of whole alignment blocks. Rank r owns piece r of
 * every bucket: its shard (master weights, moments) is those pieces one after another,
 * padded_elems / R elements. With one rank nothing is padded. */
#ifndef ZO_PARTITION_H
#define ZO_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "zo/engine.h"

enum { ZO_PARAM_ALIGN_ELEMS = 64 };
/* More buckets than this are refused: each costs the engine two events, a job and its
 * bookkeeping (2^20 buckets of 64 elements already cut a 64M-parameter model). */
enum { ZO_MAX_BUCKETS = 1 << 20 };

typedef struct zo_partition {
    size_t param_count;
    size_t *param_offset; /* first element of each parameter in the flat space */
    size_t *param_elems;
    char **param_names;
    size_t total_elems;   /* up to the last parameter's end                     */
    size_t ranks;         /* data-parallel ranks the buckets are split between  */
    size_t padded_elems;  /* the flat space: total_elems rounded up to a whole
                             R * ZO_PARAM_ALIGN_ELEMS (total_elems with R = 1)  */
    size_t bucket_elems;
    size_t bucket_count;
    size_t *bucket_param_count; /* how many parameters overlap each bucket      */
} zo_partition;

/* Errors: ZO_ERR_INVALID_ARGUMENT (no parameters, a NULL name, 0 elements, a total
 * that overflows, 0 ranks), ZO_ERR_CONFIG (more than ZO_MAX_BUCKETS buckets),
 * ZO_ERR_OUT_OF_MEMORY. On failure *out is left empty. */
zo_status zo_partition_build(const zo_param_desc *params, size_t param_count, uint64_t bucket_elems,
                             size_t ranks, zo_partition *out);
void zo_partition_free(zo_partition *partition);

static inline size_t zo_bucket_begin(const zo_partition *p, size_t bucket)
{
    return bucket * p->bucket_elems;
}

static inline size_t zo_bucket_end(const zo_partition *p, size_t bucket)
{
    size_t end = (bucket + 1) * p->bucket_elems;
    return end < p->padded_elems ? end : p->padded_elems;
}

/* Sharding: the elements of each rank's piece of `bucket`, where rank r's piece starts
 * in the flat space, and where the pieces of `bucket` start in a rank's shard. */
static inline size_t zo_piece_elems(const zo_partition *p, size_t bucket)
{
    return (zo_bucket_end(p, bucket) - zo_bucket_begin(p, bucket)) / p->ranks;
}

static inline size_t zo_piece_begin(const zo_partition *p, size_t bucket, size_t rank)
{
    return zo_bucket_begin(p, bucket) + rank * zo_piece_elems(p, bucket);
}

static inline size_t zo_shard_offset(const zo_partition *p, size_t bucket)
{
    return zo_bucket_begin(p, bucket) / p->ranks;
}

static inline size_t zo_shard_elems(const zo_partition *p) { return p->padded_elems / p->ranks; }

/* The buckets parameter `param` overlaps: [first, last]. */
static inline size_t zo_param_first_bucket(const zo_partition *p, size_t param)
{
    return p->param_offset[param] / p->bucket_elems;
}

static inline size_t zo_param_last_bucket(const zo_partition *p, size_t param)
{
    return (p->param_offset[param] + p->param_elems[param] - 1) / p->bucket_elems;
}

#endif
