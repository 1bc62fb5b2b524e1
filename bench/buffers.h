/* Benchmark buffers: 64-byte aligned, first touched by the same OpenMP threads and
 * static schedule the kernels use, so each thread's pages are where it will run. */
#ifndef ZO_BENCH_BUFFERS_H
#define ZO_BENCH_BUFFERS_H

#include <stddef.h>

#include "zo/dtype.h"

/* A 64-byte aligned block of at least `bytes` bytes (free with free()), or NULL after
 * printing which buffer (`what`) could not be allocated. */
void *bench_alloc(size_t bytes, const char *what);

/* Writes n values of `dtype`, spread over [low, high) by a fixed hash of the index
 * (the same data every run), from `threads` threads with a static schedule: this is
 * the buffer's first touch. */
void bench_fill(void *data, zo_dtype dtype, size_t n, float low, float high, int threads);


#endif
