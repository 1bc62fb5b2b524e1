/* The kernels written once over a small vector vocabulary; each instruction-set file
 * defines the vocabulary and includes this. Because every path runs the same sequence
 * of correctly rounded operations (no fused multiply-add: the build passes
 * -ffp-contract=off), all paths give the same bits as the scalar one.
 *
 * The including file defines:
 *   zo_vec, ZO_LANES                       a vector of ZO_LANES floats
 *   zo_v_set1(f), zo_v_add/sub/mul/div(a, b), zo_v_sqrt(a)
 *   zo_v_abs(a), zo_v_floor(a)             |a|; the largest integer <= a
 *   zo_v_lane_index()                      lane j holds j
 *   zo_v_min(a, b), zo_v_max(a, b)         a < b ? a : b and a > b ? a : b per lane
 *                                          (so b when a is NaN: x86's minps/maxps)
 *   zo_v_copysign(a, b)                    |a| with the sign of b
 *   zo_v_if_positive(a, b)                 b where a > 0, else +0
 *   zo_v_load(base, kind, i, count)        `count` (<= ZO_LANES) elements from
 *                                          base[i] of dtype `kind`, widened to fp32
 *                                          (the 8-bit codes to their integer values)
 *   zo_v_store(base, kind, i, count, x)    the first `count` lanes of x to base[i],
 *                                          rounded to nearest even (for the 8-bit
 *                                          codes x holds integers in their range)
 *   zo_sum_squares(data, kind, begin, end) the canonical sum of squares (kernels.h)
 *   ZO_KERNEL_PREFIX(name)                 pastes the path's prefix onto names */
#ifndef ZO_KERNEL_BODY_H
#define ZO_KERNEL_BODY_H

#include <math.h>

#define ZO_ALWAYS_INLINE static inline __attribute__((always_inline))

/* The Adam arithmetic on one vector of elements, shared by every moment format so
 * all run the very same operations. root is sqrt(v), which 8-bit moments keep. */
typedef struct zo_adam_lanes {
    zo_vec weight, m, v, root;
} zo_adam_lanes;

ZO_ALWAYS_INLINE zo_adam_lanes zo_adam_math(const zo_adam_coeffs *c, zo_vec grad, zo_vec weight, zo_vec m,
                                            zo_vec v)
{
    /* unscale (and unclip) the gradient in the same pass */
    zo_vec g = zo_v_mul(grad, zo_v_set1(c->grad_scale));
    if (c->l2 != 0.0f) /* classic Adam: weight decay as an L2 term of the gradient */
        g = zo_v_add(g, zo_v_mul(zo_v_set1(c->l2), weight));
    /* update the first moment (momentum) and the second (uncentered variance) */
    m = zo_v_add(zo_v_mul(zo_v_set1(c->beta1), m), zo_v_mul(zo_v_set1(c->one_minus_beta1), g));
    v = zo_v_add(zo_v_mul(zo_v_set1(c->beta2), v),
                 zo_v_mul(zo_v_set1(c->one_minus_beta2), zo_v_mul(g, g)));
    /* bias-corrected denominator sqrt(v / bc2) + eps, as DeepSpeed and PyTorch do */
    zo_vec root = zo_v_sqrt(v);
    zo_vec denom = zo_v_add(zo_v_mul(root, zo_v_set1(c->inv_sqrt_bc2)), zo_v_set1(c->eps));
    if (c->decay != 0.0f) /* AdamW: decoupled decay of the weight itself */
        weight = zo_v_add(weight, zo_v_mul(zo_v_set1(c->decay), weight));
    weight = zo_v_sub(weight, zo_v_mul(zo_v_set1(c->step_size), zo_v_div(m, denom)));
    return (zo_adam_lanes){.weight = weight, .m = m, .v = v, .root = root};
}

/* One vector of the Adam step: see zo_adam_step() in zo/adam.h for the formula. */
ZO_ALWAYS_INLINE void zo_adam_block(const zo_adam_kernel_args *args, size_t i, size_t count,
                                    int grad_kind, int moment_kind, int out_kind)
{
    zo_adam_lanes r = zo_adam_math(&args->coeffs, zo_v_load(args->grad, grad_kind, i, count),
                                   zo_v_load(args->master, ZO_DTYPE_F32, i, count),
                                   zo_v_load(args->exp_avg, moment_kind, i, count),
                                   zo_v_load(args->exp_avg_sq, moment_kind, i, count));
    zo_v_store(args->master, ZO_DTYPE_F32, i, count, r.weight);
    zo_v_store(args->exp_avg, moment_kind, i, count, r.m);
    zo_v_store(args->exp_avg_sq, moment_kind, i, count, r.v);
    if (out_kind != ZO_KIND_NONE) /* the low-precision copy that goes to the GPU */
        zo_v_store(args->weights_out, out_kind, i, count, r.weight);
}

/* The 8-bit code maps (zo/adam.h). Decoding: m = scale * t |t| with t = c / 127;
 * sqrt(v) = scale * u^2 with u = c / 255, and v = sqrt(v)^2 (finite: a scale is at
 * most the largest float's correctly rounded root, whose square is finite). */
#define ZO_Q8_FIRST_LEVELS 127.0f
#define ZO_Q8_SECOND_LEVELS 255.0f

ZO_ALWAYS_INLINE zo_vec zo_q8_decode_first(zo_vec code, zo_vec scale)
{
    zo_vec t = zo_v_mul(code, zo_v_set1(1.0f / ZO_Q8_FIRST_LEVELS));
    return zo_v_mul(zo_v_mul(t, zo_v_abs(t)), scale);
}

ZO_ALWAYS_INLINE zo_vec zo_q8_decode_second_root(zo_vec code, zo_vec scale)
{
    zo_vec u = zo_v_mul(code, zo_v_set1(1.0f / ZO_Q8_SECOND_LEVELS));
    return zo_v_mul(zo_v_mul(u, u), scale);
}

/* What multiplies sqrt(|x|) to give the code before rounding: levels / sqrt(block's
 * max), once per block in scalar code (sqrtf and the division are correctly rounded,
 * so every path gets these bits). Never a division per element, and finite even for a
 * subnormal maximum; 0 for an all-zero block. */
static inline float zo_q8_code_factor(float block_max, float levels)
{
    return block_max > 0.0f ? levels / sqrtf(block_max) : 0.0f;
}

/* Encoding: floor(levels * sqrt(|x| / max) + offset), clamped first (which also sends
 * a NaN to the top code, the same in every path). offset 1/2 rounds to nearest (ties
 * up: the quantizer functions); the step passes a dither in [0, 1): stochastic
 * rounding, unbiased in the square-root domain. Rounded to nearest, a moment that
 * changes by less than half a code a step never changes: v moves 0.1% a step (beta2 =
 * 0.999), a code near the block's maximum is 0.8%; a decaying m stops at the code
 * (about 10) where 0.9x moves it less than half a code, and pushes on forever. */
ZO_ALWAYS_INLINE zo_vec zo_q8_encode_first(zo_vec m, zo_vec factor, zo_vec offset)
{
    zo_vec level = zo_v_min(zo_v_mul(zo_v_sqrt(zo_v_abs(m)), factor), zo_v_set1(ZO_Q8_FIRST_LEVELS));
    return zo_v_copysign(zo_v_floor(zo_v_add(level, offset)), m);
}

/* A positive v keeps at least code 1: code 0 would leave only eps in Adam's
 * denominator and turn a small momentum into a huge step. */
ZO_ALWAYS_INLINE zo_vec zo_q8_encode_second(zo_vec root, zo_vec factor, zo_vec offset)
{
    zo_vec level = zo_v_min(zo_v_mul(zo_v_sqrt(root), factor), zo_v_set1(ZO_Q8_SECOND_LEVELS));
    return zo_v_max(zo_v_floor(zo_v_add(level, offset)), zo_v_if_positive(root, zo_v_set1(1.0f)));
}

/* The dither of lanes k .. k + ZO_LANES - 1 of a block whose offset is `offset`
 * (kernels.h): frac(j * golden ratio + offset), j < 256 so j * 0.618 + offset < 160
 * keeps 2^-16 of resolution. */
ZO_ALWAYS_INLINE zo_vec zo_q8_dither(size_t k, zo_vec offset)
{
    zo_vec j = zo_v_add(zo_v_set1((float)k), zo_v_lane_index());
    zo_vec x = zo_v_add(zo_v_mul(j, zo_v_set1(0.618033988749894848f)), offset);
    return zo_v_sub(x, zo_v_floor(x));
}

/* A moment's dither offset for the block starting at element `index` of the state. */
static inline float zo_q8_dither_offset(uint64_t index, uint32_t seed)
{
    return (float)(zo_q8_dither_hash((uint32_t)index, seed) >> 8) * 0x1p-24f;
}

/* The largest lane (NaN lanes never win: see zo_v_max), the same for any lane order. */
ZO_ALWAYS_INLINE float zo_v_max_lane(zo_vec x)
{
    float lanes[ZO_LANES];
    zo_v_store(lanes, ZO_DTYPE_F32, 0, ZO_LANES, x);
    float best = 0.0f;
    for (int j = 0; j < ZO_LANES; j++)
        best = lanes[j] > best ? lanes[j] : best;
    return best;
}

/* One block of the step with 8-bit moments, [begin, begin + count), count <= one
 * block: decode, Adam in fp32, weights out; the new m and sqrt(v) wait in two small
 * buffers (1 KiB each, in L1) until the block's new maxima are known, then are
 * encoded with a dither drawn for this block. The
 * arrays are read and written once: the same single pass as the other formats. */
ZO_ALWAYS_INLINE void zo_adam_q8_block(const zo_adam_kernel_args *args, size_t begin, size_t count,
                                       int grad_kind, int out_kind)
{
    float new_m[ZO_Q8_BLOCK_ELEMS] __attribute__((aligned(64)));
    float new_root[ZO_Q8_BLOCK_ELEMS] __attribute__((aligned(64)));
    /* local copies: the compiler cannot know the stores below miss *args, and would
     * reload every coefficient and pointer from it after each one */
    const zo_adam_coeffs coeffs = args->coeffs;
    int8_t *exp_avg = args->exp_avg;
    uint8_t *exp_avg_sq = args->exp_avg_sq;
    float *master = args->master;
    const void *grad = args->grad;
    void *weights_out = args->weights_out;
    size_t block = begin / ZO_Q8_BLOCK_ELEMS;
    zo_vec m_scale = zo_v_set1(args->exp_avg_scale[block]);
    zo_vec root_scale = zo_v_set1(args->exp_avg_sq_scale[block]);
    zo_vec m_max = zo_v_set1(0.0f), root_max = zo_v_set1(0.0f);
    for (size_t k = 0; k < count; k += ZO_LANES) {
        size_t lanes = count - k < ZO_LANES ? count - k : ZO_LANES, i = begin + k;
        zo_vec m = zo_q8_decode_first(zo_v_load(exp_avg, ZO_DTYPE_I8, i, lanes), m_scale);
        zo_vec root = zo_q8_decode_second_root(zo_v_load(exp_avg_sq, ZO_DTYPE_U8, i, lanes), root_scale);
        zo_adam_lanes r = zo_adam_math(&coeffs, zo_v_load(grad, grad_kind, i, lanes),
                                       zo_v_load(master, ZO_DTYPE_F32, i, lanes), m, zo_v_mul(root, root));
        zo_v_store(master, ZO_DTYPE_F32, i, lanes, r.weight);
        if (out_kind != ZO_KIND_NONE)
            zo_v_store(weights_out, out_kind, i, lanes, r.weight);
        zo_v_store(new_m, ZO_DTYPE_F32, k, lanes, r.m);
        zo_v_store(new_root, ZO_DTYPE_F32, k, lanes, r.root);
        /* lanes past `lanes` hold zeros (loads of a tail are zero-filled): no effect */
        m_max = zo_v_max(zo_v_abs(r.m), m_max);
        root_max = zo_v_max(r.root, root_max);
    }
    float m_block_max = zo_v_max_lane(m_max), root_block_max = zo_v_max_lane(root_max);
    args->exp_avg_scale[block] = m_block_max;
    args->exp_avg_sq_scale[block] = root_block_max;
    zo_vec m_factor = zo_v_set1(zo_q8_code_factor(m_block_max, ZO_Q8_FIRST_LEVELS));
    zo_vec root_factor = zo_v_set1(zo_q8_code_factor(root_block_max, ZO_Q8_SECOND_LEVELS));
    uint64_t block_index = args->first_index + begin; /* in the whole state */
    zo_vec m_offset = zo_v_set1(zo_q8_dither_offset(block_index, coeffs.dither_seed));
    zo_vec v_offset = zo_v_set1(zo_q8_dither_offset(block_index, coeffs.dither_seed ^ 0x5bd1e995u));
    for (size_t k = 0; k < count; k += ZO_LANES) {
        size_t lanes = count - k < ZO_LANES ? count - k : ZO_LANES, i = begin + k;
        zo_v_store(exp_avg, ZO_DTYPE_I8, i, lanes,
                   zo_q8_encode_first(zo_v_load(new_m, ZO_DTYPE_F32, k, lanes), m_factor,
                                      zo_q8_dither(k, m_offset)));
        zo_v_store(exp_avg_sq, ZO_DTYPE_U8, i, lanes,
                   zo_q8_encode_second(zo_v_load(new_root, ZO_DTYPE_F32, k, lanes), root_factor,
                                       zo_q8_dither(k, v_offset)));
    }
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

/* The same for 8-bit moments: each block's two scales and its codes read and written
 * once, the codes kept in range by a clamp. */
ZO_ALWAYS_INLINE void zo_traffic_q8_block(const zo_adam_kernel_args *args, size_t begin, size_t count,
                                          int grad_kind, int out_kind)
{
    size_t block = begin / ZO_Q8_BLOCK_ELEMS;
    zo_vec m_scale = zo_v_set1(args->exp_avg_scale[block]);
    zo_vec root_scale = zo_v_set1(args->exp_avg_sq_scale[block]);
    for (size_t k = 0; k < count; k += ZO_LANES) {
        size_t lanes = count - k < ZO_LANES ? count - k : ZO_LANES, i = begin + k;
        zo_vec g = zo_v_load(args->grad, grad_kind, i, lanes);
        zo_vec weight = zo_v_add(zo_v_load(args->master, ZO_DTYPE_F32, i, lanes), g);
        zo_vec m = zo_v_add(zo_v_load(args->exp_avg, ZO_DTYPE_I8, i, lanes), m_scale);
        zo_vec v = zo_v_add(zo_v_load(args->exp_avg_sq, ZO_DTYPE_U8, i, lanes), root_scale);
        zo_v_store(args->master, ZO_DTYPE_F32, i, lanes, weight);
        if (out_kind != ZO_KIND_NONE)
            zo_v_store(args->weights_out, out_kind, i, lanes, weight);
        zo_v_store(args->exp_avg, ZO_DTYPE_I8, i, lanes,
                   zo_v_floor(zo_v_max(zo_v_min(m, zo_v_set1(127.0f)), zo_v_set1(-127.0f))));
        zo_v_store(args->exp_avg_sq, ZO_DTYPE_U8, i, lanes,
                   zo_v_floor(zo_v_max(zo_v_min(v, zo_v_set1(255.0f)), zo_v_set1(0.0f))));
    }
    args->exp_avg_scale[block] += 1.0f;
    args->exp_avg_sq_scale[block] += 1.0f;
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
/* 8-bit moments go block by block: `begin` is a block boundary (adam.c's chunks are
 * whole blocks), so a block is never split between threads. */
#define ZO_DEFINE_Q8_RANGE(block, G, O)                                                  \
    static void ZO_KERNEL_PREFIX(block##_block_##G##_Q8_##O)(const zo_adam_kernel_args *args, \
                                                             size_t begin, size_t end)   \
    {                                                                                    \
        size_t i = begin; /* whole blocks with a constant count: no tail tests inside */ \
        for (; i + ZO_Q8_BLOCK_ELEMS <= end; i += ZO_Q8_BLOCK_ELEMS)                     \
            block##_q8_block(args, i, ZO_Q8_BLOCK_ELEMS, ZO_KIND_##G, ZO_KIND_##O);      \
        if (i < end)                                                                     \
            block##_q8_block(args, i, end - i, ZO_KIND_##G, ZO_KIND_##O);                \
    }
#define ZO_DEFINE_UPDATE_F32(G, O) ZO_DEFINE_RANGE(zo_adam_block, G, F32, O)
#define ZO_DEFINE_UPDATE_BF16(G, O) ZO_DEFINE_RANGE(zo_adam_block, G, BF16, O)
#define ZO_DEFINE_UPDATE_Q8(G, O) ZO_DEFINE_Q8_RANGE(zo_adam, G, O)
#define ZO_DEFINE_TRAFFIC_F32(G, O) ZO_DEFINE_RANGE(zo_traffic_block, G, F32, O)
#define ZO_DEFINE_TRAFFIC_BF16(G, O) ZO_DEFINE_RANGE(zo_traffic_block, G, BF16, O)
#define ZO_DEFINE_TRAFFIC_Q8(G, O) ZO_DEFINE_Q8_RANGE(zo_traffic, G, O)
#define ZO_DEFINE_UPDATE(G, M, O) ZO_DEFINE_UPDATE_##M(G, O)
#define ZO_DEFINE_TRAFFIC(G, M, O) ZO_DEFINE_TRAFFIC_##M(G, O)
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

/* The quantizer alone (checkpoint tools, tests): the step's encoding of fp32 moments,
 * block by block from `begin` (a block boundary), and its decoding. `second`: the
 * second moment (unsigned codes of sqrt(v)), else the first (signed codes of m); a
 * constant where it is inlined. */
ZO_ALWAYS_INLINE void zo_q8_quantize(void *codes, float *scales, float *values, size_t begin, size_t end,
                                     bool second)
{
    for (size_t b = begin; b < end; b += ZO_Q8_BLOCK_ELEMS) {
        size_t count = end - b < ZO_Q8_BLOCK_ELEMS ? end - b : ZO_Q8_BLOCK_ELEMS;
        zo_vec most = zo_v_set1(0.0f);
        for (size_t k = 0; k < count; k += ZO_LANES) {
            zo_vec x = zo_v_load(values, ZO_DTYPE_F32, b + k, count - k < ZO_LANES ? count - k : ZO_LANES);
            most = zo_v_max(second ? zo_v_sqrt(x) : zo_v_abs(x), most);
        }
        float block_max = zo_v_max_lane(most);
        scales[b / ZO_Q8_BLOCK_ELEMS] = block_max;
        zo_vec factor =
            zo_v_set1(zo_q8_code_factor(block_max, second ? ZO_Q8_SECOND_LEVELS : ZO_Q8_FIRST_LEVELS));
        for (size_t k = 0; k < count; k += ZO_LANES) {
            size_t lanes = count - k < ZO_LANES ? count - k : ZO_LANES;
            zo_vec x = zo_v_load(values, ZO_DTYPE_F32, b + k, lanes);
            if (second)
                zo_v_store(codes, ZO_DTYPE_U8, b + k, lanes,
                           zo_q8_encode_second(zo_v_sqrt(x), factor, zo_v_set1(0.5f)));
            else
                zo_v_store(codes, ZO_DTYPE_I8, b + k, lanes, zo_q8_encode_first(x, factor, zo_v_set1(0.5f)));
        }
    }
}

static void ZO_KERNEL_PREFIX(quantize_first)(void *codes, float *scales, float *values, size_t begin,
                                             size_t end)
{
    zo_q8_quantize(codes, scales, values, begin, end, false);
}

static void ZO_KERNEL_PREFIX(quantize_second)(void *codes, float *scales, float *values, size_t begin,
                                              size_t end)
{
    zo_q8_quantize(codes, scales, values, begin, end, true);
}

static void ZO_KERNEL_PREFIX(dequantize_first)(void *codes, float *scales, float *values, size_t begin,
                                               size_t end)
{
    for (size_t i = begin; i < end; i += ZO_LANES) {
        size_t lanes = end - i < ZO_LANES ? end - i : ZO_LANES;
        /* a vector never straddles blocks: blocks are whole vectors in every path */
        zo_vec scale = zo_v_set1(scales[i / ZO_Q8_BLOCK_ELEMS]);
        zo_v_store(values, ZO_DTYPE_F32, i, lanes,
                   zo_q8_decode_first(zo_v_load(codes, ZO_DTYPE_I8, i, lanes), scale));
    }
}

static void ZO_KERNEL_PREFIX(dequantize_second)(void *codes, float *scales, float *values, size_t begin,
                                                size_t end)
{
    for (size_t i = begin; i < end; i += ZO_LANES) {
        size_t lanes = end - i < ZO_LANES ? end - i : ZO_LANES;
        zo_vec root = zo_q8_decode_second_root(zo_v_load(codes, ZO_DTYPE_U8, i, lanes),
                                               zo_v_set1(scales[i / ZO_Q8_BLOCK_ELEMS]));
        zo_v_store(values, ZO_DTYPE_F32, i, lanes, zo_v_mul(root, root));
    }
}

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
        .quantize = {ZO_KERNEL_PREFIX(quantize_first), ZO_KERNEL_PREFIX(quantize_second)}, \
        .dequantize = {ZO_KERNEL_PREFIX(dequantize_first), ZO_KERNEL_PREFIX(dequantize_second)}, \
    }

#endif
