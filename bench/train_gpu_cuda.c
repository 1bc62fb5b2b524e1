/* train_gpu.h with the CUDA runtime: the pinned copy peak and device memory. */
#include "train_gpu.h"

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

#include "median.h"
#include "zo/cuda_check.h"

enum { BENCH_COPY_REPEATS = 5 };

/* On a CUDA error: fills `reason` with the call and CUDA's message (zo/cuda_check.h's
 * format, libzo's own), leaves by fail:. */
#define BENCH_CUDA(call)                                                                              \
    ZO_CUDA_TRY(call, snprintf(reason, reason_size, ZO_CUDA_ERROR_FORMAT,                              \
                               ZO_CUDA_ERROR_ARGS(#call, zo_cuda_error_));                             \
                goto fail)

/* Median seconds of one cudaMemcpyAsync of `bytes` from src to dst on `stream`. */
static int bench_gpu_time_copy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                               cudaStream_t stream, double *seconds, char *reason,
                               size_t reason_size)
{
    cudaEvent_t began = NULL, ended = NULL;
    double times[BENCH_COPY_REPEATS];
    int result = -1;
    BENCH_CUDA(cudaEventCreate(&began));
    BENCH_CUDA(cudaEventCreate(&ended));
    BENCH_CUDA(cudaMemcpyAsync(dst, src, bytes, kind, stream)); /* untimed: first touch */
    for (int repeat = 0; repeat < BENCH_COPY_REPEATS; repeat++) {
        float milliseconds = 0.0f;
        BENCH_CUDA(cudaEventRecord(began, stream));
        BENCH_CUDA(cudaMemcpyAsync(dst, src, bytes, kind, stream));
        BENCH_CUDA(cudaEventRecord(ended, stream));
        BENCH_CUDA(cudaEventSynchronize(ended));
        BENCH_CUDA(cudaEventElapsedTime(&milliseconds, began, ended));
        times[repeat] = 1e-3 * milliseconds;
    }
    *seconds = bench_median(times, BENCH_COPY_REPEATS);
    result = 0;
fail:
    if (began)
        cudaEventDestroy(began);
    if (ended)
        cudaEventDestroy(ended);
    return result;
}

int bench_gpu_measure_copy_peak(size_t bytes, bench_gpu_copy_peak *out, char *reason,
                                size_t reason_size)
{
    void *host = NULL, *device = NULL;
    cudaStream_t stream = NULL;
    double up = 0.0, down = 0.0;
    int result = -1;
    BENCH_CUDA(cudaHostAlloc(&host, bytes, cudaHostAllocDefault));
    BENCH_CUDA(cudaMalloc(&device, bytes));
    BENCH_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    if (bench_gpu_time_copy(device, host, bytes, cudaMemcpyHostToDevice, stream, &up, reason,
                            reason_size) < 0 ||
        bench_gpu_time_copy(host, device, bytes, cudaMemcpyDeviceToHost, stream, &down, reason,
                            reason_size) < 0)
        goto fail;
    *out = (bench_gpu_copy_peak){.h2d_gbps = (double)bytes / up / 1e9,
                                 .d2h_gbps = (double)bytes / down / 1e9,
                                 .bytes = bytes};
    result = 0;
fail:
    if (stream)
        cudaStreamDestroy(stream);
    cudaFree(device);
    cudaFreeHost(host);
    return result;
}

int bench_gpu_memory(uint64_t *used, uint64_t *free_bytes, char *reason, size_t reason_size)
{
    size_t free_now = 0, total = 0;
    *used = *free_bytes = 0;
    BENCH_CUDA(cudaMemGetInfo(&free_now, &total));
    *used = (uint64_t)(total - free_now);
    *free_bytes = (uint64_t)free_now;
    return 0;
fail:
    return -1;
}
