/* The public dtype helpers: sizes, names and exact scalar conversions. */
#include "zo/dtype.h"

#include "convert_scalar.h"

size_t zo_dtype_size(zo_dtype dtype)
{
    switch (dtype) {
    case ZO_DTYPE_F32: return 4;
    case ZO_DTYPE_F16: return 2;
    case ZO_DTYPE_BF16: return 2;
    case ZO_DTYPE_I8:
    case ZO_DTYPE_U8:
    case ZO_DTYPE_Q8: return 1;
    }
    return 0;
}

const char *zo_dtype_name(zo_dtype dtype)
{
    switch (dtype) {
    case ZO_DTYPE_F32: return "f32";
    case ZO_DTYPE_F16: return "f16";
    case ZO_DTYPE_BF16: return "bf16";
    case ZO_DTYPE_I8: return "i8";
    case ZO_DTYPE_U8: return "u8";
    case ZO_DTYPE_Q8: return "8bit";
    }
    return "invalid";
}

uint16_t zo_f32_to_f16(float value) { return zo_round_f32_to_f16(value); }
uint16_t zo_f32_to_bf16(float value) { return zo_round_f32_to_bf16(value); }
float zo_f16_to_f32(uint16_t bits) { return zo_widen_f16(bits); }
float zo_bf16_to_f32(uint16_t bits) { return zo_widen_bf16(bits); }
