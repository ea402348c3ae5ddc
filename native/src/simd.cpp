#include "simd.hpp"

#include <cstdlib>

#if REUSEVOS_X86_DISPATCH
#include <immintrin.h>
#endif
#if REUSEVOS_NEON
#include <arm_neon.h>
#endif

namespace reusevos::detail {

#if REUSEVOS_X86_DISPATCH
bool use_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          std::getenv("REUSEVOS_NO_SIMD") == nullptr;
  return yes;
}

// h[x] = s[i0[x]] * w0[x] + s[i1[x]] * w1[x] (two roundings, as the plain loop) for whole blocks of 8 from
// begin (a multiple of 8) up to end: a block whose taps lie in the 8 values from base[x / 8] (>= 0; an upscale's
// blocks do) takes them by two permutes of one load (rel0, rel1: tap offsets from the base), any other by
// gathers. Returns the first x it left.
__attribute__((target("avx2"))) int blend_taps_avx2(const float* s, const int* base, const int* rel0, const int* rel1,
                                                    const int* i0, const int* i1, const float* w0, const float* w1,
                                                    int begin, int end, float* h) {
  int x = begin;
  for (; x + 8 <= end; x += 8) {
    __m256 a, b;
    if (base[x / 8] >= 0) {
      const __m256 v = _mm256_loadu_ps(s + base[x / 8]);
      a = _mm256_permutevar8x32_ps(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rel0 + x)));
      b = _mm256_permutevar8x32_ps(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rel1 + x)));
    } else {
      a = _mm256_i32gather_ps(s, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(i0 + x)), 4);
      b = _mm256_i32gather_ps(s, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(i1 + x)), 4);
    }
    _mm256_storeu_ps(h + x, _mm256_add_ps(_mm256_mul_ps(a, _mm256_loadu_ps(w0 + x)), _mm256_mul_ps(b, _mm256_loadu_ps(w1 + x))));
  }
  return x;
}

// frame_to_input's horizontal pass for whole blocks of 16 outputs in [0, safe): per channel c, each tap's
// byte is the low byte of a word gathered at off + c, the two taps are paired as int16 and multiplied by
// (a0, a1) (`pairs`) in one multiply-add, then >> 4. Returns the first x it left.
__attribute__((target("avx2"))) int frame_taps_avx2(const uint8_t* s, const int32_t* off0, const int32_t* off1,
                                                    const int32_t* pairs, int safe, int16_t* const planes[3]) {
  const __m256i low = _mm256_set1_epi32(0xFF);
  int start = 0;
  for (; start + 16 <= safe; start += 16)
    for (int c = 0; c < 3; ++c) {
      __m256i d[2];
      for (int k = 0; k < 2; ++k) {
        const int x = start + 8 * k;
        const __m256i i0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off0 + x));
        const __m256i i1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off1 + x));
        const int* base = reinterpret_cast<const int*>(s + c);
        const __m256i lo = _mm256_and_si256(_mm256_i32gather_epi32(base, i0, 1), low);
        const __m256i hi = _mm256_and_si256(_mm256_i32gather_epi32(base, i1, 1), low);
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pairs + x));
        d[k] = _mm256_srai_epi32(_mm256_madd_epi16(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 16)), w), 4);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(planes[c] + start),
                          _mm256_permute4x64_epi64(_mm256_packs_epi32(d[0], d[1]), 0xD8));
    }
  return start;
}

// Byte-shuffle masks that pick channel c of 16 interleaved CN-byte pixels out of their CN 16-byte registers:
// mask[c][r][j] is the index in register r of pixel j's channel c, or 0x80 (zero) where another register holds it.
template <int CN>
struct SplitMasks {
  uint8_t mask[3][CN][16];
  SplitMasks() {
    for (int c = 0; c < 3; ++c)
      for (int r = 0; r < CN; ++r)
        for (int j = 0; j < 16; ++j) {
          const int g = CN * j + c;
          mask[c][r][j] = g / 16 == r ? static_cast<uint8_t>(g % 16) : 0x80;
        }
  }
};

// One interleaved row of `n` pixels (CN bytes each) -> its first three channels as byte planes, 32 pixels per
// step (one 16-pixel group per 128-bit lane, CN shuffles per channel); returns the first pixel it left.
template <int CN>
__attribute__((target("avx2"))) int split_avx2(const uint8_t* s, int n, uint8_t* const planes[3]) {
  static const SplitMasks<CN> table;
  __m256i m[3][CN];
  for (int c = 0; c < 3; ++c)
    for (int r = 0; r < CN; ++r)
      m[c][r] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table.mask[c][r])));
  int x = 0;
  for (; x + 32 <= n; x += 32) {
    const uint8_t* p = s + static_cast<size_t>(x) * CN;
    __m256i reg[CN];
    for (int r = 0; r < CN; ++r)
      reg[r] = _mm256_inserti128_si256(
          _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * r))),
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * (CN + r))), 1);
    for (int c = 0; c < 3; ++c) {
      __m256i acc = _mm256_shuffle_epi8(reg[0], m[c][0]);
      for (int r = 1; r < CN; ++r) acc = _mm256_or_si256(acc, _mm256_shuffle_epi8(reg[r], m[c][r]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(planes[c] + x), acc);
    }
  }
  return x;
}

// frame_to_input's horizontal pass on one byte plane, 16 outputs (two blocks of 8) per step, without gathers:
// a block's taps lie in 16 bytes from base[block], so one byte shuffle per 4 outputs pairs each output's two
// taps as int16 (`masks`: 64 bytes per step), one multiply-add applies (a0, a1) (`pairs`, in the same order),
// then >> 4. The same integers as frame_taps_avx2 and the plain loop. Returns the first output it left.
__attribute__((target("avx2"))) int plane_taps_avx2(const uint8_t* p, const int32_t* base, const uint8_t* masks,
                                                    const int32_t* pairs, int steps, int16_t* out) {
  for (int k = 0; k < steps; ++k) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + base[2 * k]));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + base[2 * k + 1]));
    const __m256i src = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
    const __m256i* m = reinterpret_cast<const __m256i*>(masks + 64 * static_cast<size_t>(k));
    const __m256i* w = reinterpret_cast<const __m256i*>(pairs + 16 * static_cast<size_t>(k));
    const __m256i lo = _mm256_srai_epi32(_mm256_madd_epi16(_mm256_shuffle_epi8(src, _mm256_loadu_si256(m)), _mm256_loadu_si256(w)), 4);
    const __m256i hi = _mm256_srai_epi32(_mm256_madd_epi16(_mm256_shuffle_epi8(src, _mm256_loadu_si256(m + 1)), _mm256_loadu_si256(w + 1)), 4);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16 * k), _mm256_packs_epi32(lo, hi));
  }
  return 16 * steps;
}

int split_channels_avx2(const uint8_t* s, int n, int cn, uint8_t* const planes[3]) {
  return cn == 3 ? split_avx2<3>(s, n, planes) : split_avx2<4>(s, n, planes);
}

// sigmoid_loop's arithmetic, 8 values per step, with fused multiply-adds (AVX2 CPUs have FMA): 1 / (1 + exp(-x))
// then differs from the plain loop's by a rounding or two, within the selftest's 1e-6 (relative) of the exact one.
__attribute__((target("avx2,fma"))) void sigmoid_avx2(float* v, size_t n) {
  const __m256 lo = _mm256_set1_ps(-60.0f), hi = _mm256_set1_ps(60.0f), log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 magic = _mm256_set1_ps(12582912.0f), c1 = _mm256_set1_ps(0.693359375f), c2 = _mm256_set1_ps(2.12194440e-4f);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 p0 = _mm256_set1_ps(1.9875691500e-4f), p1 = _mm256_set1_ps(1.3981999507e-3f),
               p2 = _mm256_set1_ps(8.3334519073e-3f), p3 = _mm256_set1_ps(4.1665795894e-2f),
               p4 = _mm256_set1_ps(1.6666665459e-1f), p5 = _mm256_set1_ps(5.0000001201e-1f);
  const __m256i bias = _mm256_set1_epi32(127 - 0x4B400000);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    // x = -clip(v, -60, 60); t's low mantissa bits hold k = round(x / ln 2); r = x - k ln 2 in two parts
    const __m256 x = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_min_ps(_mm256_max_ps(_mm256_loadu_ps(v + i), lo), hi));
    const __m256 t = _mm256_fmadd_ps(x, log2e, magic);
    const __m256 kf = _mm256_sub_ps(t, magic);
    const __m256 r = _mm256_fmadd_ps(kf, c2, _mm256_fnmadd_ps(kf, c1, x));
    __m256 y = _mm256_fmadd_ps(p0, r, p1);
    y = _mm256_fmadd_ps(y, r, p2);
    y = _mm256_fmadd_ps(y, r, p3);
    y = _mm256_fmadd_ps(y, r, p4);
    y = _mm256_fmadd_ps(y, r, p5);
    y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(y, r), r, r), one);  // exp(r)
    const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t), bias), 23));
    _mm256_storeu_ps(v + i, _mm256_div_ps(one, _mm256_fmadd_ps(y, scale, one)));
  }
  sigmoid_loop(v + i, n - i);
}

// blend_value for the 16 values from d0 and d1, as int16 lanes: (w * d) >> 16 is the high half of the int16
// product (mulhi), and the sum of the two halves plus 2 stays within int16 (each half is at most 1020).
__attribute__((target("avx2"))) inline __m256i blend16_avx2(const int16_t* d0, const int16_t* d1, __m256i w0,
                                                            __m256i w1) {
  const __m256i h0 = _mm256_mulhi_epi16(w0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d0)));
  const __m256i h1 = _mm256_mulhi_epi16(w1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d1)));
  return _mm256_srai_epi16(_mm256_add_epi16(_mm256_add_epi16(h0, h1), _mm256_set1_epi16(2)), 2);
}

// blend_rows, 16 outputs per step.
__attribute__((target("avx2"))) void blend_rows_avx2(const int16_t* d0, const int16_t* d1, int16_t w0, int16_t w1,
                                                     float k, float* o, int width) {
  const __m256i a0 = _mm256_set1_epi16(w0), a1 = _mm256_set1_epi16(w1);
  const __m256 scale = _mm256_set1_ps(k);
  int x = 0;
  for (; x + 16 <= width; x += 16) {
    const __m256i v = blend16_avx2(d0 + x, d1 + x, a0, a1);
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
    _mm256_storeu_ps(o + x, _mm256_mul_ps(lo, scale));
    _mm256_storeu_ps(o + x + 8, _mm256_mul_ps(hi, scale));
  }
  blend_rows(d0 + x, d1 + x, w0, w1, k, o + x, width - x);
}

// blend_rows_codes, 16 outputs per step: the 16 blended values (0..255) packed to bytes, top bit flipped.
__attribute__((target("avx2"))) void blend_rows_codes_avx2(const int16_t* d0, const int16_t* d1, int16_t w0,
                                                           int16_t w1, int8_t* o, int width) {
  const __m256i a0 = _mm256_set1_epi16(w0), a1 = _mm256_set1_epi16(w1);
  const __m128i flip = _mm_set1_epi8(static_cast<char>(0x80));
  int x = 0;
  for (; x + 16 <= width; x += 16) {
    const __m256i v = blend16_avx2(d0 + x, d1 + x, a0, a1);
    const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + x), _mm_xor_si128(bytes, flip));
  }
  blend_rows_codes(d0 + x, d1 + x, w0, w1, o + x, width - x);
}
#endif  // REUSEVOS_X86_DISPATCH

#if REUSEVOS_NEON
bool use_neon() {
  static const bool yes = std::getenv("REUSEVOS_NO_SIMD") == nullptr;
  return yes;
}

// One interleaved row of `n` pixels (CN bytes each) -> its first three channels as byte planes, 16 pixels per
// step (NEON's de-interleaving loads); returns the first pixel it left.
template <int CN>
int split_neon(const uint8_t* s, int n, uint8_t* const planes[3]) {
  int x = 0;
  for (; x + 16 <= n; x += 16) {
    const uint8_t* p = s + static_cast<size_t>(x) * CN;
    if constexpr (CN == 3) {
      const uint8x16x3_t v = vld3q_u8(p);
      vst1q_u8(planes[0] + x, v.val[0]), vst1q_u8(planes[1] + x, v.val[1]), vst1q_u8(planes[2] + x, v.val[2]);
    } else {
      const uint8x16x4_t v = vld4q_u8(p);
      vst1q_u8(planes[0] + x, v.val[0]), vst1q_u8(planes[1] + x, v.val[1]), vst1q_u8(planes[2] + x, v.val[2]);
    }
  }
  return x;
}

// frame_to_input's horizontal pass on one byte plane, 8 outputs per block: the block's taps lie in the 16 bytes
// from base[block]; two table lookups (rel0, rel1: each output's tap offsets) fetch them, widened to int16 and
// multiplied by (a0, a1) in int32, then >> 4: the plain loop's integers. Returns the first output it left.
int plane_taps_neon(const uint8_t* p, const int32_t* base, const uint8_t* rel0, const uint8_t* rel1,
                    const int16_t* a0, const int16_t* a1, int blocks, int16_t* out) {
  for (int b = 0; b < blocks; ++b) {
    const uint8x16_t t = vld1q_u8(p + base[b]);
    const int16x8_t s0 = vreinterpretq_s16_u16(vmovl_u8(vqtbl1_u8(t, vld1_u8(rel0 + 8 * b))));
    const int16x8_t s1 = vreinterpretq_s16_u16(vmovl_u8(vqtbl1_u8(t, vld1_u8(rel1 + 8 * b))));
    const int16x8_t w0 = vld1q_s16(a0 + 8 * b), w1 = vld1q_s16(a1 + 8 * b);
    const int32x4_t lo = vmlal_s16(vmull_s16(vget_low_s16(s0), vget_low_s16(w0)), vget_low_s16(s1), vget_low_s16(w1));
    const int32x4_t hi = vmlal_high_s16(vmull_high_s16(s0, w0), s1, w1);
    vst1q_s16(out + 8 * b, vcombine_s16(vshrn_n_s32(lo, 4), vshrn_n_s32(hi, 4)));
  }
  return 8 * blocks;
}

int split_channels_neon(const uint8_t* s, int n, int cn, uint8_t* const planes[3]) {
  return cn == 3 ? split_neon<3>(s, n, planes) : split_neon<4>(s, n, planes);
}
#endif  // REUSEVOS_NEON

}  // namespace reusevos::detail
