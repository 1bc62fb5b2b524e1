/* The kernel table each instruction-set path fills in, and the arguments the
 * OpenMP drivers in adam.c hand to a kernel for one contiguous range. Internal. */
#ifndef ZO_KERNELS_H
#define ZO_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h> /* _mm_sfence */
#endif

#include "zo/adam.h"
#include "zo/dtype.h"

/* Per-step constants, computed once in double and rounded to float, so every path
 * and every thread uses the very same values. */
typedef struct zo_adam_coeffs {
    float grad_scale;
    float beta1, one_minus_beta1;
    float beta2, one_minus_beta2;
    float eps;
    float step_size;    /* lr / (1 - beta1^step), or lr without bias correction    */
    float inv_sqrt_bc2; /* 1 / sqrt(1 - beta2^step), or 1 without bias correction  */
    float l2;           /* Adam: weight_decay, added as l2 * w to the gradient; else 0 */
    float decay;        /* AdamW: -lr * weight_decay, applied as w += decay * w; else 0 */
    /* 8-bit moments (kernel_body.h's zo_q8_update_group) */
    double sqrt_beta2;
    float sqrt_one_minus_beta2;
    float first_grad_factor;  /* (1 - beta1) * grad_scale                              */
    float second_grad_factor; /* sqrt(1 - beta2) * grad_scale                          */
    uint32_t dither_seed; /* 8-bit moments: this step's dither (zo_q8_dither_seed)     */
} zo_adam_coeffs;

typedef struct zo_adam_kernel_args {
    zo_adam_coeffs coeffs;
    float *master;
    void *exp_avg;
    void *exp_avg_sq;
    const void *grad;
    void *weights_out;
    float *exp_avg_scale, *exp_avg_sq_scale; /* 8-bit moments: a scale per block */
    uint64_t first_index;                    /* 8-bit moments: element 0's, for the dither */
    /* weights_out is written past the caches (zo_v_stream): adam.c's choice for
     * outputs too big to still be in cache when the device or an allgather reads
     * them (a normal store would also read each line in before writing it), made only
     * for an output aligned to 64 bytes: ranges start at multiples of 64 elements, so
     * every whole vector a kernel stores there is aligned to its size, as the
     * non-temporal stores require */
    bool stream_weights_out;
} zo_adam_kernel_args;

/* Orders a thread's stores past the caches before what it does next (the team's join):
 * such stores are weakly ordered on x86. The other paths have none. */
static inline void zo_stream_fence(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_sfence();
#endif
}

/* Updates elements [begin, end) of the arrays in args. */
typedef void (*zo_adam_range_fn)(const zo_adam_kernel_args *args, size_t begin, size_t end);

/* Sum of squares of data[begin, end) in the canonical order (ZO_SUMSQ_LANES lanes
 * indexed by position from begin, combined by zo_sumsq_combine_lanes). */
typedef double (*zo_sumsq_range_fn)(const void *data, size_t begin, size_t end);

/* dst[i] = convert(src[i] * scale) for i in [begin, end). */
typedef void (*zo_cast_range_fn)(void *dst, const void *src, float scale, size_t begin,
                                 size_t end);

/* 8-bit moments of the blocks in [begin, end) (begin a multiple of ZO_Q8_BLOCK_ELEMS)
 * from fp32 values, or back: codes[i], scales[i / ZO_Q8_BLOCK_ELEMS], values[i]. */
typedef void (*zo_q8_range_fn)(void *codes, float *scales, float *values, size_t begin, size_t end);

/* The dither of the moments' rounding (kernel_body.h), drawn per block: a 32-bit hash
 * (murmur3's finalizer) of the block's first element's index in the whole state
 * (zo_adam_buffers.first_index + its index in the buffers, modulo 2^32) and of the step
 * gives the block an offset u, and element j of the block the term u + j * 2^32 /
 * golden ratio (modulo 2^32): a rotated Weyl sequence, evenly spread in the block and,
 * over the steps, uniform for each element (so the rounding stays unbiased); m takes
 * a term's top bits, sqrt(v) its low bits. A hash per block and an integer add per
 * vector: the same bits in every path and for any thread count. */
static inline uint32_t zo_q8_dither_seed(uint64_t step)
{
    return (uint32_t)((step * UINT64_C(0x9E3779B97F4A7C15)) >> 32);
}

static inline uint32_t zo_q8_dither_hash(uint32_t index, uint32_t seed)
{
    uint32_t h = index * 0x9E3779B1u ^ seed;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

/* Index of each variant in the tables below. */
enum { ZO_GRAD_KINDS = 3 };                /* by zo_dtype: f32, f16, bf16   */
enum { ZO_MOMENT_F32 = 0, ZO_MOMENT_BF16 = 1, ZO_MOMENT_Q8 = 2, ZO_MOMENT_KINDS = 3 };
enum { ZO_OUT_NONE = 0, ZO_OUT_KINDS = 4 }; /* none, then 1 + zo_dtype      */

typedef struct zo_adam_kernels {
    /* The Adam step, specialized for each (grad, moments, weights out) combination. */
    zo_adam_range_fn update[ZO_GRAD_KINDS][ZO_MOMENT_KINDS][ZO_OUT_KINDS];
    /* The same loads and stores as `update` with trivial arithmetic: the memory
     * traffic alone, the yardstick the benchmark holds the step against. */
    zo_adam_range_fn traffic_only[ZO_GRAD_KINDS][ZO_MOMENT_KINDS][ZO_OUT_KINDS];
    zo_sumsq_range_fn sum_squares[ZO_GRAD_KINDS];
    zo_cast_range_fn cast[ZO_GRAD_KINDS][ZO_GRAD_KINDS]; /* [src dtype][dst dtype] */
    zo_cast_range_fn accumulate[ZO_GRAD_KINDS];          /* fp32 dst += src, by src dtype */
    zo_q8_range_fn quantize[2], dequantize[2];           /* by zo_q8_moment               */
} zo_adam_kernels;

extern const zo_adam_kernels zo_kernels_scalar;
#if defined(ZO_HAVE_X86_KERNELS)
extern const zo_adam_kernels zo_kernels_avx2;
extern const zo_adam_kernels zo_kernels_avx512;
extern const zo_adam_kernels zo_kernels_avx512_bf16;
#endif

/* The sum of squares keeps this many double accumulators, lane j taking the elements
 * at offsets j, j + 16, j + 32, ... from the start of a range: one AVX-512 vector of
 * floats, two of doubles. Every path follows it, so all give the same bits. */
#define ZO_SUMSQ_LANES 16

static inline double zo_sumsq_combine_lanes(double lanes[ZO_SUMSQ_LANES])
{
    for (int width = ZO_SUMSQ_LANES / 2; width >= 1; width /= 2)
        for (int j = 0; j < width; j++)
            lanes[j] += lanes[j + width];
    return lanes[0];
}

/* Every (grad, moments, out) combination, as X(grad_dtype, moments, out) with
 * tokens the kernel files paste into names and constants. */
#define ZO_ADAM_VARIANTS_FOR(X, G, M)                                                    \
    X(G, M, NONE) X(G, M, F32) X(G, M, F16) X(G, M, BF16)
#define ZO_ADAM_VARIANTS_FOR_GRAD(X, G)                                                  \
    ZO_ADAM_VARIANTS_FOR(X, G, F32) ZO_ADAM_VARIANTS_FOR(X, G, BF16) ZO_ADAM_VARIANTS_FOR(X, G, Q8)
#define ZO_ADAM_VARIANTS(X)                                                              \
    ZO_ADAM_VARIANTS_FOR_GRAD(X, F32) ZO_ADAM_VARIANTS_FOR_GRAD(X, F16)                   \
    ZO_ADAM_VARIANTS_FOR_GRAD(X, BF16)

/* A dtype token of the macros above as a value; NONE means "no output". */
#define ZO_KIND_NONE (-1)
#define ZO_KIND_F32 ZO_DTYPE_F32
#define ZO_KIND_F16 ZO_DTYPE_F16
#define ZO_KIND_BF16 ZO_DTYPE_BF16
#define ZO_MOMENT_INDEX_F32 ZO_MOMENT_F32
#define ZO_MOMENT_INDEX_BF16 ZO_MOMENT_BF16
#define ZO_MOMENT_INDEX_Q8 ZO_MOMENT_Q8
#define ZO_KIND_Q8 ZO_DTYPE_Q8
#define ZO_OUT_INDEX(O) (ZO_KIND_##O + 1)

#define ZO_CAST_VARIANTS(X)                                                              \
    X(F32, F32) X(F32, F16) X(F32, BF16) X(F16, F32) X(F16, F16) X(F16, BF16)            \
    X(BF16, F32) X(BF16, F16) X(BF16, BF16)

#endif
