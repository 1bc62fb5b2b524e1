/* The kernels written once over a small vector vocabulary; each instruction-set file
 * defines the vocabulary and includes this. Because every path runs the same sequence
 * of correctly rounded operations (no fused multiply-add: the build passes
 * -ffp-contract=off), all paths give the same bits as the scalar one.
 *
 * The including file defines:
 *   zo_vec, ZO_LANES                       a vector of ZO_LANES floats
 *   zo_v_set1(f), zo_v_add/sub/mul/div(a, b), zo_v_sqrt(a)
 *   zo_v_load(base, kind, i, count)        `count` (<= ZO_LANES) elements from
 *                                          base[i] of dtype `kind`, widened to fp32
 *   zo_v_store(base, kind, i, count, x)    the first `count` lanes of x to base[i],
 *                                          rounded to nearest even
 *   zo_sum_squares(data, kind, begin, end) the canonical sum of squares (kernels.h)
 *   ZO_KERNEL_PREFIX(name)                 pastes the path's prefix onto names */
#ifndef ZO_KERNEL_BODY_H
#define ZO_KERNEL_BODY_H

#define ZO_ALWAYS_INLINE static inline __attribute__((always_inline))

/* One block of the Adam step: see zo_adam_step() in zo/adam.h for the formula. */
ZO_ALWAYS_INLINE void zo_adam_block(const zo_adam_kernel_args *args, size_t i, size_t count,
                                    int grad_kind, int moment_kind, int out_kind)
{
    const zo_adam_coeffs *c = &args->coeffs;
    zo_vec grad = zo_v_load(args->grad, grad_kind, i, count);
    zo_vec weight = zo_v_load(args->master, ZO_DTYPE_F32, i, count);
    zo_vec m = zo_v_load(args->exp_avg, moment_kind, i, count);
    zo_vec v = zo_v_load(args->exp_avg_sq, moment_kind, i, count);

    /* unscale (and unclip) the gradient in the same pass */
    zo_vec g = zo_v_mul(grad, zo_v_set1(c->grad_scale));
    if (c->l2 != 0.0f) /* classic Adam: weight decay as an L2 term of the gradient */
        g = zo_v_add(g, zo_v_mul(zo_v_set1(c->l2), weight));
    /* update the first moment (momentum) and the second (uncentered variance) */
    m = zo_v_add(zo_v_mul(zo_v_set1(c->beta1), m), zo_v_mul(zo_v_set1(c->one_minus_beta1), g));
    v = zo_v_add(zo_v_mul(zo_v_set1(c->beta2), v),
                 zo_v_mul(zo_v_set1(c->one_minus_beta2), zo_v_mul(g, g)));
    /* bias-corrected denominator sqrt(v / bc2) + eps, as DeepSpeed and PyTorch do */
    zo_vec denom = zo_v_add(zo_v_mul(zo_v_sqrt(v), zo_v_set1(c->inv_sqrt_bc2)),
                            zo_v_set1(c->eps));
    if (c->decay != 0.0f) /* AdamW: decoupled decay of the weight itself */
        weight = zo_v_add(weight, zo_v_mul(zo_v_set1(c->decay), weight));
    weight = zo_v_sub(weight, zo_v_mul(zo_v_set1(c->step_size), zo_v_div(m, denom)));

    zo_v_store(args->master, ZO_DTYPE_F32, i, count, weight);
    zo_v_store(args->exp_avg, moment_kind, i, count, m);
    zo_v_store(args->exp_avg_sq, moment_kind, i, count, v);
    if (out_kind != ZO_KIND_NONE) /* the low-precision copy that goes to the GPU */
        zo_v_store(args->weights_out, out_kind, i, count, weight);
}

/* The same loads and stores as zo_adam_block with one add per array: what the memory
 * system alone allows for this access pattern. */
ZO_ALWAYS_INLINE void zo_traffic_block(const zo_adam_kernel_args *args, size_t i, size_t count,
                                       int grad_kind, int moment_kind, int out_kind)
{
    zo_vec g = zo_v_load(args->grad, grad_kind, i, count);
    zo_vec weight = zo_v_add(zo_v_load(args->master, ZO_DTYPE_F32, i, count), g);
    zo_vec m = zo_v_add(zo_v_load(args->exp_avg, moment_kind, i, count), g);
    zo_vec v = zo_v_add(zo_v_load(args->exp_avg_sq, moment_kind, i, count), g);
    zo_v_store(args->master, ZO_DTYPE_F32, i, count, weight);
    zo_v_store(args->exp_avg, moment_kind, i, count, m);
    zo_v_store(args->exp_avg_sq, moment_kind, i, count, v);
    if (out_kind != ZO_KIND_NONE)
        zo_v_store(args->weights_out, out_kind, i, count, weight);
}

#define ZO_DEFINE_RANGE(block, G, M, O)                                                  \
    static void ZO_KERNEL_PREFIX(block##_##G##_##M##_##O)(const zo_adam_kernel_args *args, \
                                                          size_t begin, size_t end)      \
    {                                                                                    \
        size_t i = begin;                                                                \
        for (; i + ZO_LANES <= end; i += ZO_LANES)                                       \
            block(args, i, ZO_LANES, ZO_KIND_##G, ZO_KIND_##M, ZO_KIND_##O);             \
        if (i < end)                                                                     \
            block(args, i, end - i, ZO_KIND_##G, ZO_KIND_##M, ZO_KIND_##O);              \
    }
#define ZO_DEFINE_UPDATE(G, M, O) ZO_DEFINE_RANGE(zo_adam_block, G, M, O)
#define ZO_DEFINE_TRAFFIC(G, M, O) ZO_DEFINE_RANGE(zo_traffic_block, G, M, O)
ZO_ADAM_VARIANTS(ZO_DEFINE_UPDATE)
ZO_ADAM_VARIANTS(ZO_DEFINE_TRAFFIC)

#define ZO_DEFINE_CAST(S, D)                                                             \
    static void ZO_KERNEL_PREFIX(cast_##S##_##D)(void *dst, const void *src, float scale, \
                                                 size_t begin, size_t end)               \
    {                                                                                    \
        size_t i = begin;                                                                \
        for (; i + ZO_LANES <= end; i += ZO_LANES)                                       \
            zo_v_store(dst, ZO_KIND_##D, i, ZO_LANES,                                    \
                       zo_v_mul(zo_v_load(src, ZO_KIND_##S, i, ZO_LANES), zo_v_set1(scale))); \
        if (i < end)                                                                     \
            zo_v_store(dst, ZO_KIND_##D, i, end - i,                                     \
                       zo_v_mul(zo_v_load(src, ZO_KIND_##S, i, end - i), zo_v_set1(scale))); \
    }
ZO_CAST_VARIANTS(ZO_DEFINE_CAST)

/* acc[i] += grad[i] in fp32: gradient accumulation over micro-steps. */
#define ZO_DEFINE_ACCUMULATE(G)                                                          \
    static void ZO_KERNEL_PREFIX(accumulate_##G)(void *acc, const void *grad, float scale, \
                                                 size_t begin, size_t end)               \
    {                                                                                    \
        (void)scale;                                                                     \
        size_t i = begin;                                                                \
        for (; i + ZO_LANES <= end; i += ZO_LANES)                                       \
            zo_v_store(acc, ZO_DTYPE_F32, i, ZO_LANES,                                   \
                       zo_v_add(zo_v_load(acc, ZO_DTYPE_F32, i, ZO_LANES),                \
                                zo_v_load(grad, ZO_KIND_##G, i, ZO_LANES)));              \
        if (i < end)                                                                     \
            zo_v_store(acc, ZO_DTYPE_F32, i, end - i,                                    \
                       zo_v_add(zo_v_load(acc, ZO_DTYPE_F32, i, end - i),                 \
                                zo_v_load(grad, ZO_KIND_##G, i, end - i)));               \
    }
ZO_DEFINE_ACCUMULATE(F32)
ZO_DEFINE_ACCUMULATE(F16)
ZO_DEFINE_ACCUMULATE(BF16)

#define ZO_DEFINE_SUM_SQUARES(D)                                                         \
    static double ZO_KERNEL_PREFIX(sum_squares_##D)(const void *data, size_t begin, size_t end) \
    {                                                                                    \
        return zo_sum_squares(data, ZO_KIND_##D, begin, end);                            \
    }
ZO_DEFINE_SUM_SQUARES(F32)
ZO_DEFINE_SUM_SQUARES(F16)
ZO_DEFINE_SUM_SQUARES(BF16)

/* The table of this path. */
#define ZO_UPDATE_ENTRY(G, M, O)                                                         \
    [ZO_KIND_##G][ZO_MOMENT_INDEX_##M][ZO_OUT_INDEX(O)] = ZO_KERNEL_PREFIX(zo_adam_block_##G##_##M##_##O),
#define ZO_TRAFFIC_ENTRY(G, M, O)                                                        \
    [ZO_KIND_##G][ZO_MOMENT_INDEX_##M][ZO_OUT_INDEX(O)] = ZO_KERNEL_PREFIX(zo_traffic_block_##G##_##M##_##O),
#define ZO_CAST_ENTRY(S, D) [ZO_KIND_##S][ZO_KIND_##D] = ZO_KERNEL_PREFIX(cast_##S##_##D),
#define ZO_KERNEL_TABLE                                                                  \
    {                                                                                    \
        .update = {ZO_ADAM_VARIANTS(ZO_UPDATE_ENTRY)},                                   \
        .traffic_only = {ZO_ADAM_VARIANTS(ZO_TRAFFIC_ENTRY)},                            \
        .sum_squares = {[ZO_DTYPE_F32] = ZO_KERNEL_PREFIX(sum_squares_F32),              \
                        [ZO_DTYPE_F16] = ZO_KERNEL_PREFIX(sum_squares_F16),              \
                        [ZO_DTYPE_BF16] = ZO_KERNEL_PREFIX(sum_squares_BF16)},           \
        .cast = {ZO_CAST_VARIANTS(ZO_CAST_ENTRY)},                                       \
        .accumulate = {[ZO_DTYPE_F32] = ZO_KERNEL_PREFIX(accumulate_F32),                \
                       [ZO_DTYPE_F16] = ZO_KERNEL_PREFIX(accumulate_F16),                \
                       [ZO_DTYPE_BF16] = ZO_KERNEL_PREFIX(accumulate_BF16)},             \
    }

#endif
