/* The AVX2 + FMA + F16C path: eight lanes; fp16 through F16C, bf16 through integer
 * round-to-nearest-even. Compiled with -mavx2 -mfma -mf16c; run only after cpuid says
 * so. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "convert_scalar.h"
#include "kernels.h"

typedef __m256 zo_vec;
#define ZO_LANES 8
#define ZO_KERNEL_PREFIX(name) avx2_##name

static inline zo_vec zo_v_set1(float f) { return _mm256_set1_ps(f); }
static inline zo_vec zo_v_add(zo_vec a, zo_vec b) { return _mm256_add_ps(a, b); }
static inline zo_vec zo_v_sub(zo_vec a, zo_vec b) { return _mm256_sub_ps(a, b); }
static inline zo_vec zo_v_mul(zo_vec a, zo_vec b) { return _mm256_mul_ps(a, b); }
static inline zo_vec zo_v_div(zo_vec a, zo_vec b) { return _mm256_div_ps(a, b); }
static inline zo_vec zo_v_sqrt(zo_vec a) { return _mm256_sqrt_ps(a); }
static inline zo_vec zo_v_fma(zo_vec a, zo_vec b, zo_vec c) { return _mm256_fmadd_ps(a, b, c); }
static inline zo_vec zo_v_abs(zo_vec a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }

static inline zo_vec zo_v_min(zo_vec a, zo_vec b) { return _mm256_min_ps(a, b); }
static inline zo_vec zo_v_max(zo_vec a, zo_vec b) { return _mm256_max_ps(a, b); }
static inline float zo_v_max_across(zo_vec x)
{
    __m128 half = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    __m128 quarter = _mm_max_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_max_ss(quarter, _mm_movehdup_ps(quarter)));
}

typedef __m256i zo_ivec;
static inline zo_ivec zo_i_set1(uint32_t x) { return _mm256_set1_epi32((int)x); }
static inline zo_ivec zo_i_add(zo_ivec a, zo_ivec b) { return _mm256_add_epi32(a, b); }
static inline zo_ivec zo_i_sub(zo_ivec a, zo_ivec b) { return _mm256_sub_epi32(a, b); }
static inline zo_ivec zo_i_and(zo_ivec a, zo_ivec b) { return _mm256_and_si256(a, b); }
static inline zo_ivec zo_i_or(zo_ivec a, zo_ivec b) { return _mm256_or_si256(a, b); }
#define zo_i_srl(a, n) _mm256_srli_epi32((a), (n))
#define zo_i_sll(a, n) _mm256_slli_epi32((a), (n))
static inline zo_ivec zo_i_min(zo_ivec a, zo_ivec b) { return _mm256_min_epi32(a, b); }
static inline zo_ivec zo_i_max(zo_ivec a, zo_ivec b) { return _mm256_max_epi32(a, b); }
static inline zo_ivec zo_i_abs(zo_ivec a) { return _mm256_abs_epi32(a); }
static inline zo_ivec zo_i_sign(zo_ivec a, zo_ivec b) { return _mm256_sign_epi32(a, b); }
static inline zo_ivec zo_i_load_u32(const uint32_t *x) { return _mm256_loadu_si256((const __m256i *)x); }
static inline zo_ivec zo_v_bits(zo_vec x) { return _mm256_castps_si256(x); }
static inline zo_vec zo_i_as_float(zo_ivec bits) { return _mm256_castsi256_ps(bits); }

static inline zo_ivec zo_i_load_codes(const void *codes, int kind, size_t i, size_t count)
{
    uint8_t staged[16] = {0};
    const uint8_t *from = (const uint8_t *)codes + i;
    if (count < ZO_LANES) {
        memcpy(staged, from, count);
        from = staged;
    }
    __m128i bytes = _mm_loadl_epi64((const __m128i *)from);
    return kind == ZO_DTYPE_I8 ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
}

/* Codes clamped into their range, [-127, 127] for ZO_DTYPE_I8 and [0, 255] for U8, by
 * the saturating packs (and a max for -128), four whole vectors to 32 bytes at base[i].
 * The packs work within 128-bit halves, leaving the four-byte groups in the order
 * a0 b0 c0 d0 a1 b1 c1 d1 (x0: lanes 0-3 of x), which one permute puts back. */
static inline __m256i zo_pack_codes(int kind, __m256i a, __m256i b, __m256i c, __m256i d)
{
    if (kind == ZO_DTYPE_I8) {
        __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
        return _mm256_max_epi8(bytes, _mm256_set1_epi8(-127));
    }
    return _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
}

static inline void zo_i_store_codes4(void *base, int kind, size_t i, const zo_ivec codes[4])
{
    __m256i bytes = zo_pack_codes(kind, codes[0], codes[1], codes[2], codes[3]);
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)((uint8_t *)base + i), bytes);
}

/* One vector's codes, clamped the same way, to `count` bytes at base[i]. */
static inline void zo_i_store_codes(void *base, int kind, size_t i, size_t count, zo_ivec x)
{
    __m256i zero = _mm256_setzero_si256();
    /* bytes 0-3 and 16-19 hold lanes 0-3 and 4-7 */
    __m256i bytes = zo_pack_codes(kind, x, zero, zero, zero);
    __m128i low = _mm_unpacklo_epi32(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1));
    if (count == ZO_LANES) {
        _mm_storel_epi64((__m128i *)((uint8_t *)base + i), low);
    } else {
        uint8_t staged[16];
        _mm_storeu_si128((__m128i *)staged, low);
        memcpy((uint8_t *)base + i, staged, count);
    }
}

/* Eight floats to eight bf16, half to even; NaN is quieted like the scalar path. */
static inline __m128i zo_round_to_bf16(__m256 x)
{
    __m256i bits = _mm256_castps_si256(x);
    __m256i lowest_kept = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_add_epi32(bits, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lowest_kept));
    __m256i quiet_nan = _mm256_or_si256(bits, _mm256_set1_epi32(0x00400000));
    __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    __m256i high = _mm256_srli_epi32(_mm256_blendv_epi8(rounded, quiet_nan, is_nan), 16);
    /* pack 32 -> 16 bits (within 128-bit halves), then bring the halves together */
    __m256i packed = _mm256_packus_epi32(high, high);
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

static inline __m256 zo_widen_bf16x8(__m128i h)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static inline zo_vec zo_v_load(const void *base, int kind, size_t i, size_t count)
{
    if (count < ZO_LANES) { /* a range's tail: stage it through a zeroed buffer */
        uint16_t staged16[ZO_LANES] = {0};
        float staged32[ZO_LANES] = {0};
        if (kind == ZO_DTYPE_F32) {
            memcpy(staged32, (const float *)base + i, count * sizeof(float));
            return _mm256_loadu_ps(staged32);
        }
        memcpy(staged16, (const uint16_t *)base + i, count * sizeof(uint16_t));
        __m128i h = _mm_loadu_si128((const __m128i *)staged16);
        return kind == ZO_DTYPE_F16 ? _mm256_cvtph_ps(h) : zo_widen_bf16x8(h);
    }
    switch (kind) {
    case ZO_DTYPE_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + i)));
    case ZO_DTYPE_BF16:
        return zo_widen_bf16x8(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + i)));
    default: return _mm256_loadu_ps((const float *)base + i);
    }
}

static inline __m128i zo_narrow_to_16_bits(int kind, zo_vec x)
{
    return kind == ZO_DTYPE_F16 ? _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                                : zo_round_to_bf16(x);
}

static inline void zo_v_store(void *base, int kind, size_t i, size_t count, zo_vec x)
{
    if (kind == ZO_DTYPE_F32) {
        if (count == ZO_LANES) {
            _mm256_storeu_ps((float *)base + i, x);
        } else {
            float staged[ZO_LANES];
            _mm256_storeu_ps(staged, x);
            memcpy((float *)base + i, staged, count * sizeof(float));
        }
        return;
    }
    __m128i h = zo_narrow_to_16_bits(kind, x);
    if (count == ZO_LANES) {
        _mm_storeu_si128((__m128i *)((uint16_t *)base + i), h);
    } else {
        uint16_t staged[ZO_LANES];
        _mm_storeu_si128((__m128i *)staged, h);
        memcpy((uint16_t *)base + i, staged, count * sizeof(uint16_t));
    }
}

/* zo_v_store past the caches (non-temporal) for a whole vector, which is aligned to its
 * size (kernels.h: stream_weights_out); a range's tail is stored as usual. */
static inline void zo_v_stream(void *base, int kind, size_t i, size_t count, zo_vec x)
{
    if (count < ZO_LANES)
        zo_v_store(base, kind, i, count, x);
    else if (kind == ZO_DTYPE_F32)
        _mm256_stream_ps((float *)base + i, x);
    else
        _mm_stream_si128((__m128i *)((uint16_t *)base + i), zo_narrow_to_16_bits(kind, x));
}

/* Squares of eight floats, widened to double, added into two four-lane accumulators. */
static inline void zo_accumulate_squares(__m256d *low, __m256d *high, __m256 x)
{
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    *low = _mm256_add_pd(*low, _mm256_mul_pd(lo, lo));
    *high = _mm256_add_pd(*high, _mm256_mul_pd(hi, hi));
}

static inline double zo_sum_squares(const void *data, int kind, size_t begin, size_t end)
{
    /* acc[k] holds lanes 4k..4k+3 of the canonical sixteen */
    __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                      _mm256_setzero_pd()};
    for (size_t i = begin; i < end; i += 2 * ZO_LANES) {
        size_t left = end - i;
        size_t first = left < ZO_LANES ? left : ZO_LANES;
        zo_accumulate_squares(&acc[0], &acc[1], zo_v_load(data, kind, i, first));
        if (left > ZO_LANES) {
            size_t second = left - ZO_LANES < ZO_LANES ? left - ZO_LANES : ZO_LANES;
            zo_accumulate_squares(&acc[2], &acc[3], zo_v_load(data, kind, i + ZO_LANES, second));
        }
    }
    double lanes[ZO_SUMSQ_LANES];
    for (int k = 0; k < 4; k++)
        _mm256_storeu_pd(lanes + 4 * k, acc[k]);
    return zo_sumsq_combine_lanes(lanes);
}

#include "kernel_body.h"

const zo_adam_kernels zo_kernels_avx2 = ZO_KERNEL_TABLE;
