/* The GPU figures of zo-bench train that need the CUDA runtime itself: the pinned
 * cudaMemcpyAsync peak each way, and device memory in use. train_gpu_cuda.c in CUDA
 * builds, train_gpu_absent.c (every call refused, with the reason) elsewhere. */
#ifndef ZO_BENCH_TRAIN_GPU_H
#define ZO_BENCH_TRAIN_GPU_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_gpu_copy_peak {
    double h2d_gbps; /* pinned host -> device, GB = 1e9 bytes */
    double d2h_gbps; /* device -> pinned host                 */
    size_t bytes;    /* per copy                              */
} bench_gpu_copy_peak;

/* Times cudaMemcpyAsync of `bytes` between a cudaHostAlloc'd buffer and a device one,
 * each way alone on one stream, median of 5 after one untimed copy (cudaEvent timing).
 * 0, or -1 with `reason` filled. */
int bench_gpu_measure_copy_peak(size_t bytes, bench_gpu_copy_peak *out, char *reason,
                                size_t reason_size);

/* Device-wide memory now (cudaMemGetInfo): in use (total - free) and free, in bytes.
 * 0, or -1 with `reason` filled. */
int bench_gpu_memory(uint64_t *used, uint64_t *free_bytes, char *reason, size_t reason_size);

#endif
