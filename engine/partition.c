/* Laying parameters out in the flat space and counting who overlaps which bucket. */
#include "partition.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static char *zo_strdup(const char *s)
{
    size_t bytes = strlen(s) + 1;
    char *copy = malloc(bytes);
    if (copy)
        memcpy(copy, s, bytes);
    return copy;
}

void zo_partition_free(zo_partition *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->param_names && i < p->param_count; i++)
        free(p->param_names[i]);
    free(p->param_names);
    free(p->param_offset);
    free(p->param_elems);
    free(p->bucket_param_count);
    *p = (zo_partition){0};
}

zo_status zo_partition_build(const zo_param_desc *params, size_t param_count, uint64_t bucket_elems,
                             size_t ranks, zo_partition *out)
{
    *out = (zo_partition){0};
    if (!params || param_count == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_create: no parameters given");
    if (bucket_elems == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_create: reduce_bucket_size is 0");
    if (ranks == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_create: 0 ranks");
    /* whole alignment blocks (per rank): the padding between parameters (< one block)
     * then can never fill a bucket by itself, and every bucket splits evenly */
    size_t block = ZO_PARAM_ALIGN_ELEMS * ranks;
    size_t rounded_bucket = (size_t)((bucket_elems + block - 1) / block) * block;
    zo_partition p = {.param_count = param_count, .bucket_elems = rounded_bucket, .ranks = ranks};
    p.param_offset = calloc(param_count, sizeof *p.param_offset);
    p.param_elems = calloc(param_count, sizeof *p.param_elems);
    p.param_names = calloc(param_count, sizeof *p.param_names);
    if (!p.param_offset || !p.param_elems || !p.param_names)
        goto out_of_memory;

    size_t offset = 0;
    for (size_t i = 0; i < param_count; i++) {
        if (!params[i].name || params[i].elems == 0) {
            zo_partition_free(&p);
            return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_engine_create: parameter %zu (%s) has %s", i,
                           params[i].name ? params[i].name : "no name",
                           params[i].name ? "0 elements" : "a NULL name");
        }
        if (params[i].elems > SIZE_MAX / 8 - offset) {
            zo_partition_free(&p);
            return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                           "zo_engine_create: parameter %zu (%s) makes the model too large", i,
                           params[i].name);
        }
        if (!(p.param_names[i] = zo_strdup(params[i].name)))
            goto out_of_memory;
        offset = (offset + ZO_PARAM_ALIGN_ELEMS - 1) / ZO_PARAM_ALIGN_ELEMS * ZO_PARAM_ALIGN_ELEMS;
        p.param_offset[i] = offset;
        p.param_elems[i] = params[i].elems;
        offset += params[i].elems;
    }
    p.total_elems = offset;
    p.padded_elems = ranks == 1 ? offset : (offset + block - 1) / block * block;
    p.bucket_count = (p.padded_elems + p.bucket_elems - 1) / p.bucket_elems;
    /* each bucket costs events, jobs and bookkeeping, and the loop below visits them:
     * a tiny bucket size for a huge model would allocate (and walk) gigabytes */
    if (p.bucket_count > ZO_MAX_BUCKETS) {
        size_t buckets = p.bucket_count;
        zo_partition_free(&p);
        return zo_fail(ZO_ERR_CONFIG,
                       "zero_optimization.reduce_bucket_size %llu cuts %zu elements into %zu "
                       "buckets, more than the %d zo handles: raise reduce_bucket_size",
                       (unsigned long long)bucket_elems, offset, buckets, ZO_MAX_BUCKETS);
    }
    if (!(p.bucket_param_count = calloc(p.bucket_count, sizeof *p.bucket_param_count)))
        goto out_of_memory;
    for (size_t i = 0; i < param_count; i++)
        for (size_t b = zo_param_first_bucket(&p, i); b <= zo_param_last_bucket(&p, i); b++)
            p.bucket_param_count[b]++;
    *out = p;
    return ZO_OK;

out_of_memory:
    zo_partition_free(&p);
    return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_engine_create: out of memory for the layout of %zu parameters",
                   param_count);
}
