/* Allocation, first touch and the memory check of the benchmark's buffers. */
#include "buffers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_fail.h"

enum { BENCH_ALIGNMENT = 64 }; /* a cache line, and one AVX-512 vector */

void *bench_alloc(size_t bytes, const char *what)
{
    /* aligned_alloc wants a multiple of the alignment */
    size_t rounded = (bytes + BENCH_ALIGNMENT - 1) / BENCH_ALIGNMENT * BENCH_ALIGNMENT;
    void *block = aligned_alloc(BENCH_ALIGNMENT, rounded ? rounded : BENCH_ALIGNMENT);
    if (!block)
        bench_fail("cannot allocate %zu bytes for %s", bytes, what);
    return block;
}

/* A value in [0, 1) that looks random but depends only on i (Fibonacci hashing). */
static inline float bench_unit_noise(size_t i)
{
    uint64_t hashed = (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15);
    return (float)(hashed >> 40) * (1.0f / (float)(1u << 24));
}

void bench_fill(void *data, zo_dtype dtype, size_t n, float low, float high, int threads)
{
    float span = high - low;
    switch (dtype) {
    case ZO_DTYPE_F32: {
        float *values = data;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (size_t i = 0; i < n; i++)
            values[i] = low + span * bench_unit_noise(i);
        break;
    }
    case ZO_DTYPE_F16: {
        uint16_t *values = data;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (size_t i = 0; i < n; i++)
            values[i] = zo_f32_to_f16(low + span * bench_unit_noise(i));
        break;
    }
    case ZO_DTYPE_BF16: {
        uint16_t *values = data;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (size_t i = 0; i < n; i++)
            values[i] = zo_f32_to_bf16(low + span * bench_unit_noise(i));
        break;
    }
    case ZO_DTYPE_I8:
    case ZO_DTYPE_U8:
    case ZO_DTYPE_Q8: { /* 8-bit codes: zero (a code's value needs its block's scale) */
        uint8_t *codes = data;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (size_t i = 0; i < n; i++)
            codes[i] = 0;
        break;
    }
    }
}
