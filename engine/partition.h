/* The flat layout of the parameters and its buckets. Internal.
 *
 * Parameters lie one after another in one flat space, each starting on a multiple of
 * ZO_PARAM_ALIGN_ELEMS elements (whole cache lines and vectors in every dtype). The
 * flat space is cut into buckets of bucket_elems elements, rounded up to a multiple
 * of ZO_PARAM_ALIGN_ELEMS; a parameter may straddle buckets, and a bucket may hold
 * pieces of many parameters. The space ends where the last parameter does, so every
 * bucket holds part of some parameter (no bucket is padding alone). */
#ifndef ZO_PARTITION_H
#define ZO_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "zo/engine.h"

enum { ZO_PARAM_ALIGN_ELEMS = 64 };

typedef struct zo_partition {
    size_t param_count;
    size_t *param_offset; /* first element of each parameter in the flat space */
    size_t *param_elems;
    char **param_names;
    size_t total_elems;   /* the flat space: up to the last parameter's end     */
    size_t bucket_elems;
    size_t bucket_count;
    size_t *bucket_param_count; /* how many parameters overlap each bucket      */
} zo_partition;

/* Errors: ZO_ERR_INVALID_ARGUMENT (no parameters, a NULL name, 0 elements, a total
 * that overflows), ZO_ERR_OUT_OF_MEMORY. On failure *out is left empty. */
zo_status zo_partition_build(const zo_param_desc *params, size_t param_count, uint64_t bucket_elems,
                             zo_partition *out);
void zo_partition_free(zo_partition *partition);

static inline size_t zo_bucket_begin(const zo_partition *p, size_t bucket)
{
    return bucket * p->bucket_elems;
}

static inline size_t zo_bucket_end(const zo_partition *p, size_t bucket)
{
    size_t end = (bucket + 1) * p->bucket_elems;
    return end < p->total_elems ? end : p->total_elems;
}

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
