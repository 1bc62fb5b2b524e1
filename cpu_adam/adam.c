/* The cpu_adam context and its OpenMP drivers: argument checks at the API boundary,
 * per-step constants in double, and one parallel region per call that hands each
 * thread one static, block-aligned chunk. */
#include "zo/adam.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "adam_internal.h"
#include "kernels.h"
#include "thread_pinning.h"

/* Chunk boundaries are multiples of this many elements: whole AVX-512 vectors, and
 * whole 64-byte cache lines of every array, even the 16-bit ones, so no two threads
 * ever write the same line. */
enum { ZO_BLOCK_ELEMS = 64 };

/* Below this many elements per thread, fewer threads finish sooner: waking a thread
 * costs about what it would save. */
enum { ZO_MIN_ELEMS_PER_THREAD = 16384 };

/* The sum of squares is cut into at most this many slices, independent of the thread
 * count, and the slice sums are added in slice order: the same bits for any count.
 * 240 divides evenly among 1-6, 8, 10, 12, 15 and 16 threads. */
enum { ZO_STATS_MAX_SLICES = 240, ZO_STATS_MIN_SLICE_ELEMS = 8192 };

/* The longest CPU list a context takes: more cores than any one machine has. */
enum { ZO_MAX_CPU_LIST = 4096 };

struct zo_adam {
    zo_cpu_isa isa;
    int num_threads;
    const zo_adam_kernels *kernels;
    zo_team_cpus team_cpus; /* where the workers run; cpus NULL: after the caller's core */
};

void zo_adam_default_settings(zo_adam_settings *settings)
{
    if (!settings)
        return;
    settings->isa = ZO_CPU_ISA_AUTO;
    settings->num_threads = 0;
    settings->cpus = NULL;
    settings->cpu_count = 0;
}

void zo_adam_default_hparams(zo_adam_hparams *hparams)
{
    if (!hparams)
        return;
    *hparams = (zo_adam_hparams){.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                 .weight_decay = 0.0f, .adamw = true, .bias_correction = true};
}

static const zo_adam_kernels *zo_kernels_for(zo_cpu_isa isa)
{
    switch (isa) {
    case ZO_CPU_ISA_SCALAR: return &zo_kernels_scalar;
#if defined(ZO_HAVE_X86_KERNELS)
    case ZO_CPU_ISA_AVX2: return &zo_kernels_avx2;
    case ZO_CPU_ISA_AVX512: return &zo_kernels_avx512;
    case ZO_CPU_ISA_AVX512_BF16: return &zo_kernels_avx512_bf16;
#endif
    default: return NULL;
    }
}

/* The path named by the ZO_CPU_ISA environment variable, AUTO if unset or empty. */
static zo_status zo_isa_from_environment(zo_cpu_isa *isa)
{
    const char *value = getenv("ZO_CPU_ISA");
    *isa = ZO_CPU_ISA_AUTO;
    if (!value || !*value)
        return ZO_OK;
    for (zo_cpu_isa k = ZO_CPU_ISA_AUTO; k <= ZO_CPU_ISA_AVX512_BF16; k++)
        if (strcmp(value, zo_cpu_isa_name(k)) == 0) {
            *isa = k;
            return ZO_OK;
        }
    return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                   "ZO_CPU_ISA=\"%s\" names no kernel path (use auto, scalar, avx2, avx512 "
                   "or avx512bf16)",
                   value);
}

zo_status zo_adam_create(const zo_adam_settings *settings, zo_adam **out)
{
    zo_adam_settings chosen;
    if (!out)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_create: out is NULL");
    *out = NULL;
    zo_adam_default_settings(&chosen);
    if (settings)
        chosen = *settings;
    if (chosen.num_threads < 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_create: num_threads is %d, must be >= 0",
                       chosen.num_threads);
    if ((chosen.cpu_count > 0 && !chosen.cpus) || chosen.cpu_count < 0 ||
        chosen.cpu_count > ZO_MAX_CPU_LIST || (chosen.cpus && chosen.cpu_count == 0))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_adam_create: cpus is %s with cpu_count %d (a list needs 1..%d entries)",
                       chosen.cpus ? "a list" : "NULL", chosen.cpu_count, ZO_MAX_CPU_LIST);
    for (int i = 0; i < chosen.cpu_count; i++)
        if (chosen.cpus[i] < 0)
            return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_create: cpus[%d] is %d, must be >= 0",
                           i, chosen.cpus[i]);
    if (chosen.isa < ZO_CPU_ISA_AUTO || chosen.isa > ZO_CPU_ISA_AVX512_BF16)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_create: isa %d is not a zo_cpu_isa",
                       (int)chosen.isa);
    if (chosen.isa == ZO_CPU_ISA_AUTO) {
        zo_status status = zo_isa_from_environment(&chosen.isa);
        if (status != ZO_OK)
            return status;
    }
    if (chosen.isa == ZO_CPU_ISA_AUTO)
        chosen.isa = zo_cpu_best_isa();
    if (!zo_cpu_supports(chosen.isa) || !zo_kernels_for(chosen.isa))
        return zo_fail(ZO_ERR_NOT_SUPPORTED,
                       "zo_adam_create: kernel path %s is not available on this CPU or build "
                       "(best here: %s)",
                       zo_cpu_isa_name(chosen.isa), zo_cpu_isa_name(zo_cpu_best_isa()));

    zo_adam *ctx = calloc(1, sizeof *ctx);
    int *cpus = chosen.cpu_count ? malloc((size_t)chosen.cpu_count * sizeof *cpus) : NULL;
    if (!ctx || (chosen.cpu_count && !cpus)) {
        free(ctx), free(cpus);
        return zo_fail(ZO_ERR_OUT_OF_MEMORY, "zo_adam_create: out of memory");
    }
    if (cpus)
        memcpy(cpus, chosen.cpus, (size_t)chosen.cpu_count * sizeof *cpus);
    ctx->team_cpus = (zo_team_cpus){.cpus = cpus, .count = chosen.cpu_count};
    ctx->isa = chosen.isa;
    ctx->num_threads = chosen.num_threads > 0 ? chosen.num_threads
                       : chosen.cpu_count  ? chosen.cpu_count
                                           : omp_get_max_threads();
    ctx->kernels = zo_kernels_for(chosen.isa);
    *out = ctx;
    return ZO_OK;
}

void zo_adam_destroy(zo_adam **ctx)
{
    if (!ctx || !*ctx)
        return;
    free((void *)(*ctx)->team_cpus.cpus);
    free(*ctx);
    *ctx = NULL;
}

zo_cpu_isa zo_adam_isa(const zo_adam *ctx) { return ctx ? ctx->isa : ZO_CPU_ISA_AUTO; }
int zo_adam_num_threads(const zo_adam *ctx) { return ctx ? ctx->num_threads : 0; }

/* The dtypes kernels compute in (gradients, weights, casts): not the 8-bit codes. */
static bool zo_dtype_is_valid(zo_dtype dtype)
{
    return dtype == ZO_DTYPE_F32 || dtype == ZO_DTYPE_F16 || dtype == ZO_DTYPE_BF16;
}

size_t zo_q8_block_count(size_t n) { return n / ZO_Q8_BLOCK_ELEMS + (n % ZO_Q8_BLOCK_ELEMS != 0); }

size_t zo_moments_bytes(zo_dtype moments_dtype, size_t n)
{
    switch (moments_dtype) {
    case ZO_DTYPE_F32: return n * sizeof(float);
    case ZO_DTYPE_BF16: return n * sizeof(uint16_t);
    case ZO_DTYPE_Q8: return n + zo_q8_block_count(n) * sizeof(float);
    default: return 0;
    }
}

static size_t zo_div_ceil(size_t a, size_t b) { return (a + b - 1) / b; }

/* Threads worth waking for n elements, at most the context's count. */
static int zo_threads_for(const zo_adam *ctx, size_t n)
{
    size_t useful = zo_div_ceil(n, ZO_MIN_ELEMS_PER_THREAD);
    return useful < (size_t)ctx->num_threads ? (int)(useful ? useful : 1) : ctx->num_threads;
}

/* This thread's share of [0, n) inside a parallel region: the t-th chunk of
 * ceil(n / threads) elements rounded up to whole multiples of `granule` (a multiple of
 * ZO_BLOCK_ELEMS). False if it has none. */
static bool zo_this_thread_chunk(size_t n, size_t granule, size_t *begin, size_t *end)
{
    size_t team = (size_t)omp_get_num_threads();
    size_t chunk = zo_div_ceil(zo_div_ceil(n, team), granule) * granule;
    *begin = (size_t)omp_get_thread_num() * chunk;
    *end = *begin + chunk < n ? *begin + chunk : n;
    return *begin < *end;
}

/* Threads split 8-bit moments at block boundaries only: a block's scale is the
 * maximum over all its elements, so one thread must see them all. */
static size_t zo_granule_for(zo_dtype moments_dtype)
{
    return moments_dtype == ZO_DTYPE_Q8 ? ZO_Q8_BLOCK_ELEMS : ZO_BLOCK_ELEMS;
}

/* Runs `call` (a kernel call over [begin, end)) on [0, n), n > 0: on the calling thread
 * alone when one thread is worth waking (no parallel region, no CPU lookup: small
 * steps are latency-bound), else one parallel region, a chunk of whole granules per
 * thread, workers pinned as the update's team. The one scaffold of every chunked
 * kernel below (a macro: the kernels have different signatures). */
#define ZO_RUN_IN_CHUNKS(ctx, n, granule, call)                                         \
    do {                                                                              \
        int threads_ = zo_threads_for((ctx), (n));                                    \
        if (threads_ == 1) {                                                          \
            size_t begin = 0, end = (n);                                              \
            call;                                                                     \
            break;                                                                    \
        }                                                                             \
        int master_cpu_ = zo_current_cpu();                                           \
        _Pragma("omp parallel num_threads(threads_)")                                  \
        {                                                                             \
            zo_pin_team_worker(master_cpu_, &(ctx)->team_cpus);                       \
            size_t begin, end;                                                        \
            if (zo_this_thread_chunk((n), (granule), &begin, &end))                   \
                call;                                                                 \
        }                                                                             \
    } while (0)

/* One thread's range of a kernel; its stores past the caches are fenced before the
 * team joins. */
static void zo_run_range(zo_adam_range_fn kernel, const zo_adam_kernel_args *args, size_t begin, size_t end)
{
    kernel(args, begin, end);
    if (args->stream_weights_out)
        zo_stream_fence();
}

/* Runs kernel over [0, n), a chunk of whole granules per thread. */
static void zo_run_chunked(const zo_adam *ctx, zo_adam_range_fn kernel,
                           const zo_adam_kernel_args *args, size_t n, size_t granule)
{
    if (n > 0)
        ZO_RUN_IN_CHUNKS(ctx, n, granule, zo_run_range(kernel, args, begin, end));
}

zo_status zo_adam_check_hparams(const zo_adam_hparams *hp, uint64_t step)
{
    if (!hp)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: hparams is NULL");
    if (step == 0)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: step is 0; steps count from 1");
    if (!(hp->lr >= 0.0f) || !isfinite(hp->lr))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: lr is %g, must be finite and >= 0",
                       (double)hp->lr);
    if (!(hp->beta1 >= 0.0f && hp->beta1 < 1.0f))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: beta1 is %g, must be in [0, 1)",
                       (double)hp->beta1);
    if (!(hp->beta2 >= 0.0f && hp->beta2 < 1.0f))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: beta2 is %g, must be in [0, 1)",
                       (double)hp->beta2);
    if (!(hp->eps > 0.0f) || !isfinite(hp->eps))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: eps is %g, must be finite and > 0",
                       (double)hp->eps);
    if (!(hp->weight_decay >= 0.0f) || !isfinite(hp->weight_decay))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_adam_step: weight_decay is %g, must be finite and >= 0",
                       (double)hp->weight_decay);
    return ZO_OK;
}

zo_status zo_adam_check_buffers(const zo_adam_buffers *b)
{
    if (!b)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: buffers is NULL");
    if (b->moments_dtype != ZO_DTYPE_F32 && b->moments_dtype != ZO_DTYPE_BF16 &&
        b->moments_dtype != ZO_DTYPE_Q8)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_adam_step: moments_dtype %d is not supported (f32, bf16 or 8bit)",
                       (int)b->moments_dtype);
    if (!zo_dtype_is_valid(b->grad_dtype))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: grad_dtype %d is not a zo_dtype",
                       (int)b->grad_dtype);
    if (b->weights_out && !zo_dtype_is_valid(b->weights_out_dtype))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_adam_step: weights_out_dtype %d is not a zo_dtype",
                       (int)b->weights_out_dtype);
    if (!(b->grad_scale > 0.0f) || !isfinite(b->grad_scale))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_adam_step: grad_scale is %g, must be finite and > 0",
                       (double)b->grad_scale);
    if (b->n > 0) {
        const char *missing = !b->master       ? "master"
                              : !b->exp_avg    ? "exp_avg"
                              : !b->exp_avg_sq ? "exp_avg_sq"
                              : !b->grad       ? "grad"
                                               : NULL;
        if (!missing && b->moments_dtype == ZO_DTYPE_Q8)
            missing = !b->exp_avg_scale ? "exp_avg_scale" : !b->exp_avg_sq_scale ? "exp_avg_sq_scale" : NULL;
        if (missing)
            return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: %s is NULL with n = %zu%s",
                           missing, b->n, b->moments_dtype == ZO_DTYPE_Q8 ? " (8-bit moments)" : "");
    }
    return ZO_OK;
}

/* The per-step constants, in double from the step number (a resumed run computes
 * exactly what an uninterrupted one did), rounded once to float. */
zo_adam_coeffs zo_adam_coeffs_for(const zo_adam_hparams *hp, uint64_t step, float grad_scale)
{
    double bias_correction1 = 1.0, bias_correction2 = 1.0;
    if (hp->bias_correction) {
        bias_correction1 = 1.0 - pow((double)hp->beta1, (double)step);
        bias_correction2 = 1.0 - pow((double)hp->beta2, (double)step);
    }
    bool decoupled = hp->adamw && hp->weight_decay > 0.0f;
    bool l2 = !hp->adamw && hp->weight_decay > 0.0f;
    return (zo_adam_coeffs){
        .grad_scale = grad_scale,
        .beta1 = hp->beta1,
        .one_minus_beta1 = (float)(1.0 - (double)hp->beta1),
        .beta2 = hp->beta2,
        .one_minus_beta2 = (float)(1.0 - (double)hp->beta2),
        .eps = hp->eps,
        .step_size = (float)((double)hp->lr / bias_correction1),
        .inv_sqrt_bc2 = (float)(1.0 / sqrt(bias_correction2)),
        .l2 = l2 ? hp->weight_decay : 0.0f,
        .decay = decoupled ? (float)(-(double)hp->lr * (double)hp->weight_decay) : 0.0f,
        .sqrt_beta2 = sqrt((double)hp->beta2),
        .sqrt_one_minus_beta2 = (float)sqrt(1.0 - (double)hp->beta2),
        .first_grad_factor = (float)((1.0 - (double)hp->beta1) * (double)grad_scale),
        .second_grad_factor = (float)(sqrt(1.0 - (double)hp->beta2) * (double)grad_scale),
        .dither_seed = zo_q8_dither_seed(step),
    };
}

/* Picks the kernel variant of `table` for the buffers' dtypes. */
static zo_adam_range_fn zo_variant(zo_adam_range_fn const table[ZO_GRAD_KINDS][ZO_MOMENT_KINDS][ZO_OUT_KINDS],
                                   const zo_adam_buffers *b)
{
    int moments = b->moments_dtype == ZO_DTYPE_BF16 ? ZO_MOMENT_BF16
                  : b->moments_dtype == ZO_DTYPE_Q8 ? ZO_MOMENT_Q8
                                                    : ZO_MOMENT_F32;
    int out = b->weights_out ? (int)b->weights_out_dtype + 1 : ZO_OUT_NONE;
    return table[b->grad_dtype][moments][out];
}

/* Weights out of at least this many bytes are written past the caches (kernels.h):
 * more than any core's L2 and half a typical L3, so they would be evicted before the
 * device or an allgather reads them; a normal store would first read every line in,
 * 2 of the 8-bit step's 18 bytes per parameter (docs/cpu_adam.md#streaming-stores).
 * Only an output aligned to 64 bytes is (kernels.h: then every vector is aligned). */
#define ZO_STREAM_OUT_MIN_BYTES ((size_t)16 << 20)
enum { ZO_STREAM_OUT_ALIGNMENT = 64 };
_Static_assert(ZO_BLOCK_ELEMS % 16 == 0, "ranges start at whole vectors of the widest path");

static zo_adam_kernel_args zo_args_for(const zo_adam_buffers *b, zo_adam_coeffs coeffs)
{
    bool stream = b->weights_out && (uintptr_t)b->weights_out % ZO_STREAM_OUT_ALIGNMENT == 0 &&
                  b->n * zo_dtype_size(b->weights_out_dtype) >= ZO_STREAM_OUT_MIN_BYTES;
    return (zo_adam_kernel_args){.coeffs = coeffs,
                                 .master = b->master,
                                 .exp_avg = b->exp_avg,
                                 .exp_avg_sq = b->exp_avg_sq,
                                 .grad = b->grad,
                                 .weights_out = b->weights_out,
                                 .exp_avg_scale = b->exp_avg_scale,
                                 .exp_avg_sq_scale = b->exp_avg_sq_scale,
                                 .first_index = b->first_index,
                                 .stream_weights_out = stream};
}

zo_status zo_adam_step(zo_adam *ctx, const zo_adam_hparams *hparams, uint64_t step,
                       const zo_adam_buffers *buffers)
{
    if (!ctx)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_step: ctx is NULL");
    zo_status status = zo_adam_check_hparams(hparams, step);
    if (status == ZO_OK)
        status = zo_adam_check_buffers(buffers);
    if (status != ZO_OK)
        return status;
    zo_adam_kernel_args args = zo_args_for(buffers, zo_adam_coeffs_for(hparams, step, buffers->grad_scale));
    zo_run_chunked(ctx, zo_variant(ctx->kernels->update, buffers), &args, buffers->n,
                   zo_granule_for(buffers->moments_dtype));
    return ZO_OK;
}

zo_status zo_adam_traffic_only(zo_adam *ctx, const zo_adam_buffers *buffers)
{
    if (!ctx)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_traffic_only: ctx is NULL");
    zo_status status = zo_adam_check_buffers(buffers);
    if (status != ZO_OK)
        return status;
    zo_adam_kernel_args args = zo_args_for(buffers, (zo_adam_coeffs){.grad_scale = 1.0f});
    zo_run_chunked(ctx, zo_variant(ctx->kernels->traffic_only, buffers), &args, buffers->n,
                   zo_granule_for(buffers->moments_dtype));
    return ZO_OK;
}

zo_status zo_adam_grad_stats(zo_adam *ctx, const void *grad, zo_dtype dtype, size_t n,
                             zo_grad_stats *out)
{
    if (!ctx || !out || (!grad && n > 0))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_grad_stats: %s is NULL",
                       !ctx ? "ctx" : !out ? "out" : "grad");
    if (!zo_dtype_is_valid(dtype))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_grad_stats: dtype %d is not a zo_dtype",
                       (int)dtype);
    size_t slice = zo_div_ceil(zo_div_ceil(n, ZO_STATS_MAX_SLICES), ZO_BLOCK_ELEMS) * ZO_BLOCK_ELEMS;
    if (slice < ZO_STATS_MIN_SLICE_ELEMS)
        slice = ZO_STATS_MIN_SLICE_ELEMS;
    size_t slices = zo_div_ceil(n, slice);
    double slice_sums[ZO_STATS_MAX_SLICES];
    zo_sumsq_range_fn kernel = ctx->kernels->sum_squares[dtype];
    int threads = zo_threads_for(ctx, n);
    int master_cpu = zo_current_cpu();

#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        zo_pin_team_worker(master_cpu, &ctx->team_cpus);
#pragma omp for schedule(static)
        for (size_t s = 0; s < slices; s++) {
            size_t end = (s + 1) * slice < n ? (s + 1) * slice : n;
            slice_sums[s] = kernel(grad, s * slice, end);
        }
    }
    double sum = 0.0;
    for (size_t s = 0; s < slices; s++)
        sum += slice_sums[s];
    /* A square of any finite float, summed over even 2^40 elements, stays finite in
     * double: the sum is non-finite exactly when some element is inf or NaN. */
    out->sum_squares = sum;
    out->all_finite = isfinite(sum);
    return ZO_OK;
}

/* Runs an elementwise (dst, src) kernel over [0, n). */
static void zo_run_elementwise(const zo_adam *ctx, zo_cast_range_fn kernel, void *dst, const void *src,
                               float scale, size_t n)
{
    if (n > 0)
        ZO_RUN_IN_CHUNKS(ctx, n, ZO_BLOCK_ELEMS, kernel(dst, src, scale, begin, end));
}

zo_status zo_adam_accumulate(zo_adam *ctx, float *acc, const void *grad, zo_dtype grad_dtype, size_t n)
{
    if (!ctx || ((!acc || !grad) && n > 0))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_accumulate: %s is NULL",
                       !ctx ? "ctx" : !acc ? "acc" : "grad");
    if (!zo_dtype_is_valid(grad_dtype))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_accumulate: grad_dtype %d is not a zo_dtype",
                       (int)grad_dtype);
    zo_run_elementwise(ctx, ctx->kernels->accumulate[grad_dtype], acc, grad, 1.0f, n);
    return ZO_OK;
}

zo_status zo_adam_cast(zo_adam *ctx, void *dst, zo_dtype dst_dtype, const void *src,
                       zo_dtype src_dtype, size_t n, float scale)
{
    if (!ctx || ((!dst || !src) && n > 0))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_cast: %s is NULL",
                       !ctx ? "ctx" : !dst ? "dst" : "src");
    if (!zo_dtype_is_valid(dst_dtype) || !zo_dtype_is_valid(src_dtype))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_cast: dtype %d is not a zo_dtype",
                       (int)(zo_dtype_is_valid(dst_dtype) ? src_dtype : dst_dtype));
    if (n > 0 && dst == src && dst_dtype != src_dtype)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT,
                       "zo_adam_cast: in place needs equal dtypes (%s to %s asked)",
                       zo_dtype_name(src_dtype), zo_dtype_name(dst_dtype));
    if (!isfinite(scale))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_cast: scale is %g, must be finite",
                       (double)scale);
    zo_run_elementwise(ctx, ctx->kernels->cast[src_dtype][dst_dtype], dst, src, scale, n);
    return ZO_OK;
}

/* Runs a quantizer kernel over [0, n) in whole blocks. */
static zo_status zo_run_quantizer(zo_adam *ctx, const char *call, zo_q8_moment moment, zo_q8_range_fn const table[2],
                                  void *codes, float *scales, float *values, size_t n)
{
    if (!ctx || ((!codes || !scales || !values) && n > 0))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: %s is NULL", call,
                       !ctx ? "ctx" : !codes ? "codes" : !scales ? "scales" : "values");
    if (moment != ZO_Q8_FIRST_MOMENT && moment != ZO_Q8_SECOND_MOMENT)
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "%s: moment %d is not a zo_q8_moment", call, (int)moment);
    zo_q8_range_fn kernel = table[moment];
    if (n > 0)
        ZO_RUN_IN_CHUNKS(ctx, n, ZO_Q8_BLOCK_ELEMS, kernel(codes, scales, values, begin, end));
    return ZO_OK;
}

zo_status zo_adam_quantize_moment(zo_adam *ctx, zo_q8_moment moment, const float *values, size_t n, void *codes,
                                  float *scales)
{
    return zo_run_quantizer(ctx, "zo_adam_quantize_moment", moment, ctx ? ctx->kernels->quantize : NULL, codes,
                            scales, (float *)values, n);
}

zo_status zo_adam_dequantize_moment(zo_adam *ctx, zo_q8_moment moment, const void *codes, const float *scales,
                                    size_t n, float *values)
{
    return zo_run_quantizer(ctx, "zo_adam_dequantize_moment", moment, ctx ? ctx->kernels->dequantize : NULL,
                            (void *)codes, (float *)scales, values, n);
}
