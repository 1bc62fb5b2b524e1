// The CUDA training loop of the deep MLP of mlp_model.h with the offload engine: the
// twin of mlp_host_loop.c, layer for layer (train_mlp_cuda and zo-bench train run it). fp16/bf16 weights live on the GPU (the engine's
// device buffers); GEMMs run on cuBLAS (cublasGemmEx, fp32 accumulate); small kernels
// add biases, apply ReLU, and make the loss gradient. The loop hands the engine its
// compute stream: each layer's forward waits on the device for its own bucket, and
// each layer's gradients start copying down while the backward goes on. Every use of
// a layer's weights sits between zo_engine_fetch and zo_engine_release, so the same
// loop runs ZeRO stage 3 (the weights copied up layer by layer from host memory).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zo/cuda_check.h"

extern "C" {
#include "mlp_model.h"
#include "mlp_train.h"
}
#include "mlp_loops.h"

// Checking macros for CUDA (zo/cuda_check.h's, libzo's own format) and cuBLAS: print
// the call and the error, and leave through the function's fail: label (as MLP_CHECK
// does for zo calls).
#define CUDA_CHECK(call)                                                                             \
    ZO_CUDA_TRY(call, fprintf(stderr, ZO_CUDA_ERROR_FORMAT "\n", ZO_CUDA_ERROR_ARGS(#call, zo_cuda_error_)); \
                goto fail)
#define CUBLAS_CHECK(call)                                                               \
    do {                                                                                 \
        cublasStatus_t status_ = (call);                                                 \
        if (status_ != CUBLAS_STATUS_SUCCESS) {                                          \
            fprintf(stderr, "%s failed: cuBLAS status %d\n", #call, (int)status_);        \
            goto fail;                                                                   \
        }                                                                                \
    } while (0)

// ---------------------------------------------------------------------------------
// Kernels: T is __half or __nv_bfloat16, the engine's device dtype.

__device__ inline float to_f32(__half x) { return __half2float(x); }
__device__ inline float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ inline T from_f32(float x);
template <> __device__ inline __half from_f32<__half>(float x) { return __float2half_rn(x); }
template <> __device__ inline __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// hidden = relu(hidden + bias), in place, rounded to T as the host twin does
template <typename T> __global__ void bias_relu(T *hidden, const T *bias, size_t batch, size_t width)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= batch * width)
        return;
    float value = to_f32(hidden[i]) + to_f32(bias[i % width]);
    hidden[i] = from_f32<T>(value > 0.0f ? value : 0.0f);
}

// the last layer: fp32 output += bias; squared error into *loss_sum; the gradient of
// mean((y - t)^2) * loss_scale into grad_out
template <typename T>
__global__ void bias_loss_grad(float *output, const T *bias, const float *target, T *grad_out,
                               float grad_factor, float *loss_sum, size_t batch, size_t width)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    float squared = 0.0f;
    if (i < batch * width) {
        float error = output[i] + to_f32(bias[i % width]) - target[i];
        squared = error * error;
        grad_out[i] = from_f32<T>(grad_factor * error);
    }
    for (int offset = 16; offset > 0; offset /= 2) // warp sum, then one atomic a warp
        squared += __shfl_down_sync(0xffffffffu, squared, offset);
    if ((threadIdx.x & 31) == 0)
        atomicAdd(loss_sum, squared);
}

// grad = 0 where the ReLU was off (its output, the next layer's input, is 0)
template <typename T> __global__ void relu_backward(T *grad, const T *relu_output, size_t count)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count && !(to_f32(relu_output[i]) > 0.0f))
        grad[i] = from_f32<T>(0.0f);
}

// bias gradient: column sums of grad_out [batch][width], written to the engine's buffer
template <typename T> __global__ void bias_grad(const T *grad_out, T *bias_grad_out, size_t batch, size_t width)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= width)
        return;
    float sum = 0.0f;
    for (size_t n = 0; n < batch; n++)
        sum += to_f32(grad_out[n * width + j]);
    bias_grad_out[j] = from_f32<T>(sum);
}

template <typename T> __global__ void convert_inputs(const float *inputs, T *out, size_t count)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count)
        out[i] = from_f32<T>(inputs[i]);
}

static unsigned blocks_for(size_t count) { return (unsigned)((count + 255) / 256); }

// ---------------------------------------------------------------------------------
// The model's GPU state: every layer's input (activations) in T, the last layer's
// fp32 output, the gradient flowing back, the batch's targets.
struct gpu_mlp {
    mlp_shape shape;
    size_t batch;
    cudaDataType_t type; // CUDA_R_16F or CUDA_R_16BF
    cudaStream_t stream;
    cublasHandle_t cublas;
    void **layer_input;   // [layers] of [batch][width] T; layer_input[0] is the batch
    float *output;        // [batch][width] fp32
    float *inputs_f32, *targets; // this batch, from the host
    void *grad, *grad_prev; // [batch][width] T: dY of the current layer, dX of it
    float *loss_sum;
    float *host_inputs, *host_targets, *host_loss; // pinned
};

static void gpu_mlp_destroy(gpu_mlp *m)
{
    for (size_t l = 0; m->layer_input && l < m->shape.layers; l++)
        cudaFree(m->layer_input[l]);
    free(m->layer_input);
    cudaFree(m->output), cudaFree(m->inputs_f32), cudaFree(m->targets);
    cudaFree(m->grad), cudaFree(m->grad_prev), cudaFree(m->loss_sum);
    cudaFreeHost(m->host_inputs), cudaFreeHost(m->host_targets), cudaFreeHost(m->host_loss);
    if (m->cublas)
        cublasDestroy(m->cublas);
    if (m->stream)
        cudaStreamDestroy(m->stream);
    memset(m, 0, sizeof *m);
}

static bool gpu_mlp_create(gpu_mlp *m, mlp_shape shape, size_t batch, zo_dtype dtype)
{
    size_t count = batch * shape.width, bytes = count * 2;
    m->shape = shape;
    m->batch = batch;
    m->type = dtype == ZO_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    m->layer_input = (void **)calloc(shape.layers, sizeof(void *));
    if (!m->layer_input)
        return false;
    CUDA_CHECK(cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&m->cublas));
    CUBLAS_CHECK(cublasSetStream(m->cublas, m->stream));
    for (size_t l = 0; l < shape.layers; l++)
        CUDA_CHECK(cudaMalloc(&m->layer_input[l], bytes));
    CUDA_CHECK(cudaMalloc(&m->output, count * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&m->inputs_f32, count * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&m->targets, count * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&m->grad, bytes));
    CUDA_CHECK(cudaMalloc(&m->grad_prev, bytes));
    CUDA_CHECK(cudaMalloc(&m->loss_sum, sizeof(float)));
    CUDA_CHECK(cudaMallocHost(&m->host_inputs, count * sizeof(float)));
    CUDA_CHECK(cudaMallocHost(&m->host_targets, count * sizeof(float)));
    CUDA_CHECK(cudaMallocHost(&m->host_loss, sizeof(float)));
    return true;
fail:
    return false;
}

// C[rows_c][cols_c] (row-major) = op(A) op(B) in cuBLAS's column-major terms; see the
// three calls below for which operand is which.
static cublasStatus_t gemm(const gpu_mlp *m, cublasOperation_t transa, cublasOperation_t transb, int rows,
                           int cols, int depth, const void *a, int lda, const void *b, int ldb, void *c,
                           cudaDataType_t c_type, int ldc)
{
    const float one = 1.0f, zero = 0.0f;
    return cublasGemmEx(m->cublas, transa, transb, rows, cols, depth, &one, a, m->type, lda, b, m->type, ldb, &zero,
                        c, c_type, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

// Fetches layer l's weight and bias for the kernels queued next on the loop's stream
// (ZeRO stage 3: copied up into a slot, or found still there; stages 0-2: the stream
// waits for their bucket's update) and returns their device pointers, valid until
// release_layer: in stage 3 the next fetch may put the layer in another slot, so they
// are read again after every fetch, never kept.
static bool fetch_layer(zo_engine *engine, size_t l, cudaStream_t stream, const void **weight, const void **bias)
{
    MLP_CHECK(zo_engine_fetch(engine, mlp_weight_param(l), stream));
    MLP_CHECK(zo_engine_fetch(engine, mlp_bias_param(l), stream));
    *weight = zo_engine_weights(engine, mlp_weight_param(l));
    *bias = zo_engine_weights(engine, mlp_bias_param(l));
    if (*weight && *bias)
        return true;
    fprintf(stderr, "layer %zu's weights are not on the device: %s\n", l, zo_last_error());
fail:
    return false;
}

// The kernels queued so far on the stream are the last to read layer l's weights: in
// stage 3 its slots may take other parameters once the stream has passed this point.
static bool release_layer(zo_engine *engine, size_t l, cudaStream_t stream)
{
    MLP_CHECK(zo_engine_release(engine, mlp_weight_param(l), stream));
    MLP_CHECK(zo_engine_release(engine, mlp_bias_param(l), stream));
    return true;
fail:
    return false;
}

template <typename T> static bool forward(gpu_mlp *m, zo_engine *engine)
{
    size_t width = m->shape.width, batch = m->batch, count = batch * width;
    convert_inputs<T><<<blocks_for(count), 256, 0, m->stream>>>(m->inputs_f32, (T *)m->layer_input[0], count);
    for (size_t l = 0; l < m->shape.layers; l++) {
        // this layer's weights, as soon as they are on the GPU
        const void *weight = NULL, *bias_weights = NULL;
        if (!fetch_layer(engine, l, m->stream, &weight, &bias_weights))
            return false;
        const T *bias = (const T *)bias_weights;
        bool last = l + 1 == m->shape.layers;
        // Y^T (width x batch) = W (out x in) X^T: W is row-major [out][in], i.e. W^T
        // column-major, hence OP_T
        void *out = last ? (void *)m->output : m->layer_input[l + 1];
        CUBLAS_CHECK(gemm(m, CUBLAS_OP_T, CUBLAS_OP_N, (int)width, (int)batch, (int)width, weight, (int)width,
                          m->layer_input[l], (int)width, out, last ? CUDA_R_32F : m->type, (int)width));
        if (!last)
            bias_relu<T><<<blocks_for(count), 256, 0, m->stream>>>((T *)out, bias, batch, width);
        if (!release_layer(engine, l, m->stream))
            return false;
    }
    return cudaGetLastError() == cudaSuccess;
fail:
    return false;
}

template <typename T> static bool backward(gpu_mlp *m, zo_engine *engine, float loss_scale, double *loss)
{
    size_t width = m->shape.width, batch = m->batch, count = batch * width, last = m->shape.layers - 1;
    for (size_t l = m->shape.layers; l-- > 0;) {
        const void *weight = NULL, *bias = NULL;
        if (!fetch_layer(engine, l, m->stream, &weight, &bias))
            return false;
        if (l == last) { // the last layer's bias completes the output the loss reads
            CUDA_CHECK(cudaMemsetAsync(m->loss_sum, 0, sizeof(float), m->stream));
            bias_loss_grad<T><<<blocks_for(count), 256, 0, m->stream>>>(
                m->output, (const T *)bias, m->targets, (T *)m->grad, 2.0f * loss_scale / (float)count,
                m->loss_sum, batch, width);
            CUDA_CHECK(
                cudaMemcpyAsync(m->host_loss, m->loss_sum, sizeof(float), cudaMemcpyDeviceToHost, m->stream));
        }
        // dW^T (in x out) = X^T (in x batch) dY (batch x out), written straight into
        // the engine's gradient slots; db = column sums of dY
        void *grad_weight = zo_engine_grads(engine, mlp_weight_param(l));
        T *grad_bias = (T *)zo_engine_grads(engine, mlp_bias_param(l));
        if (!grad_weight || !grad_bias) {
            fprintf(stderr, "no gradient buffer for layer %zu: %s\n", l, zo_last_error());
            return false;
        }
        CUBLAS_CHECK(gemm(m, CUBLAS_OP_N, CUBLAS_OP_T, (int)width, (int)width, (int)batch, m->layer_input[l],
                          (int)width, m->grad, (int)width, grad_weight, m->type, (int)width));
        bias_grad<T><<<blocks_for(width), 256, 0, m->stream>>>((const T *)m->grad, grad_bias, batch, width);
        // hand them over now: their bucket copies down while the backward goes on
        MLP_CHECK(zo_engine_grad_ready(engine, mlp_weight_param(l), m->stream));
        MLP_CHECK(zo_engine_grad_ready(engine, mlp_bias_param(l), m->stream));
        if (l == 0) { // nothing wants d loss / d input
            if (!release_layer(engine, l, m->stream))
                return false;
            break;
        }
        // dX^T (in x batch) = W^T (in x out) dY^T (out x batch), then the ReLU mask
        CUBLAS_CHECK(gemm(m, CUBLAS_OP_N, CUBLAS_OP_N, (int)width, (int)batch, (int)width, weight, (int)width,
                          m->grad, (int)width, m->grad_prev, m->type, (int)width));
        relu_backward<T><<<blocks_for(count), 256, 0, m->stream>>>((T *)m->grad_prev, (const T *)m->layer_input[l],
                                                                     count);
        void *swap = m->grad;
        m->grad = m->grad_prev;
        m->grad_prev = swap;
        if (!release_layer(engine, l, m->stream))
            return false;
    }
    CUDA_CHECK(cudaStreamSynchronize(m->stream)); // the loss, for the log
    *loss = *m->host_loss / (double)count;
    return true;
fail:
    return false;
}

template <typename T> static int train_on(const mlp_options *options, zo_engine *engine, size_t micro_steps,
                                          mlp_log *log)
{
    int result = 1;
    gpu_mlp model;
    memset(&model, 0, sizeof model);
    cudaEvent_t compute_began = NULL, compute_ended = NULL;
    mlp_task *task = mlp_task_create(options->shape.width, options->seed, zo_engine_rank(engine));
    size_t count = options->batch * options->shape.width;
    if (!task || !gpu_mlp_create(&model, options->shape, options->batch, zo_engine_dtype(engine))) {
        fprintf(stderr, "cannot set up the model on the GPU\n");
        goto fail;
    }
    // the loop's compute time: GPU time on its stream from the forward's first kernel to
    // the backward's last (waits for weights that are late included)
    CUDA_CHECK(cudaEventCreate(&compute_began));
    CUDA_CHECK(cudaEventCreate(&compute_ended));
    log->started = mlp_seconds();
    for (size_t step = 0; step < options->steps; step++) {
        double loss = 0.0, compute_seconds = 0.0;
        float loss_scale = zo_engine_loss_scale(engine);
        zo_step_info info;
        for (size_t micro = 0; micro < micro_steps; micro++) {
            mlp_task_next_batch(task, options->batch, model.host_inputs, model.host_targets);
            CUDA_CHECK(cudaMemcpyAsync(model.inputs_f32, model.host_inputs, count * sizeof(float),
                                       cudaMemcpyHostToDevice, model.stream));
            CUDA_CHECK(cudaMemcpyAsync(model.targets, model.host_targets, count * sizeof(float),
                                       cudaMemcpyHostToDevice, model.stream));
            CUDA_CHECK(cudaEventRecord(compute_began, model.stream));
            double micro_loss = 0.0;
            if (!forward<T>(&model, engine) || !backward<T>(&model, engine, loss_scale, &micro_loss))
                goto fail;
            CUDA_CHECK(cudaEventRecord(compute_ended, model.stream));
            loss += micro_loss / (double)micro_steps;
            MLP_CHECK(zo_engine_step(engine, &info)); // decides at the accumulation's end
            mlp_log_micro_step(log, &info);
            float milliseconds = 0.0f;
            CUDA_CHECK(cudaEventSynchronize(compute_ended));
            CUDA_CHECK(cudaEventElapsedTime(&milliseconds, compute_began, compute_ended));
            compute_seconds += 1e-3 * milliseconds;
        }
        log->samples += options->batch * micro_steps;
        mlp_log_step(log, options, loss, loss_scale, &info);
        mlp_log_end_step(log, engine, compute_seconds);
    }
    MLP_CHECK(zo_engine_synchronize(engine));
    CUDA_CHECK(cudaStreamSynchronize(model.stream));
    log->seconds = mlp_seconds() - log->started;
    mlp_log_device(log, engine);
    result = 0;
fail:
    if (compute_began)
        cudaEventDestroy(compute_began);
    if (compute_ended)
        cudaEventDestroy(compute_ended);
    gpu_mlp_destroy(&model);
    mlp_task_destroy(&task);
    return result;
}

extern "C" int mlp_train_cuda(const mlp_options *options, mlp_log *log)
{
    zo_engine *engine = NULL;
    size_t micro_steps = 1;
    int result = 1;
    if (options->checkpoint_every > 1) {
        fprintf(stderr, "activation checkpointing is in the host loop only so far\n");
        return 1;
    }
    if (!mlp_engine_open(options, "cuda", &engine, &micro_steps))
        goto done;
    mlp_print_setup(options, engine, micro_steps);
    if (zo_engine_dtype(engine) == ZO_DTYPE_F32) {
        fprintf(stderr, "the CUDA loop computes in fp16 or bf16: enable one in the config\n");
        goto done;
    }
    result = zo_engine_dtype(engine) == ZO_DTYPE_BF16 ? train_on<__nv_bfloat16>(options, engine, micro_steps, log)
                                                       : train_on<__half>(options, engine, micro_steps, log);
done:
    zo_engine_destroy(&engine);
    return result;
}
