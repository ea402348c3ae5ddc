#include "reusevos/image_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define REUSEVOS_X86_DISPATCH 1
#include <immintrin.h>
#else
#define REUSEVOS_X86_DISPATCH 0
#endif

// arm64 (phones): NEON is always there; the frame conversion's horizontal pass uses table lookups.
#if defined(__aarch64__) && defined(__ARM_NEON)
#define REUSEVOS_NEON 1
#include <arm_neon.h>
#else
#define REUSEVOS_NEON 0
#endif

// A per-pixel loop written once: inlined into its plain caller and, on x86-64, into a copy compiled for
// AVX2 (the same IEEE operations, so the same values, in wider vectors).
#if defined(__GNUC__) || defined(__clang__)
#define REUSEVOS_LOOP __attribute__((always_inline)) inline
#else
#define REUSEVOS_LOOP inline
#endif

#include "reusevos/error.hpp"

namespace reusevos {
namespace {

#if REUSEVOS_X86_DISPATCH
// The gather loops below, and AVX2 copies of the widest plain loops, are compiled for AVX2 whatever -march
// says and called only where the CPU has it (asked once at run time), so a portable x86-64 build runs
// them. REUSEVOS_NO_SIMD=1 in the environment keeps the plain loops (the tests compare both).
bool use_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && std::getenv("REUSEVOS_NO_SIMD") == nullptr;
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
__attribute__((target("avx2"))) int split_channels_avx2(const uint8_t* s, int n, uint8_t* const planes[3]) {
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
#endif

#if REUSEVOS_NEON
// REUSEVOS_NO_SIMD=1 keeps the plain loops here too (the tests compare both, under qemu).
bool use_neon() {
  static const bool yes = std::getenv("REUSEVOS_NO_SIMD") == nullptr;
  return yes;
}

// One interleaved row of `n` pixels (CN bytes each) -> its first three channels as byte planes, 16 pixels per
// step (NEON's de-interleaving loads); returns the first pixel it left.
template <int CN>
int split_channels_neon(const uint8_t* s, int n, uint8_t* const planes[3]) {
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
#endif

// Source taps and weights of one output coordinate along one axis; per block of 8 outputs, the first of 8
// consecutive source values that hold all its taps (-1 where they spread wider) and each tap's offset from it.
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> w0, w1;
  std::vector<int> base, rel0, rel1;
};

// OpenCV's INTER_LINEAR coefficients (resize.cpp): fx = (dx + 0.5) * scale - 0.5 in float, clamped at the borders.
Taps linear_taps(int n_in, int n_out, bool area_upscale = false) {
  Taps t;
  double inv = static_cast<double>(n_out) / n_in, scale = 1.0 / inv;
  for (int dx = 0; dx < n_out; ++dx) {
    int sx;
    float fx;
    if (area_upscale) {
      sx = static_cast<int>(std::floor(dx * scale));
      fx = static_cast<float>((dx + 1) - (sx + 1) * inv);
      fx = fx <= 0 ? 0.f : fx - std::floor(fx);
    } else {
      fx = static_cast<float>((dx + 0.5) * scale - 0.5);
      sx = static_cast<int>(std::floor(fx));
      fx -= static_cast<float>(sx);
    }
    if (sx < 0) fx = 0, sx = 0;
    if (sx >= n_in - 1) fx = 0, sx = n_in - 1;
    t.i0.push_back(sx);
    t.i1.push_back(std::min(sx + 1, n_in - 1));
    t.w0.push_back(1.f - fx);
    t.w1.push_back(fx);
  }
  t.base.assign(n_out / 8, -1);
  t.rel0.assign(n_out, 0);
  t.rel1.assign(n_out, 0);
  for (int b = 0; b < n_out / 8; ++b) {
    const int lo = t.i0[8 * b];
    if (t.i1[8 * b + 7] - lo > 7 || lo + 8 > n_in) continue;
    t.base[b] = lo;
    for (int x = 8 * b; x < 8 * b + 8; ++x) t.rel0[x] = t.i0[x] - lo, t.rel1[x] = t.i1[x] - lo;
  }
  return t;
}

// OpenCV's INTER_AREA decimation table (computeResizeAreaTab): per output index, (source index, weight).
std::vector<std::vector<std::pair<int, float>>> area_taps(int n_in, int n_out) {
  std::vector<std::vector<std::pair<int, float>>> tab(n_out);
  double scale = 1.0 / (static_cast<double>(n_out) / n_in);
  for (int dx = 0; dx < n_out; ++dx) {
    double fsx1 = dx * scale, fsx2 = fsx1 + scale;
    double cell = std::min(scale, n_in - fsx1);
    int sx1 = static_cast<int>(std::ceil(fsx1)), sx2 = static_cast<int>(std::floor(fsx2));
    sx2 = std::min(sx2, n_in - 1);
    sx1 = std::min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) tab[dx].emplace_back(sx1 - 1, static_cast<float>((sx1 - fsx1) / cell));
    for (int sx = sx1; sx < sx2; ++sx) tab[dx].emplace_back(sx, static_cast<float>(1.0 / cell));
    if (fsx2 - sx2 > 1e-3)
      tab[dx].emplace_back(sx2, static_cast<float>(std::min(std::min(fsx2 - sx2, 1.0), cell) / cell));
  }
  return tab;
}

int16_t fixed(float w) { return static_cast<int16_t>(std::lrint(w * 2048.0f)); }

// A float resize's horizontal pass over one source row: h[x] = s[i0[x]] * w0[x] + s[i1[x]] * w1[x] on
// [begin, end) (two roundings on every path, so the AVX2 gathers give the same values).
void horizontal_pass(const float* s, const Taps& tx, int begin, int end, float* h) {
  const int* i0 = tx.i0.data();
  const int* i1 = tx.i1.data();
  const float* w0 = tx.w0.data();
  const float* w1 = tx.w1.data();
  int x = begin;
#if REUSEVOS_X86_DISPATCH
  if (use_avx2()) {
    for (; x < end && x % 8 != 0; ++x) h[x] = s[i0[x]] * w0[x] + s[i1[x]] * w1[x];
    x = blend_taps_avx2(s, tx.base.data(), tx.rel0.data(), tx.rel1.data(), i0, i1, w0, w1, x, end, h);
  }
#endif
  for (; x < end; ++x) h[x] = s[i0[x]] * w0[x] + s[i1[x]] * w1[x];
}

// Its vertical pass for destination row y: out[x] = r0[x] * w0[y] + r1[x] * w1[y] on [begin, end).
void vertical_pass(const float* r0, const float* r1, const Taps& ty, int y, int begin, int end, float* out) {
  const float v0 = ty.w0[y], v1 = ty.w1[y];
  for (int x = begin; x < end; ++x) out[x] = r0[x] * v0 + r1[x] * v1;
}

std::vector<float> linear_float(const float* src, int sh, int sw, int dh, int dw, bool area_upscale) {
  Taps tx = linear_taps(sw, dw, area_upscale), ty = linear_taps(sh, dh, area_upscale);
  std::vector<float> rows(static_cast<size_t>(sh) * dw), out(static_cast<size_t>(dh) * dw);
  for (int y = 0; y < sh; ++y)
    horizontal_pass(src + static_cast<size_t>(y) * sw, tx, 0, dw, rows.data() + static_cast<size_t>(y) * dw);
  for (int y = 0; y < dh; ++y)
    vertical_pass(rows.data() + static_cast<size_t>(ty.i0[y]) * dw, rows.data() + static_cast<size_t>(ty.i1[y]) * dw,
                  ty, y, 0, dw, out.data() + static_cast<size_t>(y) * dw);
  return out;
}

// One plane of fuse_to_frame: resize_linear's taps to the frame and, per source row, the span of columns
// whose value exceeds 0.5 - kMargin. A frame pixel none of whose four taps lies in such a span is a bilinear
// blend of values <= 0.5 - kMargin, so it is <= 0.5 whatever the rounding: no object there.
class FusePlane {
 public:
  static constexpr float kMargin = 1e-3f;

  // At equal sizes linear_taps gives i0 = x with weight 1 (i1 = x + 1 with weight 0: spans one column wider).
  FusePlane(const float* src, int src_h, int src_w, int dst_h, int dst_w)
      : src_(src), src_h_(src_h), src_w_(src_w), same_(src_h == dst_h && src_w == dst_w),
        tx_(linear_taps(src_w, dst_w)), ty_(linear_taps(src_h, dst_h)) {
    slots_.resize(2 * static_cast<size_t>(dst_w));
    first_.assign(src_h, src_w);
    last_.assign(src_h, -1);
    const float floor = 0.5f - kMargin;
    for (int y = 0; y < src_h; ++y) {
      const float* row = src + static_cast<size_t>(y) * src_w;
      int hits = 0;  // a count first (it vectorises; a running max does not): most rows hold no object at all
      for (int x = 0; x < src_w; ++x) hits += row[x] > floor;
      if (hits == 0) continue;
      int x = 0;
      while (!(row[x] > floor)) ++x;
      int e = src_w - 1;
      while (!(row[e] > floor)) --e;
      first_[y] = x, last_[y] = e;
    }
  }

  // Frame columns [begin, end) of frame row y that any tap of a value above 0.5 - kMargin reaches (empty if none).
  std::pair<int, int> span(int y) const { return columns(ty_.i0[y], ty_.i1[y]); }

  // Frame row y's values on [begin, end) (within span(y)) into out[begin, end): resize_linear's arithmetic
  // (horizontal, then vertical, no fused multiply-adds), so the same floats. Each source row is resized
  // horizontally once, over every column a span of a frame row that blends it can ask for, into one of two
  // slots (rows s and s + 1 never share one).
  void values(int y, int begin, int end, float* out) {
    const float* r0 = src_ + static_cast<size_t>(ty_.i0[y]) * src_w_;
    if (same_) {
      std::copy(r0 + begin, r0 + end, out + begin);
      return;
    }
    vertical_pass(resized_row(ty_.i0[y]), resized_row(ty_.i1[y]), ty_, y, begin, end, out);
  }

 private:
  const float* src_;
  int src_h_, src_w_;
  bool same_;
  Taps tx_, ty_;
  std::vector<int> first_, last_;
  std::vector<float> slots_;  // 2 x the frame width
  int key_[2] = {-1, -1};

  // Frame columns any tap of a value above 0.5 - kMargin in source rows [r0, r1] reaches.
  std::pair<int, int> columns(int r0, int r1) const {
    int lo = src_w_, hi = -1;
    for (int r = std::max(r0, 0); r <= std::min(r1, src_h_ - 1); ++r) lo = std::min(lo, first_[r]), hi = std::max(hi, last_[r]);
    if (lo > hi) return {0, 0};
    // taps are monotone in x: the first column whose right tap reaches lo, the last whose left tap is <= hi
    const int begin = static_cast<int>(std::lower_bound(tx_.i1.begin(), tx_.i1.end(), lo) - tx_.i1.begin());
    const int end = static_cast<int>(std::upper_bound(tx_.i0.begin(), tx_.i0.end(), hi) - tx_.i0.begin());
    return {begin, std::max(begin, end)};
  }

  // Source row r resized horizontally over the columns of every span that blends it (rows r - 1..r + 1).
  const float* resized_row(int r) {
    float* slot = slots_.data() + static_cast<size_t>(r & 1) * tx_.i0.size();
    if (key_[r & 1] != r) {
      const auto [begin, end] = columns(r - 1, r + 1);
      horizontal_pass(src_ + static_cast<size_t>(r) * src_w_, tx_, begin, end, slot);
      key_[r & 1] = r;
    }
    return slot;
  }
};

// p = 1 / (1 + exp(-clip(x, -60, 60))) in place over v[0, n).
// exp(-x) by Cephes' expf polynomial in plain arithmetic (round(x / ln 2) by the 1.5 * 2^23 trick, 2^k by
// building the exponent bits), so the loop vectorises on every target; std::exp does not, and it was the
// costliest host step per object. Needs -fno-trapping-math (CMakeLists) for the clamps to vectorise.
REUSEVOS_LOOP void sigmoid_loop(float* __restrict v, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float x = v[i];
    x = x < -60.0f ? -60.0f : x;
    x = x > 60.0f ? 60.0f : x;
    x = -x;
    const float t = x * 1.44269504088896341f + 12582912.0f;  // the low mantissa bits of t hold round(x / ln 2)
    const float kf = t - 12582912.0f;
    int32_t tbits;
    std::memcpy(&tbits, &t, sizeof t);
    const int32_t k = tbits - 0x4B400000;
    const float r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    const int32_t bits = (k + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    v[i] = 1.0f / (1.0f + y * scale);
  }
}

#if REUSEVOS_X86_DISPATCH
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
#endif

// frame_to_input's vertical pass over one output row (OpenCV's fixed-point blend of two int16 rows), then / 255.
REUSEVOS_LOOP void blend_rows(const int16_t* __restrict d0, const int16_t* __restrict d1, int16_t w0, int16_t w1,
                              float k, float* __restrict o, int width) {
  for (int x = 0; x < width; ++x) {
    const int16_t h0 = static_cast<int16_t>((w0 * d0[x]) >> 16), h1 = static_cast<int16_t>((w1 * d1[x]) >> 16);
    o[x] = static_cast<float>((h0 + h1 + 2) >> 2) * k;
  }
}

#if REUSEVOS_X86_DISPATCH
// blend_rows, 16 outputs per step: (w * d) >> 16 is the high half of the int16 product (mulhi), and the sum
// of the two halves plus 2 stays within int16 (each half is at most 1020).
__attribute__((target("avx2"))) void blend_rows_avx2(const int16_t* d0, const int16_t* d1, int16_t w0, int16_t w1,
                                                     float k, float* o, int width) {
  const __m256i a0 = _mm256_set1_epi16(w0), a1 = _mm256_set1_epi16(w1), two = _mm256_set1_epi16(2);
  const __m256 scale = _mm256_set1_ps(k);
  int x = 0;
  for (; x + 16 <= width; x += 16) {
    const __m256i h0 = _mm256_mulhi_epi16(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d0 + x)));
    const __m256i h1 = _mm256_mulhi_epi16(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d1 + x)));
    const __m256i v = _mm256_srai_epi16(_mm256_add_epi16(_mm256_add_epi16(h0, h1), two), 2);
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
    _mm256_storeu_ps(o + x, _mm256_mul_ps(lo, scale));
    _mm256_storeu_ps(o + x + 8, _mm256_mul_ps(hi, scale));
  }
  blend_rows(d0 + x, d1 + x, w0, w1, k, o + x, width - x);
}
#endif

// frame_to_input's horizontal pass over one interleaved uint8 row: per output x and channel,
// (S[i0] * a0 + S[i1] * a1) >> 4 into int16 planes (a0 + a1 = 2048, so the value fits).
// With AVX2: where every block of 8 outputs takes its taps from 16 consecutive source pixels (downscales up
// to about 1.8x, any upscale), the row is split into byte planes and each plane resized by byte shuffles
// (plane_taps_avx2); otherwise by gathers from the interleaved row (frame_taps_avx2). Same integers on every path.
class HorizontalTaps {
 public:
  HorizontalTaps(const Taps& tx, int cn, int src_w) : width_(static_cast<int>(tx.i0.size())), cn_(cn), src_w_(src_w) {
    off0_.resize(width_);
    off1_.resize(width_);
    a0_.resize(width_);
    a1_.resize(width_);
    pairs_.resize(width_);
    for (int x = 0; x < width_; ++x) {
      off0_[x] = tx.i0[x] * cn, off1_[x] = tx.i1[x] * cn;
      a0_[x] = fixed(tx.w0[x]), a1_[x] = fixed(tx.w1[x]);
      pairs_[x] = static_cast<int32_t>(static_cast<uint16_t>(a0_[x]) | (static_cast<uint32_t>(a1_[x]) << 16));
    }
    // columns [0, safe_) may load 4 bytes at off1 + 2 (frame_taps_avx2's word gathers) without leaving the row
    safe_ = width_;
    while (safe_ > 0 && off1_[safe_ - 1] + 2 + 4 > static_cast<int64_t>(src_w) * cn) --safe_;
    plan_shuffles(tx);
  }

  void run(const uint8_t* s, bool bgr, int16_t* r, int16_t* g, int16_t* b) {
    if (bgr) std::swap(r, b);  // the first byte of a pixel is blue
    int start = 0;
#if REUSEVOS_X86_DISPATCH
    int16_t* const planes[3] = {r, g, b};
    if (use_avx2() && steps_ > 0) {
      start = shuffle_taps(s, planes);
    } else if (use_avx2()) {
      start = frame_taps_avx2(s, off0_.data(), off1_.data(), pairs_.data(), safe_, planes);
    }
#elif REUSEVOS_NEON
    int16_t* const planes[3] = {r, g, b};
    if (use_neon() && steps_ > 0) start = shuffle_taps(s, planes);
#endif
    for (int x = start; x < width_; ++x) {
      const uint8_t* p0 = s + off0_[x];
      const uint8_t* p1 = s + off1_[x];
      const int32_t w0 = a0_[x], w1 = a1_[x];
      r[x] = static_cast<int16_t>((p0[0] * w0 + p1[0] * w1) >> 4);
      g[x] = static_cast<int16_t>((p0[1] * w0 + p1[1] * w1) >> 4);
      b[x] = static_cast<int16_t>((p0[2] * w0 + p1[2] * w1) >> 4);
    }
  }

 private:
  int width_, cn_, src_w_, safe_;
  std::vector<int32_t> off0_, off1_, pairs_;
  std::vector<int16_t> a0_, a1_;
  // the shuffle path: steps_ steps of 16 outputs (0 where some block's taps span more than 16 pixels);
  // per block its first tap; per step 64 bytes of shuffle masks and 16 weight pairs; the row's byte planes
  int steps_ = 0;
  std::vector<int32_t> base_, step_pairs_;
  std::vector<uint8_t> masks_, split_;
  std::vector<uint8_t> rel0_, rel1_;  // NEON: each output's taps from its block's base

  void plan_shuffles(const Taps& tx) {
    const int steps = width_ / 16;
    for (int x = 0; x < 16 * steps; x += 8)
      if (tx.i1[x + 7] - tx.i0[x] > 15) return;
    steps_ = steps;
    base_.resize(2 * steps);
    masks_.resize(64 * static_cast<size_t>(steps));
    step_pairs_.resize(16 * static_cast<size_t>(steps));
    for (int k = 0; k < steps; ++k)
      for (int half = 0; half < 2; ++half) {  // blocks 2k (lane 0) and 2k + 1 (lane 1)
        const int x0 = 16 * k + 8 * half;
        base_[2 * k + half] = tx.i0[x0];
        for (int j = 0; j < 8; ++j) {  // output x0 + j: register j / 4 (outputs 0-3, 4-7), lane `half`, slot j % 4
          uint8_t* m = masks_.data() + 64 * static_cast<size_t>(k) + 32 * (j / 4) + 16 * half + 4 * (j % 4);
          m[0] = static_cast<uint8_t>(tx.i0[x0 + j] - tx.i0[x0]), m[1] = 0x80;
          m[2] = static_cast<uint8_t>(tx.i1[x0 + j] - tx.i0[x0]), m[3] = 0x80;
          step_pairs_[16 * static_cast<size_t>(k) + 8 * (j / 4) + 4 * half + j % 4] = pairs_[x0 + j];
          rel0_.push_back(m[0]), rel1_.push_back(m[2]);
        }
      }
    split_.assign(3 * (static_cast<size_t>(src_w_) + 16), 0);  // each plane padded for the last 16-byte load
  }

#if REUSEVOS_X86_DISPATCH || REUSEVOS_NEON
  // The row split into byte planes, then each plane's first 16 * steps_ outputs; returns that count.
  int shuffle_taps(const uint8_t* s, int16_t* const planes[3]) {
    const size_t stride = static_cast<size_t>(src_w_) + 16;
    uint8_t* p = split_.data();
    uint8_t* const split[3] = {p, p + stride, p + 2 * stride};
#if REUSEVOS_X86_DISPATCH
    int x = cn_ == 3 ? split_channels_avx2<3>(s, src_w_, split) : split_channels_avx2<4>(s, src_w_, split);
#else
    int x = cn_ == 3 ? split_channels_neon<3>(s, src_w_, split) : split_channels_neon<4>(s, src_w_, split);
#endif
    for (; x < src_w_; ++x)
      for (int c = 0; c < 3; ++c) split[c][x] = s[x * cn_ + c];
    int done = 0;
    for (int c = 0; c < 3; ++c)
#if REUSEVOS_X86_DISPATCH
      done = plane_taps_avx2(p + c * stride, base_.data(), masks_.data(), step_pairs_.data(), steps_, planes[c]);
#else
      done = plane_taps_neon(p + c * stride, base_.data(), rel0_.data(), rel1_.data(), a0_.data(), a1_.data(),
                             2 * steps_, planes[c]);
#endif
    return done;
  }
#endif
};

}  // namespace

void frame_to_input(const ImageView& image, Tensor& out, std::vector<int16_t>& scratch) {
  if (out.shape.size() != 4 || out.shape[0] != 1 || out.shape[1] != 3 || out.numel() != static_cast<int64_t>(out.data.size()))
    throw Error("frame_to_input: the output must be a 1x3xHxW tensor, got " + shape_text(out.shape));
  const int height = static_cast<int>(out.shape[2]), width = static_cast<int>(out.shape[3]);
  if (image.data == nullptr || image.height <= 0 || image.width <= 0 || (image.channels != 3 && image.channels != 4) ||
      image.stride < static_cast<int64_t>(image.width) * image.channels)
    throw Error("frame: expected RGB or RGBA uint8 pixels with a row stride >= width * channels, got " +
                std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                std::to_string(image.channels) + " stride " + std::to_string(image.stride));
  const size_t plane = static_cast<size_t>(height) * width;
  const float k = 1.0f / 255.0f;
  const int cn = image.channels;
  if (image.height == height && image.width == width) {
    for (int y = 0; y < height; ++y) {
      const uint8_t* row = image.data + y * image.stride;
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c)
          out.data[c * plane + static_cast<size_t>(y) * width + x] = row[x * cn + (image.bgr ? 2 - c : c)] * k;
    }
    return;
  }
  // OpenCV 8-bit INTER_LINEAR: 11-bit fixed-point weights; horizontal pass in int32 (kept as D >> 4 in int16),
  // vertical pass as its SIMD kernel computes it: ((b0 * (D0 >> 4)) >> 16) + ((b1 * (D1 >> 4)) >> 16) + 2) >> 2.
  // Streamed: each output row blends two horizontally resized source rows, each resized once and kept in one
  // of two slots (sy and sy + 1 never share one), so the intermediate stays in cache.
  Taps tx = linear_taps(image.width, width), ty = linear_taps(image.height, height);
  HorizontalTaps h(tx, cn, image.width);
  std::vector<int16_t> b0(height), b1(height);
  for (int y = 0; y < height; ++y) b0[y] = fixed(ty.w0[y]), b1[y] = fixed(ty.w1[y]);
  const size_t row = static_cast<size_t>(width);
  scratch.resize(6 * row);  // 2 slots x 3 planes
  int key[2] = {-1, -1};
  auto source_row = [&](int sy) -> const int16_t* {  // R, G, B planes of source row sy, resized horizontally
    int16_t* slot = scratch.data() + static_cast<size_t>(sy & 1) * 3 * row;
    if (key[sy & 1] != sy) {
      h.run(image.data + sy * image.stride, image.bgr, slot, slot + row, slot + 2 * row);
      key[sy & 1] = sy;
    }
    return slot;
  };
  for (int y = 0; y < height; ++y) {
    const int16_t* r0 = source_row(ty.i0[y]);
    const int16_t* r1 = source_row(ty.i1[y]);
    const int16_t w0 = b0[y], w1 = b1[y];
    for (int c = 0; c < 3; ++c) {
      float* o = out.data.data() + c * plane + static_cast<size_t>(y) * width;
#if REUSEVOS_X86_DISPATCH
      if (use_avx2()) {
        blend_rows_avx2(r0 + c * row, r1 + c * row, w0, w1, k, o, width);
        continue;
      }
#endif
      blend_rows(r0 + c * row, r1 + c * row, w0, w1, k, o, width);
    }
  }
}

std::vector<float> mask_to_model(const std::vector<uint8_t>& mask, int mask_h, int mask_w, int height, int width) {
  std::vector<float> m(mask.begin(), mask.end());
  for (float& v : m) v = v ? 1.0f : 0.0f;
  if (mask_h == height && mask_w == width) return m;
  std::vector<float> out;
  double sx = static_cast<double>(mask_w) / width, sy = static_cast<double>(mask_h) / height;
  if (sx >= 1.0 && sy >= 1.0) {
    auto tx = area_taps(mask_w, width), ty = area_taps(mask_h, height);
    out.assign(static_cast<size_t>(height) * width, 0.0f);
    std::vector<float> row(width);
    for (int y = 0; y < height; ++y) {
      float* d = out.data() + static_cast<size_t>(y) * width;
      for (const auto& [syi, beta] : ty[y]) {
        const float* s = m.data() + static_cast<size_t>(syi) * mask_w;
        for (int x = 0; x < width; ++x) {
          float acc = 0.0f;
          for (const auto& [sxi, alpha] : tx[x]) acc += s[sxi] * alpha;
          d[x] += acc * beta;
        }
      }
    }
  } else {
    out = linear_float(m.data(), mask_h, mask_w, height, width, /*area_upscale=*/true);
  }
  for (float& v : out) v = std::min(std::max(v, 0.0f), 1.0f);
  return out;
}

Tensor block_mean(const float* plane, int height, int width, int factor, std::optional<float> above) {
  if (height % factor || width % factor)
    throw Error("block_mean: " + std::to_string(height) + "x" + std::to_string(width) + " is not a multiple of " +
                std::to_string(factor));
  const int h = height / factor, w = width / factor;
  Tensor out = Tensor::zeros({1, 1, h, w});
  const float scale = 1.0f / static_cast<float>(factor * factor);
  std::vector<float> columns(static_cast<size_t>(width));  // per column: the block row's sum (vectorises)
  for (int y = 0; y < h; ++y) {
    std::fill(columns.begin(), columns.end(), 0.0f);
    float* c = columns.data();
    for (int dy = 0; dy < factor; ++dy) {
      const float* s = plane + static_cast<size_t>(y * factor + dy) * width;
      if (above) {
        const float t = *above;
        for (int x = 0; x < width; ++x) c[x] += s[x] > t ? 1.0f : 0.0f;
      } else {
        for (int x = 0; x < width; ++x) c[x] += s[x];
      }
    }
    for (int x = 0; x < w; ++x) {
      float acc = 0.0f;
      for (int dx = 0; dx < factor; ++dx) acc += c[x * factor + dx];
      out.data[static_cast<size_t>(y) * w + x] = acc * scale;
    }
  }
  return out;
}

std::vector<float> resize_linear(std::vector<float> src, int src_h, int src_w, int dst_h, int dst_w) {
  if (src_h == dst_h && src_w == dst_w) return src;
  return linear_float(src.data(), src_h, src_w, dst_h, dst_w, false);
}

void sigmoid(std::vector<float>& values) {
#if REUSEVOS_X86_DISPATCH
  if (use_avx2()) return sigmoid_avx2(values.data(), values.size());
#endif
  sigmoid_loop(values.data(), values.size());
}

Tensor locality_window(const Tensor& mask16, int radius) {
  const int h = static_cast<int>(mask16.shape[2]), w = static_cast<int>(mask16.shape[3]);
  Tensor out = Tensor::zeros(mask16.shape);
  bool any = false;
  for (float v : mask16.data) any = any || v > 0.1f;
  if (!any) {
    std::fill(out.data.begin(), out.data.end(), 1.0f);
    return out;
  }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      bool hit = false;
      for (int yy = std::max(0, y - radius); yy <= std::min(h - 1, y + radius) && !hit; ++yy)
        for (int xx = std::max(0, x - radius); xx <= std::min(w - 1, x + radius) && !hit; ++xx)
          hit = mask16.data[static_cast<size_t>(yy) * w + xx] > 0.1f;
      out.data[static_cast<size_t>(y) * w + x] = hit ? 1.0f : 0.0f;
    }
  return out;
}

void fuse_to_frame(const std::vector<ProbPlane>& planes, int frame_h, int frame_w, std::vector<uint8_t>& labels) {
  const size_t width = static_cast<size_t>(frame_w);
  labels.assign(static_cast<size_t>(frame_h) * width, 0);
  std::vector<FusePlane> fused;
  fused.reserve(planes.size());
  for (const ProbPlane& p : planes) fused.emplace_back(p.values, p.height, p.width, frame_h, frame_w);
  std::vector<float> values(width), best(width);  // one plane's row at a time
  std::vector<std::pair<int, int>> spans(planes.size());
  for (int y = 0; y < frame_h; ++y) {
    // only columns some object's values above 0.5 - margin reach can hold a label; elsewhere it stays 0
    int begin = frame_w, end = 0;
    for (size_t k = 0; k < planes.size(); ++k) {
      spans[k] = fused[k].span(y);
      if (spans[k].first < spans[k].second) begin = std::min(begin, spans[k].first), end = std::max(end, spans[k].second);
    }
    if (begin >= end) continue;
    uint8_t* out = labels.data() + static_cast<size_t>(y) * width;
    // the first object (lowest id) with the largest p above 0.5: ties go to background, then the lower id
    std::fill(best.begin() + begin, best.begin() + end, 0.5f);
    for (size_t k = 0; k < planes.size(); ++k) {
      const auto [b, e] = spans[k];
      if (b >= e) continue;
      float* v = values.data();
      fused[k].values(y, b, e, v);
      const uint8_t id = static_cast<uint8_t>(planes[k].id);
      for (int x = b; x < e; ++x) {
        const bool better = v[x] > best[x];
        best[x] = better ? v[x] : best[x];
        out[x] = better ? id : out[x];
      }
    }
  }
}

}  // namespace reusevos
