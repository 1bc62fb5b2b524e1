/* Helpers the cpu_adam tests share: the list of kernel paths, a deterministic random
 * generator, buffers at deliberately odd addresses, and a context on a given path. */
#ifndef ZO_TEST_SUPPORT_H
#define ZO_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zo/zo.h"

/* Every kernel path, scalar first. */
#define ZO_TEST_ISAS \
    {ZO_CPU_ISA_SCALAR, ZO_CPU_ISA_AVX2, ZO_CPU_ISA_AVX512, ZO_CPU_ISA_AVX512_BF16}
enum { ZO_TEST_ISA_COUNT = 4 };

/* A context on `isa` with `threads` threads; skips the test, saying why, when this CPU
 * lacks the path. */
static inline zo_adam *zo_test_context(zo_cpu_isa isa, int threads)
{
    if (!zo_cpu_supports(isa))
        cr_skip_test("this CPU cannot run the %s kernels", zo_cpu_isa_name(isa));
    zo_adam_settings settings;
    zo_adam_default_settings(&settings);
    settings.isa = isa;
    settings.num_threads = threads;
    zo_adam *ctx = NULL;
    zo_status status = zo_adam_create(&ctx, &settings);
    cr_assert(status == ZO_OK, "zo_adam_create(%s, %d threads): %s", zo_cpu_isa_name(isa),
              threads, zo_last_error());
    return ctx;
}

/* xorshift64*: the same numbers on every machine. */
typedef struct zo_test_rng {
    uint64_t state;
} zo_test_rng;

static inline uint64_t zo_test_next(zo_test_rng *rng)
{
    rng->state ^= rng->state >> 12;
    rng->state ^= rng->state << 25;
    rng->state ^= rng->state >> 27;
    return rng->state * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi). */
static inline float zo_test_uniform(zo_test_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * (float)((zo_test_next(rng) >> 40) * 0x1p-24);
}

/* A zeroed buffer of n elements of `element_size` bytes that starts `offset` elements
 * past a 64-byte boundary, so kernels meet unaligned pointers. Free with
 * zo_test_free(ptr, offset, element_size). */
static inline void *zo_test_alloc(size_t n, size_t element_size, size_t offset)
{
    size_t bytes = (n + offset) * element_size + 64;
    char *base = aligned_alloc(64, (bytes + 63) / 64 * 64);
    cr_assert(base != NULL, "out of memory for %zu bytes", bytes);
    memset(base, 0, bytes);
    return base + offset * element_size;
}

static inline void zo_test_free(void *ptr, size_t offset, size_t element_size)
{
    if (ptr)
        free((char *)ptr - offset * element_size);
}

/* Stores value as element i of an array of dtype. */
static inline void zo_test_store(void *base, zo_dtype dtype, size_t i, float value)
{
    switch (dtype) {
    case ZO_DTYPE_F16: ((uint16_t *)base)[i] = zo_f32_to_f16(value); break;
    case ZO_DTYPE_BF16: ((uint16_t *)base)[i] = zo_f32_to_bf16(value); break;
    default: ((float *)base)[i] = value; break;
    }
}

/* Element i of an array of dtype, widened to float. */
static inline float zo_test_load(const void *base, zo_dtype dtype, size_t i)
{
    switch (dtype) {
    case ZO_DTYPE_F16: return zo_f16_to_f32(((const uint16_t *)base)[i]);
    case ZO_DTYPE_BF16: return zo_bf16_to_f32(((const uint16_t *)base)[i]);
    default: return ((const float *)base)[i];
    }
}

#endif
