// The host ops' per-pixel loops and their SIMD kernels (internal to the core; image_ops.cpp calls them).
//
// The plain loops are written once, inline here: image_ops.cpp runs them as they are, and the kernels run
// them on the values left after their last whole vector. The kernels exist per architecture:
// - x86-64: AVX2 (and FMA for the sigmoid), compiled for them whatever -march says and called only where
//   the CPU has both (asked once at run time), so a portable x86-64 build runs them;
// - arm64: NEON (always present) for the frame conversion's horizontal pass.
// REUSEVOS_NO_SIMD=1 in the environment keeps the plain loops everywhere (the tests compare both).
// Both loops and kernels need -fno-trapping-math and -ffp-contract=off (CMakeLists.txt): the clamps vectorise,
// and a * b + c * d stays two roundings as OpenCV computes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define REUSEVOS_X86_DISPATCH 1
#else
#define REUSEVOS_X86_DISPATCH 0
#endif

#if defined(__aarch64__) && defined(__ARM_NEON)
#define REUSEVOS_NEON 1
#else
#define REUSEVOS_NEON 0
#endif

// A per-pixel loop written once: inlined into its plain caller and into the kernels' tails.
#if defined(__GNUC__) || defined(__clang__)
#define REUSEVOS_LOOP __attribute__((always_inline)) inline
#else
#define REUSEVOS_LOOP inline
#endif

namespace reusevos::detail {

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

// OpenCV's fixed-point vertical blend of two horizontally resized values: the output byte, 0..255.
REUSEVOS_LOOP int blend_value(int16_t d0, int16_t d1, int16_t w0, int16_t w1) {
  const int16_t h0 = static_cast<int16_t>((w0 * d0) >> 16), h1 = static_cast<int16_t>((w1 * d1) >> 16);
  return (h0 + h1 + 2) >> 2;
}

// frame_to_input's vertical pass over one output row, then / 255.
REUSEVOS_LOOP void blend_rows(const int16_t* __restrict d0, const int16_t* __restrict d1, int16_t w0, int16_t w1,
                              float k, float* __restrict o, int width) {
  for (int x = 0; x < width; ++x) o[x] = static_cast<float>(blend_value(d0[x], d1[x], w0, w1)) * k;
}

// blend_rows for an int8 bundle's input: the blended byte v as its code v - 128 (v with its top bit flipped).
REUSEVOS_LOOP void blend_rows_codes(const int16_t* __restrict d0, const int16_t* __restrict d1, int16_t w0,
                                    int16_t w1, int8_t* __restrict o, int width) {
  for (int x = 0; x < width; ++x) o[x] = static_cast<int8_t>(blend_value(d0[x], d1[x], w0, w1) - 128);
}

#if REUSEVOS_X86_DISPATCH
// True where the CPU has AVX2 and FMA and REUSEVOS_NO_SIMD is unset (asked once).
bool use_avx2();
// h[x] = s[i0[x]] * w0[x] + s[i1[x]] * w1[x] for whole blocks of 8 from begin (a multiple of 8) up to end: a
// block whose taps lie in the 8 values from base[x / 8] (>= 0) by two permutes of one load (rel0, rel1: tap
// offsets from the base), any other by gathers. Returns the first x it left.
int blend_taps_avx2(const float* s, const int* base, const int* rel0, const int* rel1, const int* i0, const int* i1,
                    const float* w0, const float* w1, int begin, int end, float* h);
// frame_to_input's horizontal pass from an interleaved row by gathers, 16 outputs per step over [0, safe).
int frame_taps_avx2(const uint8_t* s, const int32_t* off0, const int32_t* off1, const int32_t* pairs, int safe,
                    int16_t* const planes[3]);
// One interleaved row of n pixels (cn = 3 or 4 bytes each) -> its first three channels as byte planes.
int split_channels_avx2(const uint8_t* s, int n, int cn, uint8_t* const planes[3]);
// frame_to_input's horizontal pass on one byte plane by byte shuffles, `steps` steps of 16 outputs.
int plane_taps_avx2(const uint8_t* p, const int32_t* base, const uint8_t* masks, const int32_t* pairs, int steps,
                    int16_t* out);
// sigmoid_loop over v[0, n), 8 values per step with fused multiply-adds.
void sigmoid_avx2(float* v, size_t n);
// blend_rows, 16 outputs per step.
void blend_rows_avx2(const int16_t* d0, const int16_t* d1, int16_t w0, int16_t w1, float k, float* o, int width);
// blend_rows_codes, 16 outputs per step.
void blend_rows_codes_avx2(const int16_t* d0, const int16_t* d1, int16_t w0, int16_t w1, int8_t* o, int width);
#endif

#if REUSEVOS_NEON
// False when REUSEVOS_NO_SIMD is set.
bool use_neon();
// One interleaved row of n pixels (cn = 3 or 4 bytes each) -> its first three channels as byte planes.
int split_channels_neon(const uint8_t* s, int n, int cn, uint8_t* const planes[3]);
// frame_to_input's horizontal pass on one byte plane by table lookups, `blocks` blocks of 8 outputs.
int plane_taps_neon(const uint8_t* p, const int32_t* base, const uint8_t* rel0, const uint8_t* rel1, const int16_t* a0,
                    const int16_t* a1, int blocks, int16_t* out);
#endif

}  // namespace reusevos::detail
