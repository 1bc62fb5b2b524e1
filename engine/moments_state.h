/* The format of the optimizer's moments in the engine's host state: f32, bf16, or
 * 8-bit codes with an fp32 scale per block (moments_dtype ZO_DTYPE_Q8, zo/adam.h).
 * Whoever holds or moves the moments (the host update, checkpoints, the memory plan,
 * other optimizer_state strategies) goes through these helpers. Internal. */
#ifndef ZO_MOMENTS_STATE_H
#define ZO_MOMENTS_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "engine_internal.h"
#include "optimizer_state.h"
#include "zo/adam.h"

/* The bucket size the layout is built with: reduce_bucket_size, and with 8-bit moments
 * rounded up to whole blocks per rank, so every rank's piece of a bucket starts on a
 * block boundary of its shard: a block's scale then covers elements of one piece only,
 * which one rank owns and one thread updates. */
static inline uint64_t zo_layout_bucket_elems(uint64_t reduce_bucket_size, zo_dtype moments_dtype,
                                              size_t ranks)
{
    if (moments_dtype != ZO_DTYPE_Q8 || reduce_bucket_size == 0 || ranks == 0)
        return reduce_bucket_size;
    uint64_t block = (uint64_t)ZO_Q8_BLOCK_ELEMS * ranks;
    return (reduce_bucket_size + block - 1) / block * block;
}

/* Host bytes of both moments, scales included, for `elems` elements. */
static inline uint64_t zo_moments_host_bytes(zo_dtype moments_dtype, uint64_t elems)
{
    return 2 * (uint64_t)zo_moments_bytes(moments_dtype, (size_t)elems);
}

/* Host bytes of both moments' block scales alone (8-bit moments; else 0): what stays in
 * host memory when the codes live elsewhere (the "nvme" strategy). */
static inline uint64_t zo_moment_scales_host_bytes(zo_dtype moments_dtype, uint64_t elems)
{
    return zo_moments_host_bytes(moments_dtype, elems) - 2 * elems * zo_dtype_size(moments_dtype);
}

/* Points `b` at the block scales of the shard's elements from `shard_offset` on (a
 * block boundary: zo_layout_bucket_elems sees to it), with 8-bit moments. The scales
 * are in host memory with every strategy. */
static inline void zo_moment_scales_point(const zo_engine *e, size_t shard_offset, zo_host_state_piece *b)
{
    if (e->settings.moments_dtype != ZO_DTYPE_Q8)
        return;
    b->first_index = shard_offset; /* one dither over the shard, however it is cut */
    b->exp_avg_scale = e->exp_avg_scale + shard_offset / ZO_Q8_BLOCK_ELEMS;
    b->exp_avg_sq_scale = e->exp_avg_sq_scale + shard_offset / ZO_Q8_BLOCK_ELEMS;
}

/* Points `b` at the host moments of the shard's elements from `shard_offset` on, and
 * their scales with 8-bit moments. */
static inline void zo_moments_point(const zo_engine *e, size_t shard_offset, zo_host_state_piece *b)
{
    size_t code_bytes = zo_dtype_size(e->settings.moments_dtype);
    b->exp_avg = (char *)e->exp_avg + shard_offset * code_bytes;
    b->exp_avg_sq = (char *)e->exp_avg_sq + shard_offset * code_bytes;
    zo_moment_scales_point(e, shard_offset, b);
}

#endif
