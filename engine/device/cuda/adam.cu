// Adam on the GPU, and what the device update needs around it (gradient stats, a
// stream, copies). The step is cpu_adam's zo_adam_block (cpu_adam/kernel_body.h) for one element
// per thread, with the same operations in the same order. Each one is an explicitly
// rounded intrinsic (__fmul_rn, __fadd_rn, __fsqrt_rn, __fdiv_rn): nvcc may not fuse
// them into an FMA or use approximate division/square root whatever the flags, which
// are -fmad=false anyway. The fp16/bf16 conversions are cpu_adam's own
// (convert_scalar.h compiled for the device), NaN payloads included.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#define ZO_CONVERT_FN static inline __host__ __device__
extern "C" {
#include "adam_internal.h"
#include "convert_scalar.h"
#include "error.h"
}
#include "check.h"
#include "adam.h"

namespace {

enum { THREADS_PER_BLOCK = 256 };

zo_status cuda_failure(const char *call, cudaError_t error)
{
    return ZO_CUDA_FAIL(ZO_ERR_DEVICE, call, error);
}

// An element of each storage type, widened to fp32 or rounded from it.
struct f32_t {
    typedef float storage;
    __device__ static float load(storage x) { return x; }
    __device__ static storage store(float x) { return x; }
};
struct f16_t {
    typedef uint16_t storage;
    __device__ static float load(storage x) { return zo_widen_f16(x); }
    __device__ static storage store(float x) { return zo_round_f32_to_f16(x); }
};
struct bf16_t {
    typedef uint16_t storage;
    __device__ static float load(storage x) { return zo_widen_bf16(x); }
    __device__ static storage store(float x) { return zo_round_f32_to_bf16(x); }
};
struct no_output_t {}; // weights_out NULL

template <typename Out> struct writes_weights { static const bool value = true; };
template <> struct writes_weights<no_output_t> { static const bool value = false; };

template <typename Out> __device__ inline void store_weight(void *out, size_t i, float weight)
{
    static_cast<typename Out::storage *>(out)[i] = Out::store(weight);
}
template <> __device__ inline void store_weight<no_output_t>(void *, size_t, float) {}

// One element per thread, grid-stride: see zo_adam_step() in zo/adam.h for the formula.
template <typename Grad, typename Moment, typename Out>
__global__ void adam_kernel(zo_adam_coeffs c, size_t n, float *__restrict__ master, void *exp_avg_raw,
                            void *exp_avg_sq_raw, const void *grad_raw, void *weights_out)
{
    typename Moment::storage *exp_avg = static_cast<typename Moment::storage *>(exp_avg_raw);
    typename Moment::storage *exp_avg_sq = static_cast<typename Moment::storage *>(exp_avg_sq_raw);
    const typename Grad::storage *grad = static_cast<const typename Grad::storage *>(grad_raw);
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float weight = master[i];
        float m = Moment::load(exp_avg[i]);
        float v = Moment::load(exp_avg_sq[i]);

        // unscale (and unclip) the gradient in the same pass
        float g = __fmul_rn(Grad::load(grad[i]), c.grad_scale);
        if (c.l2 != 0.0f) // classic Adam: weight decay as an L2 term of the gradient
            g = __fadd_rn(g, __fmul_rn(c.l2, weight));
        // update the first moment (momentum) and the second (uncentered variance)
        m = __fadd_rn(__fmul_rn(c.beta1, m), __fmul_rn(c.one_minus_beta1, g));
        v = __fadd_rn(__fmul_rn(c.beta2, v), __fmul_rn(c.one_minus_beta2, __fmul_rn(g, g)));
        // bias-corrected denominator sqrt(v / bc2) + eps, as DeepSpeed and PyTorch do
        float denom = __fadd_rn(__fmul_rn(__fsqrt_rn(v), c.inv_sqrt_bc2), c.eps);
        if (c.decay != 0.0f) // AdamW: decoupled decay of the weight itself
            weight = __fadd_rn(weight, __fmul_rn(c.decay, weight));
        weight = __fsub_rn(weight, __fmul_rn(c.step_size, __fdiv_rn(m, denom)));

        master[i] = weight;
        exp_avg[i] = Moment::store(m);
        exp_avg_sq[i] = Moment::store(v);
        store_weight<Out>(weights_out, i, weight); // the low-precision copy for the forward
    }
}

template <typename Grad, typename Moment, typename Out>
cudaError_t launch(const zo_adam_coeffs &c, const zo_adam_buffers *b, cudaStream_t stream)
{
    // enough blocks to fill any GPU, each thread looping over the rest
    size_t wanted = (b->n + THREADS_PER_BLOCK - 1) / THREADS_PER_BLOCK;
    unsigned blocks = (unsigned)(wanted < 65535 ? wanted : 65535);
    adam_kernel<Grad, Moment, Out><<<blocks, THREADS_PER_BLOCK, 0, stream>>>(
        c, b->n, b->master, b->exp_avg, b->exp_avg_sq, b->grad, b->weights_out);
    return cudaGetLastError();
}

template <typename Grad, typename Moment>
cudaError_t launch_for_output(const zo_adam_coeffs &c, const zo_adam_buffers *b, cudaStream_t stream)
{
    if (!b->weights_out)
        return launch<Grad, Moment, no_output_t>(c, b, stream);
    switch (b->weights_out_dtype) {
    case ZO_DTYPE_F16: return launch<Grad, Moment, f16_t>(c, b, stream);
    case ZO_DTYPE_BF16: return launch<Grad, Moment, bf16_t>(c, b, stream);
    default: return launch<Grad, Moment, f32_t>(c, b, stream);
    }
}

template <typename Grad>
cudaError_t launch_for_moments(const zo_adam_coeffs &c, const zo_adam_buffers *b, cudaStream_t stream)
{
    return b->moments_dtype == ZO_DTYPE_BF16 ? launch_for_output<Grad, bf16_t>(c, b, stream)
                                             : launch_for_output<Grad, f32_t>(c, b, stream);
}

} // namespace

extern "C" zo_status zo_adam_cuda_step(const zo_adam_hparams *hparams, uint64_t step, const zo_adam_buffers *buffers,
                                       void *stream)
{
    zo_status status = zo_adam_check_hparams(hparams, step);
    if (status == ZO_OK)
        status = zo_adam_check_buffers(buffers);
    if (status != ZO_OK || buffers->n == 0)
        return status;
    zo_adam_coeffs c = zo_adam_coeffs_for(hparams, step, buffers->grad_scale);
    cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
    cudaError_t error;
    switch (buffers->grad_dtype) {
    case ZO_DTYPE_F16: error = launch_for_moments<f16_t>(c, buffers, cuda_stream); break;
    case ZO_DTYPE_BF16: error = launch_for_moments<bf16_t>(c, buffers, cuda_stream); break;
    default: error = launch_for_moments<f32_t>(c, buffers, cuda_stream); break;
    }
    return error == cudaSuccess ? ZO_OK : cuda_failure("zo_adam_cuda_step: kernel launch", error);
}

// ---------------------------------------------------------------------------------
// Gradient stats: each block sums g^2 (in double) and counts non-finite elements over
// a grid-stride range, reduces in shared memory in a fixed tree order, and writes its
// partials; the host adds them in block order.

namespace {

template <typename Grad>
__global__ void stats_kernel(const void *grad_raw, size_t n, double *partial_sums, double *partial_nonfinite)
{
    __shared__ double sums[THREADS_PER_BLOCK];
    __shared__ double nonfinite[THREADS_PER_BLOCK];
    const typename Grad::storage *grad = static_cast<const typename Grad::storage *>(grad_raw);
    double sum = 0.0, bad = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float g = Grad::load(grad[i]);
        if (isfinite(g))
            sum = __dadd_rn(sum, __dmul_rn((double)g, (double)g));
        else
            bad += 1.0;
    }
    sums[threadIdx.x] = sum;
    nonfinite[threadIdx.x] = bad;
    __syncthreads();
    for (unsigned half = THREADS_PER_BLOCK / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            sums[threadIdx.x] = __dadd_rn(sums[threadIdx.x], sums[threadIdx.x + half]);
            nonfinite[threadIdx.x] += nonfinite[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        partial_sums[blockIdx.x] = sums[0];
        partial_nonfinite[blockIdx.x] = nonfinite[0];
    }
}

} // namespace

extern "C" zo_status zo_adam_cuda_grad_stats(const void *grad, zo_dtype dtype, size_t n, void *scratch, void *stream,
                                             zo_grad_stats *out)
{
    if (!out || !scratch || (!grad && n > 0))
        return zo_fail(ZO_ERR_INVALID_ARGUMENT, "zo_adam_cuda_grad_stats: %s is NULL",
                       !out ? "out" : !scratch ? "scratch" : "grad");
    *out = (zo_grad_stats){0.0, true};
    if (n == 0)
        return ZO_OK;
    double *sums = static_cast<double *>(scratch), *nonfinite = sums + ZO_ADAM_CUDA_STATS_BLOCKS;
    cudaStream_t cuda_stream = static_cast<cudaStream_t>(stream);
    switch (dtype) {
    case ZO_DTYPE_F16:
        stats_kernel<f16_t><<<ZO_ADAM_CUDA_STATS_BLOCKS, THREADS_PER_BLOCK, 0, cuda_stream>>>(grad, n, sums, nonfinite);
        break;
    case ZO_DTYPE_BF16:
        stats_kernel<bf16_t><<<ZO_ADAM_CUDA_STATS_BLOCKS, THREADS_PER_BLOCK, 0, cuda_stream>>>(grad, n, sums, nonfinite);
        break;
    default:
        stats_kernel<f32_t><<<ZO_ADAM_CUDA_STATS_BLOCKS, THREADS_PER_BLOCK, 0, cuda_stream>>>(grad, n, sums, nonfinite);
        break;
    }
    double partials[2 * ZO_ADAM_CUDA_STATS_BLOCKS];
    cudaError_t error = cudaGetLastError();
    if (error == cudaSuccess)
        error = cudaMemcpyAsync(partials, scratch, sizeof partials, cudaMemcpyDeviceToHost, cuda_stream);
    if (error == cudaSuccess)
        error = cudaStreamSynchronize(cuda_stream);
    if (error != cudaSuccess)
        return cuda_failure("zo_adam_cuda_grad_stats", error);
    double sum = 0.0, bad = 0.0;
    for (int block = 0; block < ZO_ADAM_CUDA_STATS_BLOCKS; block++) {
        sum += partials[block];
        bad += partials[ZO_ADAM_CUDA_STATS_BLOCKS + block];
    }
    *out = (zo_grad_stats){bad > 0.0 ? NAN : sum, bad == 0.0};
    return ZO_OK;
}

extern "C" zo_status zo_adam_cuda_stream_create(void **out)
{
    cudaStream_t stream = NULL;
    cudaError_t error = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    *out = stream;
    return error == cudaSuccess ? ZO_OK : cuda_failure("cudaStreamCreateWithFlags", error);
}

extern "C" void zo_adam_cuda_stream_destroy(void *stream)
{
    if (stream)
        cudaStreamDestroy(static_cast<cudaStream_t>(stream));
}

extern "C" zo_status zo_adam_cuda_stream_synchronize(void *stream)
{
    cudaError_t error = cudaStreamSynchronize(static_cast<cudaStream_t>(stream));
    return error == cudaSuccess ? ZO_OK : cuda_failure("cudaStreamSynchronize", error);
}

extern "C" zo_status zo_adam_cuda_copy(void *dst, const void *src, size_t bytes, bool to_device)
{
    cudaError_t error = cudaMemcpy(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost);
    return error == cudaSuccess ? ZO_OK : cuda_failure("cudaMemcpy", error);
}
