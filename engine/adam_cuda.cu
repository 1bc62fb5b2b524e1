// Adam on the GPU: cpu_adam's zo_adam_block (cpu_adam/kernel_body.h) for one element
// per thread, with the same operations in the same order. Each one is an explicitly
// rounded intrinsic (__fmul_rn, __fadd_rn, __fsqrt_rn, __fdiv_rn): nvcc may not fuse
// them into an FMA or use approximate division/square root whatever the flags, which
// are -fmad=false anyway. The fp16/bf16 conversions are cpu_adam's own
// (convert_scalar.h compiled for the device), NaN payloads included.
#include <cuda_runtime.h>
#include <stdint.h>

#define ZO_CONVERT_FN static inline __host__ __device__
extern "C" {
#include "adam_internal.h"
#include "convert_scalar.h"
#include "error.h"
}
#include "adam_cuda.h"

namespace {

enum { THREADS_PER_BLOCK = 256 };

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
    if (error != cudaSuccess)
        return zo_fail(ZO_ERR_DEVICE, "zo_adam_cuda_step: kernel launch failed: %s (%s)", cudaGetErrorName(error),
                       cudaGetErrorString(error));
    return ZO_OK;
}
