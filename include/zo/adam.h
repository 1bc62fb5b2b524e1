/* cpu_adam: the host optimizer. One pass over fp32 master weights and Adam moments
 * per step, reading fp32/fp16/bf16 gradients scaled on the fly and optionally writing
 * the updated weights as fp16/bf16 for the GPU; plus a one-pass gradient-stats kernel
 * (sum of squares and finite check) and a bulk dtype conversion.
 *
 * All kernels are OpenMP-parallel over static chunks, vectorized with the widest
 * instruction set the CPU offers, and give bit-identical results for any thread
 * count and any instruction set. Guide: docs/cpu_adam.md. */
#ifndef ZO_ADAM_H
#define ZO_ADAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zo/dtype.h"
#include "zo/status.h"

#include "zo/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set paths of the kernels. */
typedef enum zo_cpu_isa {
    ZO_CPU_ISA_AUTO = 0,    /* the best the CPU has, or the ZO_CPU_ISA environment variable */
    ZO_CPU_ISA_SCALAR = 1,  /* portable C, the reference every other path is tested against */
    ZO_CPU_ISA_AVX2 = 2,    /* AVX2 + F16C                                                 */
    ZO_CPU_ISA_AVX512 = 3,  /* AVX-512 F/BW/VL                                             */
    ZO_CPU_ISA_AVX512_BF16 = 4 /* AVX-512 (plus DQ) with native bf16 rounding (AVX512-BF16) */
} zo_cpu_isa;

/* "auto", "scalar", "avx2", "avx512", "avx512bf16"; "invalid" otherwise. These are
 * also the values the ZO_CPU_ISA environment variable accepts. */
ZO_API const char *zo_cpu_isa_name(zo_cpu_isa isa);

/* The best path this CPU (and its operating system) supports. */
ZO_API zo_cpu_isa zo_cpu_best_isa(void);

/* Whether this CPU can run `isa` (ZO_CPU_ISA_AUTO and SCALAR: always; false for a
 * value that is not a zo_cpu_isa). */
ZO_API bool zo_cpu_supports(zo_cpu_isa isa);

/* How a kernel context runs: which instruction set, how many threads, on which CPUs. */
typedef struct zo_adam_settings {
    zo_cpu_isa isa;  /* ZO_CPU_ISA_AUTO: ZO_CPU_ISA from the environment, else the best */
    int num_threads; /* 0: cpu_count when cpus is given, else OpenMP's default
                        (OMP_NUM_THREADS or the core count)                            */
    const int *cpus; /* NULL, or the operating system's CPU numbers to run on: worker i
                        of a team is pinned to cpus[i % cpu_count] (OMP_PROC_BIND or
                        not). The calling thread (i = 0) is never moved: bind it to
                        cpus[0] yourself (the engine does). Copied at create.          */
    int cpu_count;   /* entries of cpus, 0 with cpus NULL; at most 4096                */
} zo_adam_settings;

/* Fills `settings` with the defaults (auto ISA, OpenMP's thread count, no CPU list:
 * each worker pinned to a core of its own after the caller's, see docs/cpu_adam.md). */
ZO_API void zo_adam_default_settings(zo_adam_settings *settings); /* NULL: no-op */

/* A kernel context: the chosen instruction set and thread count. Cheap to create;
 * one may be shared by threads that call it one at a time. */
typedef struct zo_adam zo_adam;

/* Creates a context from `settings` (NULL for the defaults; not kept) in *out (owned
 * by the caller, free with zo_adam_destroy). The out-parameter comes last, as in every
 * zo create and parse call. On failure *out is NULL.
 * Errors: ZO_ERR_INVALID_ARGUMENT (out NULL, num_threads < 0, unknown isa, a CPU list
 * that is NULL with a count, of a bad length or with a negative number, or a
 * ZO_CPU_ISA environment value that names no path), ZO_ERR_NOT_SUPPORTED (the CPU
 * lacks the requested path), ZO_ERR_OUT_OF_MEMORY. */
ZO_API zo_status zo_adam_create(const zo_adam_settings *settings, zo_adam **out);

/* Destroys *ctx and sets it to NULL; NULL or *ctx == NULL is a no-op. */
ZO_API void zo_adam_destroy(zo_adam **ctx);

/* The path the context runs (never ZO_CPU_ISA_AUTO) and its thread count; for a
 * NULL context ZO_CPU_ISA_AUTO and 0. */
ZO_API zo_cpu_isa zo_adam_isa(const zo_adam *ctx);
ZO_API int zo_adam_num_threads(const zo_adam *ctx);

/* Optimizer hyper-parameters, with DeepSpeed's and PyTorch's meaning. */
typedef struct zo_adam_hparams {
    float lr;           /* >= 0                                                      */
    float beta1, beta2; /* in [0, 1)                                                 */
    float eps;          /* > 0, added to sqrt(v_hat)                                 */
    float weight_decay; /* >= 0                                                      */
    bool adamw;         /* true: decoupled decay (AdamW); false: L2 term in the grad */
    bool bias_correction; /* divide the moments by (1 - beta^step)                   */
} zo_adam_hparams;

/* lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, adamw, bias correction on. */
ZO_API void zo_adam_default_hparams(zo_adam_hparams *hparams); /* NULL: no-op */

/* The arrays one step reads and writes. master, exp_avg and exp_avg_sq are updated in
 * place; none of the arrays may overlap another. Pointers need only the alignment of
 * their element type. All may be NULL when n == 0. */
typedef struct zo_adam_buffers {
    size_t n;              /* elements in every array                                   */
    float *master;         /* fp32 master weights                                       */
    void *exp_avg;         /* first moment m, of moments_dtype                          */
    void *exp_avg_sq;      /* second moment v, of moments_dtype                         */
    zo_dtype moments_dtype; /* ZO_DTYPE_F32, ZO_DTYPE_BF16 to halve their memory, or
                              ZO_DTYPE_Q8 to quarter it (8-bit codes, see below)       */
    const void *grad;      /* the gradient, of grad_dtype (any zo_dtype)                */
    zo_dtype grad_dtype;
    float grad_scale;      /* every gradient is multiplied by this first: 1/loss_scale
                              times the clipping coefficient; finite and > 0            */
    void *weights_out;     /* NULL, or where the updated weights are written as
                              weights_out_dtype (the buffer that goes to the GPU)       */
    zo_dtype weights_out_dtype;
    float *exp_avg_scale;    /* ZO_DTYPE_Q8 only: the fp32 scale of each block of       */
    float *exp_avg_sq_scale; /* ZO_Q8_BLOCK_ELEMS codes from element 0, updated in place
                                (zo_q8_block_count(n) each); ignored otherwise          */
    uint64_t first_index;    /* ZO_DTYPE_Q8: element 0's index in the whole state, which
                                the moments' dither is drawn from (the engine
                                passes each bucket's offset in its shard), so that calls
                                split at block boundaries give one call's bits; 0 for
                                buffers that are the whole state                        */
} zo_adam_buffers;

/* 8-bit moments (moments_dtype ZO_DTYPE_Q8), blockwise as bitsandbytes' 8-bit Adam:
 * each block of ZO_Q8_BLOCK_ELEMS elements (counted from element 0 of the buffers)
 * has one fp32 scale per moment and an 8-bit small-float code per element:
 *   first moment m:  int8 code c in [-127, 127], q = |c| = 8 e + f (e < 16, f < 8),
 *                    m = sign(c) (F(q) - 1) unit, F(q) = 2^e (1 + f / 8),
 *                    unit = scale / 61439 (F(127) - 1), scale = max |m| over the block;
 *   second moment v: uint8 code q in [0, 255], q = 16 e + f (f < 16),
 *                    sqrt(v) = (2^e (1 + f / 16) - 1) unit, unit = scale / 63487,
 *                    scale = max sqrt(v) over the block (Adam only uses sqrt(v)).
 * (unit is rounded toward zero, so no code decodes above its block's maximum; scales
 * below 2^-100 count as 2^-100.) F(q) is the float whose exponent and mantissa bits
 * are q's: code 0 is exactly 0, the codes below F = 2 are evenly spaced, and every
 * binade above has 8 (m) or 16 (sqrt(v)) codes, so the relative resolution is the
 * same, 6-12% (m) and 3-6% (sqrt(v)), over 16 binades below the block's maximum;
 * encoding and decoding are a few integer operations on a float's bits. The step rounds
 * stochastically, with a dither drawn from the block's index in the whole state
 * (first_index + i) and the step: a moment that moves less than half a code a step (v
 * does, with beta2 = 0.999) must not freeze. A positive v never gets code 0 (it would
 * leave the momentum divided by eps alone). The quantizer functions below round to
 * nearest, ties up. The step dequantizes, runs the fp32 formula below, and requantizes
 * each block with its new maximum in the same pass, with the same bits in every path
 * and for any thread count. */
enum { ZO_Q8_BLOCK_ELEMS = 256 };

/* The scales of n elements' 8-bit moments: ceil(n / ZO_Q8_BLOCK_ELEMS). */
ZO_API size_t zo_q8_block_count(size_t n);

/* Host bytes of ONE moment (m or v) of n elements in moments_dtype: n * 4, n * 2, or
 * n codes plus zo_q8_block_count(n) fp32 scales; 0 for a dtype moments cannot have. */
ZO_API size_t zo_moments_bytes(zo_dtype moments_dtype, size_t n);

/* Which moment a quantizer call is about (they have different code maps). */
typedef enum zo_q8_moment { ZO_Q8_FIRST_MOMENT = 0, ZO_Q8_SECOND_MOMENT = 1 } zo_q8_moment;

/* values[0, n) (m, or v >= 0) to codes (int8 for the first moment, uint8 for the
 * second) and zo_q8_block_count(n) scales, as the step stores them. Finite input gives
 * finite scales. Errors: ZO_ERR_INVALID_ARGUMENT (a NULL pointer with n > 0, unknown
 * moment). */
ZO_API zo_status zo_adam_quantize_moment(zo_adam *ctx, zo_q8_moment moment, const float *values, size_t n,
                                         void *codes, float *scales);
/* The inverse: codes and scales to fp32 values (v itself for the second moment), as
 * the step reads them. Finite scales give finite values. Errors: as quantize. */
ZO_API zo_status zo_adam_dequantize_moment(zo_adam *ctx, zo_q8_moment moment, const void *codes,
                                           const float *scales, size_t n, float *values);

/* One Adam/AdamW step number `step` (1 for the first step) over b->n elements:
 *   g = grad * grad_scale  (+ weight_decay * w when !adamw)
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   w -= lr * weight_decay * w    (when adamw)
 *   w -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - beta_i^step
 * The bias corrections are computed in double from `step`, so a resumed run gives the
 * same bits as an uninterrupted one. The kernel does not look for non-finite
 * gradients: call zo_adam_grad_stats first (a NaN would otherwise reach the state).
 * Errors: ZO_ERR_INVALID_ARGUMENT naming the bad field; nothing is written then. */
ZO_API zo_status zo_adam_step(zo_adam *ctx, const zo_adam_hparams *hparams, uint64_t step,
                       const zo_adam_buffers *buffers);

/* A measurement aid, not an optimizer: moves exactly the bytes zo_adam_step would
 * for these buffers (same loads, same stores, same chunks and threads) with one add
 * per array instead of Adam's arithmetic, so its time is the memory system's limit
 * for the step's access pattern (zo-bench's "traffic" column). Overwrites every
 * buffer with meaningless values. Errors: as zo_adam_step's for ctx and buffers. */
ZO_API zo_status zo_adam_traffic_only(zo_adam *ctx, const zo_adam_buffers *buffers);

/* What zo_adam_grad_stats measures. */
typedef struct zo_grad_stats {
    double sum_squares; /* sum of grad^2 in double, unscaled; inf/NaN if !all_finite */
    bool all_finite;    /* false if any element is inf or NaN                        */
} zo_grad_stats;

/* One pass over n gradients of `dtype`: sum of squares and finite check. The sum is
 * accumulated in double over fixed blocks combined in a fixed order, so it does not
 * drift with n and has the same bits for any thread count and path.
 * Errors: ZO_ERR_INVALID_ARGUMENT (NULL with n > 0, bad dtype, out NULL). */
ZO_API zo_status zo_adam_grad_stats(zo_adam *ctx, const void *grad, zo_dtype dtype, size_t n,
                             zo_grad_stats *out);

/* dst[i] = (dst_dtype)(src[i] * scale) for n elements, rounding to nearest even;
 * dst may equal src when both dtypes are the same (in-place scaling), and must not
 * overlap it otherwise. Errors: ZO_ERR_INVALID_ARGUMENT. */
ZO_API zo_status zo_adam_cast(zo_adam *ctx, void *dst, zo_dtype dst_dtype, const void *src,
                       zo_dtype src_dtype, size_t n, float scale);

/* acc[i] += grad[i] in fp32 for n elements (gradient accumulation over micro-steps);
 * acc must not overlap grad. Errors: ZO_ERR_INVALID_ARGUMENT. */
ZO_API zo_status zo_adam_accumulate(zo_adam *ctx, float *acc, const void *grad, zo_dtype grad_dtype,
                                    size_t n);

#ifdef __cplusplus
}
#endif

#endif
