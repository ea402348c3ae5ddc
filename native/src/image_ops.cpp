#include "reusevos/image_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "reusevos/error.hpp"
#include "simd.hpp"

namespace reusevos {
namespace {

using namespace detail;  // the per-pixel loops and their SIMD kernels (simd.hpp)

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
#if REUSEVOS_X86_DISPATCH  // only blend_taps_avx2 reads them
  t.base.assign(n_out / 8, -1);
  t.rel0.assign(n_out, 0);
  t.rel1.assign(n_out, 0);
  for (int b = 0; b < n_out / 8; ++b) {
    const int lo = t.i0[8 * b];
    if (t.i1[8 * b + 7] - lo > 7 || lo + 8 > n_in) continue;
    t.base[b] = lo;
    for (int x = 8 * b; x < 8 * b + 8; ++x) t.rel0[x] = t.i0[x] - lo, t.rel1[x] = t.i1[x] - lo;
  }
#endif
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
  auto plain = [&](int from, int to) {
    for (int x = from; x < to; ++x) h[x] = s[i0[x]] * w0[x] + s[i1[x]] * w1[x];
  };
  int x = begin;
#if REUSEVOS_X86_DISPATCH
  if (use_avx2()) {  // the kernel takes whole blocks of 8 from a multiple of 8
    x = std::min(end, (begin + 7) / 8 * 8);
    plain(begin, x);
    x = blend_taps_avx2(s, tx.base.data(), tx.rel0.data(), tx.rel1.data(), i0, i1, w0, w1, x, end, h);
  }
#endif
  plain(x, end);
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
    if (use_avx2())
      start = steps_ > 0 ? shuffle_taps(s, planes)
                         : frame_taps_avx2(s, off0_.data(), off1_.data(), pairs_.data(), safe_, planes);
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
  // the shuffle path: steps_ steps of 16 outputs (0 where some block's taps span more than 16 pixels, or
  // without SIMD); per block of 8 its first tap; the row's byte planes. AVX2: per step 64 bytes of shuffle
  // masks and 16 weight pairs. NEON: each output's taps as offsets from its block's first.
  int steps_ = 0;
  std::vector<int32_t> base_, step_pairs_;
  std::vector<uint8_t> masks_, split_, rel0_, rel1_;

  void plan_shuffles(const Taps& tx) {
#if REUSEVOS_X86_DISPATCH || REUSEVOS_NEON
    const int steps = width_ / 16;
    for (int x = 0; x < 16 * steps; x += 8)
      if (tx.i1[x + 7] - tx.i0[x] > 15) return;
    steps_ = steps;
    base_.resize(2 * steps);
    for (int b = 0; b < 2 * steps; ++b) base_[b] = tx.i0[8 * b];
#if REUSEVOS_X86_DISPATCH
    masks_.resize(64 * static_cast<size_t>(steps));
    step_pairs_.resize(16 * static_cast<size_t>(steps));
    for (int k = 0; k < steps; ++k)
      for (int half = 0; half < 2; ++half) {  // blocks 2k (lane 0) and 2k + 1 (lane 1)
        const int x0 = 16 * k + 8 * half;
        for (int j = 0; j < 8; ++j) {  // output x0 + j: register j / 4 (outputs 0-3, 4-7), lane `half`, slot j % 4
          uint8_t* m = masks_.data() + 64 * static_cast<size_t>(k) + 32 * (j / 4) + 16 * half + 4 * (j % 4);
          m[0] = static_cast<uint8_t>(tx.i0[x0 + j] - tx.i0[x0]), m[1] = 0x80;
          m[2] = static_cast<uint8_t>(tx.i1[x0 + j] - tx.i0[x0]), m[3] = 0x80;
          step_pairs_[16 * static_cast<size_t>(k) + 8 * (j / 4) + 4 * half + j % 4] = pairs_[x0 + j];
        }
      }
#else
    rel0_.resize(16 * static_cast<size_t>(steps));
    rel1_.resize(16 * static_cast<size_t>(steps));
    for (int x = 0; x < 16 * steps; ++x)
      rel0_[x] = static_cast<uint8_t>(tx.i0[x] - base_[x / 8]), rel1_[x] = static_cast<uint8_t>(tx.i1[x] - base_[x / 8]);
#endif
    split_.assign(3 * (static_cast<size_t>(src_w_) + 16), 0);  // each plane padded for the last 16-byte load
#else
    (void)tx;
#endif
  }

#if REUSEVOS_X86_DISPATCH || REUSEVOS_NEON
  // The row split into byte planes, then each plane's first 16 * steps_ outputs; returns that count.
  int shuffle_taps(const uint8_t* s, int16_t* const planes[3]) {
    const size_t stride = static_cast<size_t>(src_w_) + 16;
    uint8_t* p = split_.data();
    uint8_t* const split[3] = {p, p + stride, p + 2 * stride};
#if REUSEVOS_X86_DISPATCH
    int x = split_channels_avx2(s, src_w_, cn_, split);
#else
    int x = split_channels_neon(s, src_w_, cn_, split);
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

// frame_to_input's vertical pass over one output row into float32 (/ 255) or int8 codes: AVX2 where the CPU
// has it, else the plain loop (the same values).
void blend_row(const int16_t* d0, const int16_t* d1, int16_t w0, int16_t w1, float k, float* o, int width) {
#if REUSEVOS_X86_DISPATCH
  if (use_avx2()) return blend_rows_avx2(d0, d1, w0, w1, k, o, width);
#endif
  blend_rows(d0, d1, w0, w1, k, o, width);
}

void blend_row(const int16_t* d0, const int16_t* d1, int16_t w0, int16_t w1, int8_t* o, int width) {
#if REUSEVOS_X86_DISPATCH
  if (use_avx2()) return blend_rows_codes_avx2(d0, d1, w0, w1, o, width);
#endif
  blend_rows_codes(d0, d1, w0, w1, o, width);
}

}  // namespace

void frame_to_input(const ImageView& image, Tensor& out, std::vector<int16_t>& scratch) {
  if (out.shape.size() != 4 || out.shape[0] != 1 || out.shape[1] != 3 || out.numel() != static_cast<int64_t>(out.stored()))
    throw Error("frame_to_input: the output must be a 1x3xHxW tensor, got " + shape_text(out.shape));
  const bool codes = out.dtype == DType::kInt8;
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
        for (int c = 0; c < 3; ++c) {
          const uint8_t v = row[x * cn + (image.bgr ? 2 - c : c)];
          const size_t i = c * plane + static_cast<size_t>(y) * width + x;
          if (codes)
            out.codes[i] = static_cast<int8_t>(v - 128);
          else
            out.data[i] = v * k;
        }
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
      const size_t at = c * plane + static_cast<size_t>(y) * width;
      if (codes)
        blend_row(r0 + c * row, r1 + c * row, w0, w1, out.codes.data() + at, width);
      else
        blend_row(r0 + c * row, r1 + c * row, w0, w1, k, out.data.data() + at, width);
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
