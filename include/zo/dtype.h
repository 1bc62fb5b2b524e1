/* Element types zo moves and converts, and exact scalar conversions between them.
 * Guide: docs/cpu_adam.md (rounding). */
#ifndef ZO_DTYPE_H
#define ZO_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "zo/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum zo_dtype {
    ZO_DTYPE_F32 = 0, /* IEEE binary32                                   */
    ZO_DTYPE_F16 = 1, /* IEEE binary16 (CUDA __half)                     */
    ZO_DTYPE_BF16 = 2, /* bfloat16: the top 16 bits of a binary32 (__nv_bfloat16) */
    ZO_DTYPE_I8 = 3,  /* int8 and uint8: the codes of 8-bit moments as stored (a    */
    ZO_DTYPE_U8 = 4,  /* checkpoint's tensors); zo computes nothing in them         */
    ZO_DTYPE_Q8 = 5   /* "8bit": Adam moments only, int8 / uint8 codes with an fp32
                         scale per block (zo/adam.h, ZO_Q8_BLOCK_ELEMS)             */
} zo_dtype;

/* Bytes per element (1 for the 8-bit kinds: a code; ZO_DTYPE_Q8's block scales come
 * on top, see zo_moments_bytes in zo/adam.h), or 0 for a value that is not a zo_dtype. */
ZO_API size_t zo_dtype_size(zo_dtype dtype);

/* "f32", "f16", "bf16", "i8", "u8", "8bit", or "invalid". */
ZO_API const char *zo_dtype_name(zo_dtype dtype);

/* Conversions with round-to-nearest-even, as the GPU does (__float2half_rn,
 * __float2bfloat16_rn): overflow gives inf, subnormals are kept, a NaN stays a NaN
 * with its sign and top payload bits, quieted. Widening is exact (an fp16 NaN is
 * quieted, as x86's F16C does; a bf16 one keeps its bits). */
ZO_API uint16_t zo_f32_to_f16(float value);
ZO_API uint16_t zo_f32_to_bf16(float value);
ZO_API float zo_f16_to_f32(uint16_t bits);
ZO_API float zo_bf16_to_f32(uint16_t bits);

#ifdef __cplusplus
}
#endif

#endif
