/* The dtype combinations zo-bench times the Adam step in, and the bytes each one
 * moves per parameter. */
#ifndef ZO_BENCH_MODE_H
#define ZO_BENCH_MODE_H

#include <stdbool.h>
#include <stddef.h>

#include "zo/dtype.h"

typedef enum bench_mode {
    BENCH_MODE_FP32,         /* fp32 grads and moments, no weights out             */
    BENCH_MODE_MIXED,        /* fp16 grads, fp32 moments, fp16 weights out          */
    BENCH_MODE_BF16,         /* bf16 grads, fp32 moments, bf16 weights out          */
    BENCH_MODE_BF16_MOMENTS, /* bf16 grads, bf16 moments, bf16 weights out          */
    BENCH_MODE_8BIT_MOMENTS, /* fp16 grads, 8-bit moments, fp16 weights out: mixed
                                with zo.moments_dtype "8bit"                       */
    BENCH_MODE_COUNT
} bench_mode;

typedef struct bench_mode_info {
    const char *name; /* as written on the command line and in configs */
    zo_dtype grad_dtype;
    zo_dtype moments_dtype;
    bool has_weights_out;
    zo_dtype weights_out_dtype; /* meaningful only when has_weights_out */
} bench_mode_info;

const bench_mode_info *bench_mode_info_of(bench_mode mode);

/* The mode called `name`; false if there is none. */
bool bench_mode_from_name(const char *name, bench_mode *mode);

/* "fp32, mixed, bf16, bf16-moments, 8bit-moments": for error messages and --help. */
const char *bench_mode_names(void);

/* Bytes one step reads and writes per parameter: master, m and v are read and
 * written, the gradient read, the weights out written (8-bit moments: their codes). */
size_t bench_mode_bytes_moved_per_param(bench_mode mode);

/* The same for `params` parameters, with 8-bit moments' block scales (read and
 * written, 1/32 byte per parameter). */
size_t bench_mode_bytes_moved(bench_mode mode, size_t params);

/* Bytes of buffers per parameter: the step's working set. */
size_t bench_mode_footprint_per_param(bench_mode mode);

#endif
