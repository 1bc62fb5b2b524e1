/* The AVX-512 path: sixteen lanes with masked tails. Built twice: with integer
 * round-to-nearest-even for bf16 (AVX-512 F/BW/VL), and with ZO_NATIVE_BF16 for CPUs
 * with AVX512-BF16, whose vcvtneps2bf16 rounds the same way in one instruction but
 * flushes subnormal inputs to zero: those rare vectors take the integer route, so
 * both builds give the scalar path's bits. */
#include <immintrin.h>
#include <stdint.h>

#include "kernels.h"

typedef __m512 zo_vec;
#define ZO_LANES 16
#ifdef ZO_NATIVE_BF16
#define ZO_KERNEL_PREFIX(name) avx512_bf16_##name
#else
#define ZO_KERNEL_PREFIX(name) avx512_##name
#endif

static inline zo_vec zo_v_set1(float f) { return _mm512_set1_ps(f); }
static inline zo_vec zo_v_add(zo_vec a, zo_vec b) { return _mm512_add_ps(a, b); }
static inline zo_vec zo_v_sub(zo_vec a, zo_vec b) { return _mm512_sub_ps(a, b); }
static inline zo_vec zo_v_mul(zo_vec a, zo_vec b) { return _mm512_mul_ps(a, b); }
static inline zo_vec zo_v_div(zo_vec a, zo_vec b) { return _mm512_div_ps(a, b); }
static inline zo_vec zo_v_sqrt(zo_vec a) { return _mm512_sqrt_ps(a); }
static inline zo_vec zo_v_fma(zo_vec a, zo_vec b, zo_vec c) { return _mm512_fmadd_ps(a, b, c); }
static inline zo_vec zo_v_abs(zo_vec a) { return _mm512_abs_ps(a); }

static inline zo_vec zo_v_min(zo_vec a, zo_vec b) { return _mm512_min_ps(a, b); }
static inline zo_vec zo_v_max(zo_vec a, zo_vec b) { return _mm512_max_ps(a, b); }
static inline float zo_v_max_across(zo_vec x) { return _mm512_reduce_max_ps(x); }

static inline __mmask16 zo_lane_mask(size_t count)
{
    return count >= ZO_LANES ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1u);
}

typedef __m512i zo_ivec;
static inline zo_ivec zo_i_set1(uint32_t x) { return _mm512_set1_epi32((int)x); }
static inline zo_ivec zo_i_add(zo_ivec a, zo_ivec b) { return _mm512_add_epi32(a, b); }
static inline zo_ivec zo_i_sub(zo_ivec a, zo_ivec b) { return _mm512_sub_epi32(a, b); }
static inline zo_ivec zo_i_and(zo_ivec a, zo_ivec b) { return _mm512_and_si512(a, b); }
static inline zo_ivec zo_i_or(zo_ivec a, zo_ivec b) { return _mm512_or_si512(a, b); }
#define zo_i_srl(a, n) _mm512_srli_epi32((a), (n))
#define zo_i_sll(a, n) _mm512_slli_epi32((a), (n))
static inline zo_ivec zo_i_min(zo_ivec a, zo_ivec b) { return _mm512_min_epi32(a, b); }
static inline zo_ivec zo_i_max(zo_ivec a, zo_ivec b) { return _mm512_max_epi32(a, b); }
static inline zo_ivec zo_i_abs(zo_ivec a) { return _mm512_abs_epi32(a); }
/* AVX2's vpsignd has no 512-bit form: -a where b < 0, a elsewhere (kernel_body.h: a is
 * 0 where b is, so this is vpsignd's result), one compare and one masked subtract */
static inline zo_ivec zo_i_sign(zo_ivec a, zo_ivec b)
{
    __m512i zero = _mm512_setzero_si512();
    return _mm512_mask_sub_epi32(a, _mm512_cmplt_epi32_mask(b, zero), zero, a);
}
static inline zo_ivec zo_i_load_u32(const uint32_t *x) { return _mm512_loadu_si512(x); }
static inline zo_ivec zo_v_bits(zo_vec x) { return _mm512_castps_si512(x); }
static inline zo_vec zo_i_as_float(zo_ivec bits) { return _mm512_castsi512_ps(bits); }

static inline zo_ivec zo_i_load_codes(const void *codes, int kind, size_t i, size_t count)
{
    __m128i bytes = _mm_maskz_loadu_epi8(zo_lane_mask(count), (const uint8_t *)codes + i);
    return kind == ZO_DTYPE_I8 ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
}

/* Codes clamped into their range: [-127, 127] for ZO_DTYPE_I8, [0, 255] for U8. */
static inline __m128i zo_narrow_codes(int kind, zo_ivec x)
{
    if (kind == ZO_DTYPE_I8)
        return _mm512_cvtsepi32_epi8(_mm512_max_epi32(x, _mm512_set1_epi32(-127)));
    return _mm512_cvtusepi32_epi8(_mm512_max_epi32(x, _mm512_setzero_si512()));
}

static inline void zo_i_store_codes(void *codes, int kind, size_t i, size_t count, zo_ivec x)
{
    _mm_mask_storeu_epi8((uint8_t *)codes + i, zo_lane_mask(count), zo_narrow_codes(kind, x));
}

/* Sixteen floats to bf16 with integer arithmetic, half to even, NaN quieted. */
static inline __m256i zo_round_to_bf16_exact(__m512 x)
{
    __m512i bits = _mm512_castps_si512(x);
    __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lowest_kept));
    __mmask16 is_nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    __m512i quiet_nan = _mm512_or_si512(bits, _mm512_set1_epi32(0x00400000));
    __m512i chosen = _mm512_mask_blend_epi32(is_nan, rounded, quiet_nan);
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(chosen, 16));
}

static inline __m256i zo_round_to_bf16(__m512 x)
{
#ifdef ZO_NATIVE_BF16
    /* fpclass 0x20: subnormal, which vcvtneps2bf16 would flush to zero */
    if (__builtin_expect(_mm512_fpclass_ps_mask(x, 0x20) != 0, 0))
        return zo_round_to_bf16_exact(x);
    return (__m256i)_mm512_cvtneps_pbh(x);
#else
    return zo_round_to_bf16_exact(x);
#endif
}

static inline void zo_i_store_codes4(void *base, int kind, size_t i, const zo_ivec codes[4])
{
    for (int u = 0; u < 4; u++)
        _mm_storeu_si128((__m128i *)((uint8_t *)base + i + (size_t)u * ZO_LANES), zo_narrow_codes(kind, codes[u]));
}

static inline zo_vec zo_v_load(const void *base, int kind, size_t i, size_t count)
{
    __mmask16 mask = zo_lane_mask(count);
    switch (kind) {
    case ZO_DTYPE_F16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, (const uint16_t *)base + i));
    case ZO_DTYPE_BF16: {
        __m256i h = _mm256_maskz_loadu_epi16(mask, (const uint16_t *)base + i);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    default: return _mm512_maskz_loadu_ps(mask, (const float *)base + i);
    }
}

static inline void zo_v_store(void *base, int kind, size_t i, size_t count, zo_vec x)
{
    __mmask16 mask = zo_lane_mask(count);
    switch (kind) {
    case ZO_DTYPE_F16:
        _mm256_mask_storeu_epi16((uint16_t *)base + i, mask,
                                 _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        break;
    case ZO_DTYPE_BF16: _mm256_mask_storeu_epi16((uint16_t *)base + i, mask, zo_round_to_bf16(x)); break;
    default: _mm512_mask_storeu_ps((float *)base + i, mask, x); break;
    }
}

/* zo_v_store past the caches (non-temporal) for a whole vector, which is aligned to its
 * size (kernels.h: stream_weights_out); a range's tail is stored as usual. */
static inline void zo_v_stream(void *base, int kind, size_t i, size_t count, zo_vec x)
{
    if (count < ZO_LANES)
        zo_v_store(base, kind, i, count, x);
    else if (kind == ZO_DTYPE_F32)
        _mm512_stream_ps((float *)base + i, x);
    else if (kind == ZO_DTYPE_F16)
        _mm256_stream_si256((__m256i *)((uint16_t *)base + i),
                            _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    else
        _mm256_stream_si256((__m256i *)((uint16_t *)base + i), zo_round_to_bf16(x));
}

static inline double zo_sum_squares(const void *data, int kind, size_t begin, size_t end)
{
    /* low holds the canonical lanes 0..7, high 8..15; masked-off lanes load zero */
    __m512d low = _mm512_setzero_pd(), high = _mm512_setzero_pd();
    for (size_t i = begin; i < end; i += ZO_LANES) {
        __m512 x = zo_v_load(data, kind, i, end - i);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
        low = _mm512_add_pd(low, _mm512_mul_pd(lo, lo));
        high = _mm512_add_pd(high, _mm512_mul_pd(hi, hi));
    }
    double lanes[ZO_SUMSQ_LANES];
    _mm512_storeu_pd(lanes, low);
    _mm512_storeu_pd(lanes + 8, high);
    return zo_sumsq_combine_lanes(lanes);
}

/* 32 registers hold a block's update and the previous block's encoding at once: 8-bit
 * moments run the two interleaved (kernel_body.h, zo_adam_q8_blocks_interleaved) */
#define ZO_Q8_INTERLEAVE_BLOCKS
#include "kernel_body.h"

#ifdef ZO_NATIVE_BF16
const zo_adam_kernels zo_kernels_avx512_bf16 = ZO_KERNEL_TABLE;
#else
const zo_adam_kernels zo_kernels_avx512 = ZO_KERNEL_TABLE;
#endif
