/* The table of benchmark modes and the byte counts derived from their dtypes. */
#include "bench_mode.h"

#include <string.h>

#include "zo/adam.h"

static const bench_mode_info bench_modes[BENCH_MODE_COUNT] = {
    [BENCH_MODE_FP32] = {"fp32", ZO_DTYPE_F32, ZO_DTYPE_F32, false, ZO_DTYPE_F32},
    [BENCH_MODE_MIXED] = {"mixed", ZO_DTYPE_F16, ZO_DTYPE_F32, true, ZO_DTYPE_F16},
    [BENCH_MODE_BF16] = {"bf16", ZO_DTYPE_BF16, ZO_DTYPE_F32, true, ZO_DTYPE_BF16},
    [BENCH_MODE_BF16_MOMENTS] = {"bf16-moments", ZO_DTYPE_BF16, ZO_DTYPE_BF16, true, ZO_DTYPE_BF16},
    [BENCH_MODE_8BIT_MOMENTS] = {"8bit-moments", ZO_DTYPE_F16, ZO_DTYPE_Q8, true, ZO_DTYPE_F16},
};

const bench_mode_info *bench_mode_info_of(bench_mode mode) { return &bench_modes[mode]; }

bool bench_mode_from_name(const char *name, bench_mode *mode)
{
    for (int k = 0; k < BENCH_MODE_COUNT; k++)
        if (strcmp(name, bench_modes[k].name) == 0) {
            *mode = (bench_mode)k;
            return true;
        }
    return false;
}

const char *bench_mode_names(void) { return "fp32, mixed, bf16, bf16-moments, 8bit-moments"; }

static size_t bench_weights_out_size(const bench_mode_info *info)
{
    return info->has_weights_out ? zo_dtype_size(info->weights_out_dtype) : 0;
}

size_t bench_mode_bytes_moved_per_param(bench_mode mode)
{
    const bench_mode_info *info = bench_mode_info_of(mode);
    size_t state = sizeof(float) + 2 * zo_dtype_size(info->moments_dtype);
    return 2 * state + zo_dtype_size(info->grad_dtype) + bench_weights_out_size(info);
}

size_t bench_mode_bytes_moved(bench_mode mode, size_t params)
{
    const bench_mode_info *info = bench_mode_info_of(mode);
    size_t scales = info->moments_dtype == ZO_DTYPE_Q8 ? 2 * 2 * sizeof(float) * zo_q8_block_count(params) : 0;
    return params * bench_mode_bytes_moved_per_param(mode) + scales;
}

size_t bench_mode_footprint_per_param(bench_mode mode)
{
    const bench_mode_info *info = bench_mode_info_of(mode);
    return sizeof(float) + 2 * zo_dtype_size(info->moments_dtype) +
           zo_dtype_size(info->grad_dtype) + bench_weights_out_size(info);
}
