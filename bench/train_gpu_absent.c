/* train_gpu.h in a build without CUDA: nothing to measure, and the reason. */
#include "train_gpu.h"

#include <stdio.h>

static const char bench_no_cuda[] = "built without CUDA (nvcc not found)";

int bench_gpu_measure_copy_peak(size_t bytes, bench_gpu_copy_peak *out, char *reason,
                                size_t reason_size)
{
    (void)bytes, (void)out;
    snprintf(reason, reason_size, "%s", bench_no_cuda);
    return -1;
}

int bench_gpu_memory(uint64_t *used, uint64_t *free_bytes, char *reason, size_t reason_size)
{
    *used = *free_bytes = 0;
    snprintf(reason, reason_size, "%s", bench_no_cuda);
    return -1;
}
