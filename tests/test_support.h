/* Helpers the cpu_adam tests share: the list of kernel paths, buffers at deliberately
 * odd addresses, a context on a given path, and test_values.h. */
#ifndef ZO_TEST_SUPPORT_H
#define ZO_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_values.h"
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
    zo_status status = zo_adam_create(&settings, &ctx);
    cr_assert(status == ZO_OK, "zo_adam_create(%s, %d threads): %s", zo_cpu_isa_name(isa),
              threads, zo_last_error());
    return ctx;
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

#endif
