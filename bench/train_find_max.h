/* zo-bench train --find-max: the largest model of the benchmark's shape (its width,
 * as many layers as fit) that each way of training can hold, from the engine's
 * memory plan and free device memory; nothing is allocated. The rule:
 * - offload (GPU + host): zo_engine_plan fits this machine's host memory (master
 *   weights, moments, pinned staging), and the plan's device bytes (16-bit weights
 *   and gradients) plus the CUDA loop's activations fit the GPU's free memory;
 * - no offload (GPU only): the plan of offload "none", whose device bytes add fp32
 *   master weights (4 B/param) and the two moments (2 x 4 B/param, or 2 x 2 with
 *   zo.moments_dtype bf16), plus the activations, fits the GPU's free memory;
 * - host only (host backend): zo_engine_plan fits host memory with the device
 *   buffers in host RAM too, plus the host loop's fp32 activations.
 * Free memory is measured once (cudaMemGetInfo, no margin); cuBLAS workspaces and
 * allocator slack are not counted, so the GPU figures are upper bounds. */
#ifndef ZO_BENCH_TRAIN_FIND_MAX_H
#define ZO_BENCH_TRAIN_FIND_MAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_train_max {
    bool known; /* false: `reason` says why (no GPU, a refused config)    */
    char reason[256];
    size_t layers; /* of the given width                                     */
    size_t params;
} bench_train_max;

typedef struct bench_train_max_report {
    size_t width, batch;
    uint64_t device_free_bytes; /* 0 without a GPU */
    uint64_t host_available_bytes;
    bench_train_max offload, no_offload, host_only;
} bench_train_max_report;

/* Fills *out for models of `width` trained with `batch`-sample steps under the config
 * at config_path. 0, or -1 after printing why the bench itself failed. */
int bench_train_find_max(const char *config_path, size_t width, size_t batch,
                         bench_train_max_report *out);

#endif
