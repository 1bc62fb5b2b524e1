/* The kernels written once over a small vector vocabulary; each instruction-set file
 * defines the vocabulary and includes this. Because every path runs the same sequence
 * of correctly rounded operations (no fused multiply-add: the build passes
 * -ffp-contract=off) and the same integer operations, all paths give the same bits as
 * the scalar one.
 *
 * The including file defines:
 *   zo_vec, ZO_LANES                       a vector of ZO_LANES floats
 *   zo_v_set1(f), zo_v_add/sub/mul/div(a, b), zo_v_sqrt(a), zo_v_abs(a)
 *   zo_v_fma(a, b, c)                      a * b + c rounded once
 *   zo_v_min(a, b), zo_v_max(a, b)         a < b ? a : b and a > b ? a : b per lane
 *                                          (so b when a is NaN: x86's minps/maxps)
 *   zo_v_max_across(x)                     the largest lane, in any order: for lanes
 *                                          that are neither NaN nor -0.0 (maxima kept
 *                                          as zo_v_max(x, most) from +0.0 never are)
 *   zo_v_load(base, kind, i, count)        `count` (<= ZO_LANES) elements from
 *                                          base[i] of dtype `kind`, widened to fp32
 *                                          (lanes past count are zero)
 *   zo_v_store(base, kind, i, count, x)    the first `count` lanes of x to base[i],
 *                                          rounded to nearest even
 *   zo_v_stream(base, kind, i, count, x)   the same store, past the caches where the
 *                                          path can; a whole vector must be aligned
 *                                          to its size, and the caller fences
 *                                          (kernels.h: stream_weights_out)
 *   zo_ivec                                the same lanes as 32-bit integers (8-bit
 *                                          moments' codes): zo_i_set1(u),
 *                                          zo_i_add/sub/and/or(a, b) (wrapping),
 *                                          zo_i_srl/sll(a, n) (logical, n a constant),
 *                                          zo_i_min/max (signed), zo_i_abs(a),
 *                                          zo_i_sign(a, b) (a where b > 0, -a where
 *                                          b < 0; a must be 0 where b == 0, where
 *                                          the result is 0), zo_i_load_u32(p)
 *   zo_v_bits(x), zo_i_as_float(i)         a float vector's bits, and back
 *   zo_i_load_codes(base, kind, i, count)  8-bit codes (ZO_DTYPE_I8 sign-extended,
 *                                          U8 zero-extended), lanes past count zero
 *   zo_i_store_codes(base, kind, i, count, x), zo_i_store_codes4(base, kind, i, x[4])
 *                                          codes clamped to [-127, 127] (I8) or
 *                                          [0, 255] (U8): one vector's first count
 *                                          lanes, or four whole vectors
 *   zo_sum_squares(data, kind, begin, end) the canonical sum of squares (kernels.h)
 *   ZO_KERNEL_PREFIX(name)                 pastes the path's prefix onto names */
#ifndef ZO_KERNEL_BODY_H
#define ZO_KERNEL_BODY_H

#include <math.h>

#define ZO_ALWAYS_INLINE static inline __attribute__((always_inline))

/* The low-precision copy of the weights that goes to the GPU: past the caches when
 * adam.c says so (kernels.h), otherwise a plain store. */
ZO_ALWAYS_INLINE void zo_store_weights_out(void *out, bool stream, int kind, size_t i, size_t count, zo_vec w)
{
    if (stream)
        zo_v_stream(out, kind, i, count, w);
    else
        zo_v_store(out, kind, i, count, w);
}

/* One vector of the Adam step with fp32 or bf16 moments: see zo_adam_step() in
 * zo/adam.h for the formula. */
ZO_ALWAYS_INLINE void zo_adam_block(const zo_adam_kernel_args *args, size_t i, size_t count,
                                    int grad_kind, int moment_kind, int out_kind)
{
    const zo_adam_coeffs *c = &args->coeffs;
    zo_vec weight = zo_v_load(args->master, ZO_DTYPE_F32, i, count);
    zo_vec m = zo_v_load(args->exp_avg, moment_kind, i, count);
    zo_vec v = zo_v_load(args->exp_avg_sq, moment_kind, i, count);
    /* unscale (and unclip) the gradient in the same pass */
    zo_vec g = zo_v_mul(zo_v_load(args->grad, grad_kind, i, count), zo_v_set1(c->grad_scale));
    if (c->l2 != 0.0f) /* classic Adam: weight decay as an L2 term of the gradient */
        g = zo_v_add(g, zo_v_mul(zo_v_set1(c->l2), weight));
    /* update the first moment (momentum) and the second (uncentered variance) */
    m = zo_v_add(zo_v_mul(zo_v_set1(c->beta1), m), zo_v_mul(zo_v_set1(c->one_minus_beta1), g));
    v = zo_v_add(zo_v_mul(zo_v_set1(c->beta2), v), zo_v_mul(zo_v_set1(c->one_minus_beta2), zo_v_mul(g, g)));
    /* bias-corrected denominator sqrt(v / bc2) + eps, as DeepSpeed and PyTorch do */
    zo_vec t = zo_v_add(zo_v_mul(zo_v_sqrt(v), zo_v_set1(c->inv_sqrt_bc2)), zo_v_set1(c->eps));
    if (c->decay != 0.0f) /* AdamW: decoupled decay of the weight itself */
        weight = zo_v_add(weight, zo_v_mul(zo_v_set1(c->decay), weight));
    weight = zo_v_sub(weight, zo_v_mul(zo_v_set1(c->step_size), zo_v_div(m, t)));
    zo_v_store(args->master, ZO_DTYPE_F32, i, count, weight);
    zo_v_store(args->exp_avg, moment_kind, i, count, m);
    zo_v_store(args->exp_avg_sq, moment_kind, i, count, v);
    if (out_kind != ZO_KIND_NONE)
        zo_store_weights_out(args->weights_out, args->stream_weights_out, out_kind, i, count, weight);
}

/* The 8-bit code maps (zo/adam.h): small floats read straight from a float's bits.
 * A code's magnitude q, shifted into the exponent and mantissa fields of 1.0f, is the
 * float F(q) = 2^e (1 + f / 2^k) (q = e 2^k + f, k mantissa bits); the moment is
 * (F(q) - 1) * unit, unit = the block's scale / top, so that code 0 is exactly 0, the
 * codes below 2^k are evenly spaced (like subnormals), and above that each binade has
 * 2^k codes. Decoding is a shift, an integer add and a float subtract; encoding the
 * reverse, rounding the kept bits with an integer dither: no square root, no
 * division, no float rounding instruction per element. */
#define ZO_Q8_ONE_BITS 0x3f800000u /* 1.0f */
#define ZO_Q8_SIGN_BIT 0x80000000u
#define ZO_Q8_FIRST_SHIFT 20 /* m: 4 exponent and 3 mantissa bits, and the sign */
#define ZO_Q8_SECOND_SHIFT 19 /* sqrt(v): 4 exponent and 4 mantissa bits */
#define ZO_Q8_FIRST_TOP 61439.0f  /* F(127) - 1 = 2^15 * 1.875 - 1 */
#define ZO_Q8_SECOND_TOP 63487.0f /* F(255) - 1 = 2^15 * 1.9375 - 1 */
/* A block's scale counts as at least this: top / scale stays finite (an all-zero or
 * subnormal block), and unit stays a normal float. Moments below 2^-119 become 0 or
 * the smallest code, far below any eps Adam divides by. */
#define ZO_Q8_SMALLEST_SCALE 0x1p-100f

/* The per-block constants, in scalar code (the same bits in every path): what
 * multiplies (F(q) - 1) to decode, scale / top rounded toward zero, so that no code
 * decodes above the block's maximum (a finite maximum gives finite moments), and what
 * multiplies |x| to give F(q) - 1 before rounding. (The product of a float and the
 * 16-bit top is exact in double.) */
static inline float zo_q8_unit(float scale, float top)
{
    float clamped = scale > ZO_Q8_SMALLEST_SCALE ? scale : ZO_Q8_SMALLEST_SCALE;
    float unit = clamped / top;
    return (double)unit * top > (double)clamped ? nextafterf(unit, 0.0f) : unit;
}

static inline float zo_q8_code_factor(float scale, float top)
{
    return top / (scale > ZO_Q8_SMALLEST_SCALE ? scale : ZO_Q8_SMALLEST_SCALE);
}

/* (F(q) - 1) * unit for the code magnitudes q (>= 0). F(q) - 1 is exact, so the fused
 * F(q) * unit - unit rounds once, giving the bits of that product. */
ZO_ALWAYS_INLINE zo_vec zo_q8_decode_magnitude(zo_ivec q, int shift, float unit)
{
    zo_vec f = zo_i_as_float(zo_i_add(zo_i_sll(q, shift), zo_i_set1(ZO_Q8_ONE_BITS)));
    return zo_v_fma(f, zo_v_set1(unit), zo_v_set1(-unit));
}

ZO_ALWAYS_INLINE zo_vec zo_q8_decode_first(zo_ivec code, float unit)
{
    zo_vec magnitude = zo_q8_decode_magnitude(zo_i_abs(code), ZO_Q8_FIRST_SHIFT, unit);
    return zo_i_as_float(zo_i_or(zo_v_bits(magnitude), zo_i_and(code, zo_i_set1(ZO_Q8_SIGN_BIT))));
}

ZO_ALWAYS_INLINE zo_vec zo_q8_decode_second_root(zo_ivec code, float unit)
{
    return zo_q8_decode_magnitude(code, ZO_Q8_SECOND_SHIFT, unit);
}

/* The magnitude code of |x| * factor (>= 0, or NaN): the bits of that plus 1 above
 * 1.0f's, plus a dither below the kept bits (in [0, 2^shift); 2^(shift - 1) rounds to
 * nearest, ties up), shifted down. Rounding up happens with the probability of the
 * value's position between its two codes, which are linear in between: unbiased. The
 * caller passes the dither less 1.0f's bits (`offset`, one subtract it shares). The
 * result is at most 2^(32 - shift); the stores clamp it to the top code (the block's
 * maximum rounded up, a NaN), the same in every path. */
ZO_ALWAYS_INLINE zo_ivec zo_q8_encode_magnitude(zo_vec magnitude, zo_vec factor, zo_ivec offset, int shift)
{
    zo_vec level = zo_v_fma(magnitude, factor, zo_v_set1(1.0f));
    return zo_i_srl(zo_i_add(zo_v_bits(level), offset), shift);
}

/* The encoding offset of a dither, or of rounding to nearest (ties up) */
ZO_ALWAYS_INLINE zo_ivec zo_q8_offset(zo_ivec dither) { return zo_i_sub(dither, zo_i_set1(ZO_Q8_ONE_BITS)); }
#define ZO_Q8_NEAREST_OFFSET(shift) zo_i_set1((1u << ((shift) - 1)) - ZO_Q8_ONE_BITS)

ZO_ALWAYS_INLINE zo_ivec zo_q8_encode_first(zo_vec m, zo_vec factor, zo_ivec offset)
{
    zo_ivec q = zo_q8_encode_magnitude(zo_v_abs(m), factor, offset, ZO_Q8_FIRST_SHIFT);
    /* +0.0 has q = 0 (|m| * factor + 1 is exactly 1.0, the dither below the kept bits),
     * as zo_i_sign asks; -0.0's bits are negative, and -0 is 0 */
    return zo_i_sign(q, zo_v_bits(m));
}

/* A positive v keeps at least code 1: code 0 would leave only eps in Adam's
 * denominator and turn a small momentum into a huge step. min(bits, 1) is 1 for a
 * positive root, 0 for +0, negative for -0. */
ZO_ALWAYS_INLINE zo_ivec zo_q8_encode_second(zo_vec root, zo_vec factor, zo_ivec offset)
{
    zo_ivec q = zo_q8_encode_magnitude(root, factor, offset, ZO_Q8_SECOND_SHIFT);
    return zo_i_max(q, zo_i_min(zo_v_bits(root), zo_i_set1(1)));
}

/* The dither of a block (kernels.h): element j's term is u + j * golden (mod 2^32), a
 * Weyl sequence from the block's offset u; `weyl` holds the lanes' current terms and
 * steps ZO_LANES elements on. m's dither is a term's top 20 bits and sqrt(v)'s its
 * low 19 bits (a Weyl sequence modulo 2^19 of its own), so one sequence serves both
 * and their roundings stay independent. */
#define ZO_Q8_WEYL_STEP 0x9E3779B9u /* 2^32 / golden ratio */
static const uint32_t zo_q8_weyl_lanes[16] = {
    0u * ZO_Q8_WEYL_STEP,  1u * ZO_Q8_WEYL_STEP,  2u * ZO_Q8_WEYL_STEP,  3u * ZO_Q8_WEYL_STEP,
    4u * ZO_Q8_WEYL_STEP,  5u * ZO_Q8_WEYL_STEP,  6u * ZO_Q8_WEYL_STEP,  7u * ZO_Q8_WEYL_STEP,
    8u * ZO_Q8_WEYL_STEP,  9u * ZO_Q8_WEYL_STEP,  10u * ZO_Q8_WEYL_STEP, 11u * ZO_Q8_WEYL_STEP,
    12u * ZO_Q8_WEYL_STEP, 13u * ZO_Q8_WEYL_STEP, 14u * ZO_Q8_WEYL_STEP, 15u * ZO_Q8_WEYL_STEP,
};
_Static_assert(ZO_LANES <= 16, "zo_q8_weyl_lanes covers the widest path");
ZO_ALWAYS_INLINE zo_ivec zo_q8_weyl_start(uint32_t offset)
{
    return zo_i_add(zo_i_set1(offset), zo_i_load_u32(zo_q8_weyl_lanes));
}

ZO_ALWAYS_INLINE zo_ivec zo_q8_first_offset(zo_ivec weyl) { return zo_q8_offset(zo_i_srl(weyl, 32 - ZO_Q8_FIRST_SHIFT)); }

ZO_ALWAYS_INLINE zo_ivec zo_q8_second_offset(zo_ivec weyl)
{
    return zo_q8_offset(zo_i_and(weyl, zo_i_set1((1u << ZO_Q8_SECOND_SHIFT) - 1)));
}

/* The dither offset u of the block starting at element `index` of the state. */
static inline uint32_t zo_q8_dither_offset(uint64_t index, uint32_t seed)
{
    return zo_q8_dither_hash((uint32_t)index, seed);
}

/* Software prefetch for the 8-bit step (and its traffic kernel, which must move its
 * bytes the same way to stay its limit): at each block's start, the cache lines of the
 * block ZO_Q8_PREFETCH_AHEAD elements on. The hardware prefetchers alone left the
 * step's arithmetic waiting on memory: at 256M parameters on a Zen 5 VM (AVX-512),
 * five rounds side by side with the build before, the step took 57-90 ms against
 * 63-108 (docs/benchmarks.md). Once a block costs 2-3 instructions per 16 elements;
 * asking group by group cost 8-17% more time cache-resident. Four blocks (16 KiB of
 * the step's streams) is well past the memory's latency at a core's share of its
 * bandwidth, and what comes in stays in L1 until used. */
#define ZO_Q8_PREFETCH_AHEAD (4 * ZO_Q8_BLOCK_ELEMS)

/* Asks for the cache lines that start within elements [i, i + n) of an array of
 * elem_size-byte elements (a line that starts before belongs to the previous range),
 * for writing where `write`. */
ZO_ALWAYS_INLINE void zo_prefetch_lines(const void *base, size_t elem_size, size_t i, size_t n, bool write)
{
    uintptr_t from = (uintptr_t)base + i * elem_size, to = from + n * elem_size;
    for (uintptr_t line = (from + 63) & ~(uintptr_t)63; line < to; line += 64) {
        if (write)
            __builtin_prefetch((const void *)line, 1, 3);
        else
            __builtin_prefetch((const void *)line, 0, 3);
    }
}

/* The lines of the 8-bit step's streams for elements [i, i + n) plus the distance,
 * within the thread's range (end); not the weights out, written past the caches or
 * whole, nor the block scales, a float a block. */
ZO_ALWAYS_INLINE void zo_q8_prefetch(const void *grad, int grad_kind, const float *master, const void *exp_avg,
                                     const void *exp_avg_sq, size_t i, size_t n, size_t end)
{
    size_t ahead = i + ZO_Q8_PREFETCH_AHEAD;
    if (ahead >= end)
        return;
    if (n > end - ahead)
        n = end - ahead;
    zo_prefetch_lines(master, sizeof(float), ahead, n, true);
    zo_prefetch_lines(grad, grad_kind == ZO_KIND_F32 ? sizeof(float) : sizeof(uint16_t), ahead, n, false);
    zo_prefetch_lines(exp_avg, 1, ahead, n, true);
    zo_prefetch_lines(exp_avg_sq, 1, ahead, n, true);
}

/* What a block's update reads, copied to locals: the compiler cannot know that the
 * stores miss *args, and would reload every coefficient and pointer after each one. */
typedef struct zo_q8_block_step {
    const void *grad;
    float *master;
    void *weights_out;
    bool stream_weights_out;
    const int8_t *exp_avg;
    const uint8_t *exp_avg_sq;
    size_t end; /* of the thread's range: its prefetches stop there */
    zo_adam_coeffs c;
    /* the betas folded into the block's decoding: codes decode to beta1 * m and to
     * sqrt(beta2) * sqrt(v), one fused multiply-add each */
    float first_keep, second_keep;
} zo_q8_block_step;

/* Each line of a group's arithmetic runs over the group before the next: a vector's
 * arithmetic is one long chain of dependent operations (the square root and the
 * division among them), and written this way the compiler lays the group's chains
 * side by side, so the core overlaps them instead of waiting on one. */
#define ZO_EACH(u, n) for (int u = 0; u < (n); u++)

/* Vectors k, k + ZO_LANES, ... (n of them, `lanes` elements each: n is 1 unless
 * lanes is ZO_LANES) of the block at `begin`: decode, Adam, master and weights out,
 * the new m and sqrt(v) to the block's buffers, their maxima. The arithmetic is
 * zo_adam_block's rearranged around the codes, with fused multiply-adds (one rounding
 * in every path): m = beta1 m + (1 - beta1) g, v = (sqrt(beta2) sqrt(v))^2 +
 * (sqrt(1 - beta2) g)^2, w = (1 + decay) w - step_size m / (sqrt(v) / sqrt(bc2) + eps);
 * 11 floating-point operations a vector where decoding and zo_adam_block's took 21
 * (docs/cpu_adam.md).
 * `l2` is a constant: classic Adam's L2 term makes the gradient a value of its own. */
#define ZO_Q8_GROUP 2 /* vectors in flight at once; four spill (docs/benchmarks.md) */
ZO_ALWAYS_INLINE void zo_q8_update_group(const zo_q8_block_step *s, float *new_m, float *new_root, size_t begin,
                                         size_t k, size_t lanes, int n, int grad_kind, int out_kind, bool l2,
                                         zo_vec *m_max, zo_vec *root_max)
{
    zo_vec m[ZO_Q8_GROUP], root[ZO_Q8_GROUP], g[ZO_Q8_GROUP], w[ZO_Q8_GROUP];
    ZO_EACH(u, n) m[u] = zo_q8_decode_first(zo_i_load_codes(s->exp_avg, ZO_DTYPE_I8, begin + k + u * ZO_LANES, lanes), s->first_keep);
    ZO_EACH(u, n) root[u] = zo_q8_decode_second_root(zo_i_load_codes(s->exp_avg_sq, ZO_DTYPE_U8, begin + k + u * ZO_LANES, lanes), s->second_keep);
    ZO_EACH(u, n) g[u] = zo_v_load(s->grad, grad_kind, begin + k + u * ZO_LANES, lanes);
    ZO_EACH(u, n) w[u] = zo_v_load(s->master, ZO_DTYPE_F32, begin + k + u * ZO_LANES, lanes);
    /* what multiplies the gradient: (1 - beta1) for m, sqrt(1 - beta2) for v, with the
     * gradient's scale folded in, unless it is applied first for the L2 term */
    float first_grad = l2 ? s->c.one_minus_beta1 : s->c.first_grad_factor;
    float second_grad = l2 ? s->c.sqrt_one_minus_beta2 : s->c.second_grad_factor;
    if (l2) /* unscale, then add the L2 term: the gradient Adam sees */
        ZO_EACH(u, n) g[u] = zo_v_fma(zo_v_set1(s->c.l2), w[u], zo_v_mul(g[u], zo_v_set1(s->c.grad_scale)));
    ZO_EACH(u, n) m[u] = zo_v_fma(g[u], zo_v_set1(first_grad), m[u]);
    ZO_EACH(u, n) g[u] = zo_v_mul(g[u], zo_v_set1(second_grad));
    ZO_EACH(u, n) root[u] = zo_v_sqrt(zo_v_fma(root[u], root[u], zo_v_mul(g[u], g[u])));
    /* bias-corrected denominator sqrt(v / bc2) + eps, as DeepSpeed and PyTorch do */
    ZO_EACH(u, n) g[u] = zo_v_div(m[u], zo_v_fma(root[u], zo_v_set1(s->c.inv_sqrt_bc2), zo_v_set1(s->c.eps)));
    ZO_EACH(u, n) w[u] = zo_v_fma(zo_v_set1(s->c.decay), w[u], w[u]); /* AdamW's decay; 0: w itself */
    ZO_EACH(u, n) w[u] = zo_v_fma(zo_v_set1(-s->c.step_size), g[u], w[u]);
    ZO_EACH(u, n) zo_v_store(s->master, ZO_DTYPE_F32, begin + k + u * ZO_LANES, lanes, w[u]);
    if (out_kind != ZO_KIND_NONE)
        ZO_EACH(u, n) zo_store_weights_out(s->weights_out, s->stream_weights_out, out_kind, begin + k + u * ZO_LANES, lanes, w[u]);
    ZO_EACH(u, n) zo_v_store(new_m, ZO_DTYPE_F32, k + u * ZO_LANES, lanes, m[u]);
    ZO_EACH(u, n) zo_v_store(new_root, ZO_DTYPE_F32, k + u * ZO_LANES, lanes, root[u]);
    /* lanes past `lanes` hold zeros (loads of a tail are zero-filled): no effect */
    ZO_EACH(u, n) *m_max = zo_v_max(zo_v_abs(m[u]), *m_max);
    ZO_EACH(u, n) *root_max = zo_v_max(root[u], *root_max);
}

/* The first half of a block's step: every vector updated, the new moments in the
 * buffers; returns their maxima through m_max and root_max. */
ZO_ALWAYS_INLINE void zo_q8_update_block(const zo_q8_block_step *s, float *new_m, float *new_root, size_t begin,
                                         size_t count, int grad_kind, int out_kind, bool l2, zo_vec *m_max,
                                         zo_vec *root_max)
{
    size_t k = 0;
    for (; k + ZO_Q8_GROUP * ZO_LANES <= count; k += ZO_Q8_GROUP * ZO_LANES)
        zo_q8_update_group(s, new_m, new_root, begin, k, ZO_LANES, ZO_Q8_GROUP, grad_kind, out_kind, l2, m_max,
                           root_max);
    for (; k < count; k += ZO_LANES) /* the last vectors of a short block */
        zo_q8_update_group(s, new_m, new_root, begin, k, count - k < ZO_LANES ? count - k : ZO_LANES, 1, grad_kind,
                           out_kind, l2, m_max, root_max);
}

/* What encoding a block needs once its update is done: the factors from its new maxima
 * and the dither's Weyl terms of its first vector. */
typedef struct zo_q8_encoding {
    zo_vec m_factor, root_factor;
    zo_ivec weyl;
} zo_q8_encoding;

/* Before a block's update: its decoding constants, from its scales (the betas folded
 * in), and the prefetch of the block ZO_Q8_PREFETCH_AHEAD on. */
ZO_ALWAYS_INLINE void zo_q8_block_start(const zo_adam_kernel_args *args, zo_q8_block_step *step, size_t begin,
                                       int grad_kind)
{
    const zo_adam_coeffs *c = &step->c;
    size_t block = begin / ZO_Q8_BLOCK_ELEMS;
    step->first_keep = (float)((double)c->beta1 * zo_q8_unit(args->exp_avg_scale[block], ZO_Q8_FIRST_TOP));
    step->second_keep = (float)(c->sqrt_beta2 * zo_q8_unit(args->exp_avg_sq_scale[block], ZO_Q8_SECOND_TOP));
    zo_q8_prefetch(step->grad, grad_kind, step->master, step->exp_avg, step->exp_avg_sq, begin, ZO_Q8_BLOCK_ELEMS,
                   step->end);
}

/* After a block's update (zo_q8_update_block or its groups): its new maxima become its
 * scales; returns what encoding its buffers needs. */
ZO_ALWAYS_INLINE zo_q8_encoding zo_q8_block_finish(const zo_adam_kernel_args *args, const zo_q8_block_step *step,
                                                   size_t begin, zo_vec m_max, zo_vec root_max)
{
    size_t block = begin / ZO_Q8_BLOCK_ELEMS;
    float m_block_max = zo_v_max_across(m_max), root_block_max = zo_v_max_across(root_max);
    args->exp_avg_scale[block] = m_block_max;
    args->exp_avg_sq_scale[block] = root_block_max;
    uint64_t block_index = args->first_index + begin; /* in the whole state */
    return (zo_q8_encoding){
        .m_factor = zo_v_set1(zo_q8_code_factor(m_block_max, ZO_Q8_FIRST_TOP)),
        .root_factor = zo_v_set1(zo_q8_code_factor(root_block_max, ZO_Q8_SECOND_TOP)),
        .weyl = zo_q8_weyl_start(zo_q8_dither_offset(block_index, step->c.dither_seed)),
    };
}

/* The codes of one vector of a block's buffers at element k (`lanes` of them), the
 * encoding's Weyl terms stepped on. */
ZO_ALWAYS_INLINE void zo_q8_encode_vector(zo_q8_encoding *e, const float *new_m, const float *new_root, size_t k,
                                          size_t lanes, zo_ivec *m_code, zo_ivec *root_code)
{
    *m_code = zo_q8_encode_first(zo_v_load(new_m, ZO_DTYPE_F32, k, lanes), e->m_factor, zo_q8_first_offset(e->weyl));
    *root_code = zo_q8_encode_second(zo_v_load(new_root, ZO_DTYPE_F32, k, lanes), e->root_factor,
                                     zo_q8_second_offset(e->weyl));
    e->weyl = zo_i_add(e->weyl, zo_i_set1(ZO_LANES * ZO_Q8_WEYL_STEP));
}

/* Encodes `n` whole vectors of a block from element k of its buffers, its codes at
 * begin + k; four at a time where n is 4 (their codes narrow to bytes together,
 * zo_i_store_codes4). */
ZO_ALWAYS_INLINE void zo_q8_encode_vectors(zo_q8_encoding *e, const float *new_m, const float *new_root,
                                           int8_t *exp_avg, uint8_t *exp_avg_sq, size_t begin, size_t k, int n)
{
    zo_ivec m_codes[4], root_codes[4];
    for (int u = 0; u < n; u++)
        zo_q8_encode_vector(e, new_m, new_root, k + u * ZO_LANES, ZO_LANES, &m_codes[u], &root_codes[u]);
    if (n == 4) {
        zo_i_store_codes4(exp_avg, ZO_DTYPE_I8, begin + k, m_codes);
        zo_i_store_codes4(exp_avg_sq, ZO_DTYPE_U8, begin + k, root_codes);
    } else {
        for (int u = 0; u < n; u++) {
            zo_i_store_codes(exp_avg, ZO_DTYPE_I8, begin + k + u * ZO_LANES, ZO_LANES, m_codes[u]);
            zo_i_store_codes(exp_avg_sq, ZO_DTYPE_U8, begin + k + u * ZO_LANES, ZO_LANES, root_codes[u]);
        }
    }
}

/* One block of the step with 8-bit moments, [begin, begin + count), count <= one
 * block: decode, Adam in fp32, weights out; the new m and sqrt(v) wait in two small
 * buffers (1 KiB each, in L1) until the block's new maxima are known, then are
 * encoded with a dither drawn for this block. The arrays are read and written once:
 * the same single pass as the other formats. `step` holds the call's constants; the
 * block's own go in here. */
ZO_ALWAYS_INLINE void zo_adam_q8_block(const zo_adam_kernel_args *args, zo_q8_block_step *step, size_t begin,
                                       size_t count, int grad_kind, int out_kind, bool l2)
{
    float new_m[ZO_Q8_BLOCK_ELEMS] __attribute__((aligned(64)));
    float new_root[ZO_Q8_BLOCK_ELEMS] __attribute__((aligned(64)));
    zo_q8_block_start(args, step, begin, grad_kind);
    zo_vec m_max = zo_v_set1(0.0f), root_max = zo_v_set1(0.0f);
    zo_q8_update_block(step, new_m, new_root, begin, count, grad_kind, out_kind, l2, &m_max, &root_max);
    zo_q8_encoding e = zo_q8_block_finish(args, step, begin, m_max, root_max);
    int8_t *exp_avg = args->exp_avg;
    uint8_t *exp_avg_sq = args->exp_avg_sq;
    size_t k = 0;
    for (; k + 4 * ZO_LANES <= count; k += 4 * ZO_LANES)
        zo_q8_encode_vectors(&e, new_m, new_root, exp_avg, exp_avg_sq, begin, k, 4);
    for (; k < count; k += ZO_LANES) { /* a short block's last vectors */
        size_t lanes = count - k < ZO_LANES ? count - k : ZO_LANES;
        zo_ivec m_code, root_code;
        zo_q8_encode_vector(&e, new_m, new_root, k, lanes, &m_code, &root_code);
        zo_i_store_codes(exp_avg, ZO_DTYPE_I8, begin + k, lanes, m_code);
        zo_i_store_codes(exp_avg_sq, ZO_DTYPE_U8, begin + k, lanes, root_code);
    }
}

/* Whole blocks [begin, end) with each block's update interleaved with the previous
 * block's encoding, ZO_Q8_GROUP vectors of each a turn: the update waits on its square
 * roots and divisions, the encoding on integer and shuffle units, and side by side the
 * core runs both at once. The same operations on the same values as block by block,
 * so the same bits. Returns where the whole blocks end (begin when there is none).
 * For paths with 32 vector registers (ZO_Q8_INTERLEAVE_BLOCKS, docs/cpu_adam.md): with
 * AVX2's 16 the two halves spill, and it ran 13% slower than block by block. */
_Static_assert(ZO_Q8_BLOCK_ELEMS % (4 * ZO_LANES) == 0 && ZO_Q8_BLOCK_ELEMS % (ZO_Q8_GROUP * ZO_LANES) == 0,
               "a block is whole groups of vectors and whole fours of them");
ZO_ALWAYS_INLINE size_t zo_adam_q8_blocks_interleaved(const zo_adam_kernel_args *args, zo_q8_block_step *step,
                                                      size_t begin, size_t end, int grad_kind, int out_kind,
                                                      bool l2)
{
    float buffers[2][2][ZO_Q8_BLOCK_ELEMS] __attribute__((aligned(64)));
    if (end - begin < ZO_Q8_BLOCK_ELEMS)
        return begin;
    int8_t *exp_avg = args->exp_avg;
    uint8_t *exp_avg_sq = args->exp_avg_sq;
    /* the first block's update alone */
    zo_vec m_max = zo_v_set1(0.0f), root_max = zo_v_set1(0.0f);
    zo_q8_block_start(args, step, begin, grad_kind);
    zo_q8_update_block(step, buffers[0][0], buffers[0][1], begin, ZO_Q8_BLOCK_ELEMS, grad_kind, out_kind, l2,
                       &m_max, &root_max);
    zo_q8_encoding e = zo_q8_block_finish(args, step, begin, m_max, root_max);
    size_t previous = begin, i = begin + ZO_Q8_BLOCK_ELEMS;
    int current = 1;
    for (; i + ZO_Q8_BLOCK_ELEMS <= end; i += ZO_Q8_BLOCK_ELEMS, current ^= 1) {
        float *new_m = buffers[current][0], *new_root = buffers[current][1];
        const float *old_m = buffers[current ^ 1][0], *old_root = buffers[current ^ 1][1];
        m_max = zo_v_set1(0.0f), root_max = zo_v_set1(0.0f);
        zo_q8_block_start(args, step, i, grad_kind);
        for (size_t k = 0; k < ZO_Q8_BLOCK_ELEMS; k += ZO_Q8_GROUP * ZO_LANES) {
            zo_q8_update_group(step, new_m, new_root, i, k, ZO_LANES, ZO_Q8_GROUP, grad_kind, out_kind, l2, &m_max,
                               &root_max);
            zo_q8_encode_vectors(&e, old_m, old_root, exp_avg, exp_avg_sq, previous, k, ZO_Q8_GROUP);
        }
        e = zo_q8_block_finish(args, step, i, m_max, root_max);
        previous = i;
    }
    const float *old_m = buffers[current ^ 1][0], *old_root = buffers[current ^ 1][1];
    for (size_t k = 0; k < ZO_Q8_BLOCK_ELEMS; k += 4 * ZO_LANES)
        zo_q8_encode_vectors(&e, old_m, old_root, exp_avg, exp_avg_sq, previous, k, 4);
    return i;
}

/* The 8-bit step over whole blocks [begin, end) (begin a block boundary: adam.c's
 * chunks are whole blocks, so a block is never split between threads), the call's
 * constants set up once. */
ZO_ALWAYS_INLINE void zo_adam_q8_range(const zo_adam_kernel_args *args, size_t begin, size_t end, int grad_kind,
                                       int out_kind, bool l2)
{
    zo_q8_block_step step = {
        .grad = args->grad,
        .master = args->master,
        .weights_out = args->weights_out,
        .stream_weights_out = args->stream_weights_out,
        .exp_avg = args->exp_avg,
        .exp_avg_sq = args->exp_avg_sq,
        .end = end,
        .c = args->coeffs,
    };
    size_t i = begin; /* whole blocks with a constant count: no tail tests inside */
#ifdef ZO_Q8_INTERLEAVE_BLOCKS
    i = zo_adam_q8_blocks_interleaved(args, &step, begin, end, grad_kind, out_kind, l2);
#endif
    for (; i + ZO_Q8_BLOCK_ELEMS <= end; i += ZO_Q8_BLOCK_ELEMS)
        zo_adam_q8_block(args, &step, i, ZO_Q8_BLOCK_ELEMS, grad_kind, out_kind, l2);
    if (i < end)
        zo_adam_q8_block(args, &step, i, end - i, grad_kind, out_kind, l2);
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
        zo_store_weights_out(args->weights_out, args->stream_weights_out, out_kind, i, count, weight);
}

/* One vector of the 8-bit traffic kernel at i: master and weights out as the step
 * writes them, the codes plus one (clamped by their stores) returned. */
ZO_ALWAYS_INLINE void zo_traffic_q8_vector(const zo_adam_kernel_args *args, size_t i, size_t lanes, int grad_kind,
                                           int out_kind, zo_vec m_scale, zo_ivec *m, zo_ivec *v)
{
    zo_ivec one = zo_i_set1(1);
    zo_vec g = zo_v_load(args->grad, grad_kind, i, lanes);
    zo_vec weight = zo_v_add(zo_v_add(zo_v_load(args->master, ZO_DTYPE_F32, i, lanes), g), m_scale);
    *m = zo_i_add(zo_i_load_codes(args->exp_avg, ZO_DTYPE_I8, i, lanes), one);
    *v = zo_i_add(zo_i_load_codes(args->exp_avg_sq, ZO_DTYPE_U8, i, lanes), one);
    zo_v_store(args->master, ZO_DTYPE_F32, i, lanes, weight);
    if (out_kind != ZO_KIND_NONE)
        zo_store_weights_out(args->weights_out, args->stream_weights_out, out_kind, i, lanes, weight);
}

/* The same for 8-bit moments: each block's two scales and its codes read and written
 * once, the codes stored four vectors at a time and the lines prefetched as the step
 * does it (a limit the step could beat by storing or prefetching more cleverly would
 * not be one). `end` is the thread's range's. */
ZO_ALWAYS_INLINE void zo_traffic_q8_block(const zo_adam_kernel_args *args, size_t begin, size_t count,
                                          size_t end, int grad_kind, int out_kind)
{
    size_t block = begin / ZO_Q8_BLOCK_ELEMS;
    zo_vec m_scale = zo_v_set1(args->exp_avg_scale[block]);
    size_t k = 0;
    zo_q8_prefetch(args->grad, grad_kind, args->master, args->exp_avg, args->exp_avg_sq, begin, ZO_Q8_BLOCK_ELEMS, end);
    for (; k + 4 * ZO_LANES <= count; k += 4 * ZO_LANES) {
        zo_ivec m[4], v[4];
        for (int u = 0; u < 4; u++)
            zo_traffic_q8_vector(args, begin + k + u * ZO_LANES, ZO_LANES, grad_kind, out_kind, m_scale, &m[u],
                                 &v[u]);
        zo_i_store_codes4(args->exp_avg, ZO_DTYPE_I8, begin + k, m);
        zo_i_store_codes4(args->exp_avg_sq, ZO_DTYPE_U8, begin + k, v);
    }
    for (; k < count; k += ZO_LANES) { /* a short block's last vectors */
        size_t lanes = count - k < ZO_LANES ? count - k : ZO_LANES, i = begin + k;
        zo_ivec m, v;
        zo_traffic_q8_vector(args, i, lanes, grad_kind, out_kind, m_scale, &m, &v);
        zo_i_store_codes(args->exp_avg, ZO_DTYPE_I8, i, lanes, m);
        zo_i_store_codes(args->exp_avg_sq, ZO_DTYPE_U8, i, lanes, v);
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
/* 8-bit moments go block by block (see zo_adam_q8_range), the traffic kernel too. */
#define ZO_DEFINE_TRAFFIC_Q8(G, O)                                                       \
    static void ZO_KERNEL_PREFIX(zo_traffic_block_##G##_Q8_##O)(const zo_adam_kernel_args *args, \
                                                                size_t begin, size_t end) \
    {                                                                                    \
        size_t i = begin; /* whole blocks with a constant count: no tail tests inside */ \
        for (; i + ZO_Q8_BLOCK_ELEMS <= end; i += ZO_Q8_BLOCK_ELEMS)                     \
            zo_traffic_q8_block(args, i, ZO_Q8_BLOCK_ELEMS, end, ZO_KIND_##G, ZO_KIND_##O); \
        if (i < end)                                                                     \
            zo_traffic_q8_block(args, i, end - i, end, ZO_KIND_##G, ZO_KIND_##O);        \
    }
/* Classic Adam's L2 term gets a copy of the loop of its own: neither tests it. */
#define ZO_DEFINE_UPDATE_Q8(G, O)                                                        \
    static void ZO_KERNEL_PREFIX(zo_adam_block_##G##_Q8_##O)(const zo_adam_kernel_args *args, \
                                                             size_t begin, size_t end)   \
    {                                                                                    \
        if (args->coeffs.l2 != 0.0f)                                                     \
            zo_adam_q8_range(args, begin, end, ZO_KIND_##G, ZO_KIND_##O, true);          \
        else                                                                             \
            zo_adam_q8_range(args, begin, end, ZO_KIND_##G, ZO_KIND_##O, false);         \
    }
#define ZO_DEFINE_UPDATE_F32(G, O) ZO_DEFINE_RANGE(zo_adam_block, G, F32, O)
#define ZO_DEFINE_UPDATE_BF16(G, O) ZO_DEFINE_RANGE(zo_adam_block, G, BF16, O)
#define ZO_DEFINE_TRAFFIC_F32(G, O) ZO_DEFINE_RANGE(zo_traffic_block, G, F32, O)
#define ZO_DEFINE_TRAFFIC_BF16(G, O) ZO_DEFINE_RANGE(zo_traffic_block, G, BF16, O)
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
 * rounded to nearest (ties up), block by block from `begin` (a block boundary), and
 * its decoding. `second`: the second moment (unsigned codes of sqrt(v)), else the
 * first (signed codes of m); a constant where it is inlined. */
ZO_ALWAYS_INLINE void zo_q8_quantize(void *codes, float *scales, float *values, size_t begin, size_t end,
                                     bool second)
{
    zo_ivec nearest = ZO_Q8_NEAREST_OFFSET(second ? ZO_Q8_SECOND_SHIFT : ZO_Q8_FIRST_SHIFT);
    for (size_t b = begin; b < end; b += ZO_Q8_BLOCK_ELEMS) {
        size_t count = end - b < ZO_Q8_BLOCK_ELEMS ? end - b : ZO_Q8_BLOCK_ELEMS;
        zo_vec most = zo_v_set1(0.0f);
        for (size_t k = 0; k < count; k += ZO_LANES) {
            zo_vec x = zo_v_load(values, ZO_DTYPE_F32, b + k, count - k < ZO_LANES ? count - k : ZO_LANES);
            most = zo_v_max(second ? zo_v_sqrt(x) : zo_v_abs(x), most);
        }
        float block_max = zo_v_max_across(most);
        scales[b / ZO_Q8_BLOCK_ELEMS] = block_max;
        zo_vec factor = zo_v_set1(zo_q8_code_factor(block_max, second ? ZO_Q8_SECOND_TOP : ZO_Q8_FIRST_TOP));
        for (size_t k = 0; k < count; k += ZO_LANES) {
            size_t lanes = count - k < ZO_LANES ? count - k : ZO_LANES;
            zo_vec x = zo_v_load(values, ZO_DTYPE_F32, b + k, lanes);
            zo_i_store_codes(codes, second ? ZO_DTYPE_U8 : ZO_DTYPE_I8, b + k, lanes,
                             second ? zo_q8_encode_second(zo_v_sqrt(x), factor, nearest)
                                    : zo_q8_encode_first(x, factor, nearest));
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

/* a vector never straddles blocks: blocks are whole vectors in every path */
static void ZO_KERNEL_PREFIX(dequantize_first)(void *codes, float *scales, float *values, size_t begin,
                                               size_t end)
{
    for (size_t i = begin; i < end; i += ZO_LANES) {
        size_t lanes = end - i < ZO_LANES ? end - i : ZO_LANES;
        float unit = zo_q8_unit(scales[i / ZO_Q8_BLOCK_ELEMS], ZO_Q8_FIRST_TOP);
        zo_v_store(values, ZO_DTYPE_F32, i, lanes,
                   zo_q8_decode_first(zo_i_load_codes(codes, ZO_DTYPE_I8, i, lanes), unit));
    }
}

static void ZO_KERNEL_PREFIX(dequantize_second)(void *codes, float *scales, float *values, size_t begin,
                                                size_t end)
{
    for (size_t i = begin; i < end; i += ZO_LANES) {
        size_t lanes = end - i < ZO_LANES ? end - i : ZO_LANES;
        float unit = zo_q8_unit(scales[i / ZO_Q8_BLOCK_ELEMS], ZO_Q8_SECOND_TOP);
        zo_vec root = zo_q8_decode_second_root(zo_i_load_codes(codes, ZO_DTYPE_U8, i, lanes), unit);
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
