#include "reusevos/image_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "reusevos/error.hpp"

namespace reusevos {
namespace {

// Source taps and weights of one output coordinate along one axis.
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> w0, w1;
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

std::vector<float> linear_float(const float* src, int sh, int sw, int dh, int dw, bool area_upscale) {
  Taps tx = linear_taps(sw, dw, area_upscale), ty = linear_taps(sh, dh, area_upscale);
  std::vector<float> rows(static_cast<size_t>(sh) * dw), out(static_cast<size_t>(dh) * dw);
  for (int y = 0; y < sh; ++y) {
    const float* s = src + static_cast<size_t>(y) * sw;
    float* d = rows.data() + static_cast<size_t>(y) * dw;
    for (int x = 0; x < dw; ++x) d[x] = s[tx.i0[x]] * tx.w0[x] + s[tx.i1[x]] * tx.w1[x];
  }
  for (int y = 0; y < dh; ++y) {
    const float* r0 = rows.data() + static_cast<size_t>(ty.i0[y]) * dw;
    const float* r1 = rows.data() + static_cast<size_t>(ty.i1[y]) * dw;
    float* d = out.data() + static_cast<size_t>(y) * dw;
    for (int x = 0; x < dw; ++x) d[x] = r0[x] * ty.w0[y] + r1[x] * ty.w1[y];
  }
  return out;
}

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
  Taps tx = linear_taps(image.width, width), ty = linear_taps(image.height, height);
  std::vector<int16_t> a0(width), a1(width), b0(height), b1(height);
  for (int x = 0; x < width; ++x) a0[x] = fixed(tx.w0[x]), a1[x] = fixed(tx.w1[x]);
  for (int y = 0; y < height; ++y) b0[y] = fixed(ty.w0[y]), b1[y] = fixed(ty.w1[y]);
  // horizontal pass into planar int32 rows (only the source rows the output uses), then the vertical
  // pass per plane over contiguous rows (vectorisable); weights sum to 2048, so no clamping is needed
  const size_t row = static_cast<size_t>(width);
  scratch.resize(static_cast<size_t>(3) * image.height * row);  // rows are written before they are read
  int16_t* const hbuf_data = scratch.data();
  std::vector<int32_t> off0(width), off1(width);
  for (int x = 0; x < width; ++x) off0[x] = tx.i0[x] * cn, off1[x] = tx.i1[x] * cn;
  std::vector<char> used(image.height, 0);
  for (int y = 0; y < height; ++y) used[ty.i0[y]] = used[ty.i1[y]] = 1;
  for (int sy = 0; sy < image.height; ++sy) {
    if (!used[sy]) continue;
    const uint8_t* s = image.data + sy * image.stride;
    int16_t* const planes = hbuf_data + static_cast<size_t>(sy) * row;  // R, G, B planes image.height rows apart
    int16_t* const g = planes + static_cast<size_t>(image.height) * row;
    int16_t* r = planes;
    int16_t* b = g + static_cast<size_t>(image.height) * row;
    if (image.bgr) std::swap(r, b);  // the first byte of a pixel is blue
    for (int x = 0; x < width; ++x) {
      const uint8_t* p0 = s + off0[x];
      const uint8_t* p1 = s + off1[x];
      const int32_t w0 = a0[x], w1 = a1[x];
      r[x] = static_cast<int16_t>((p0[0] * w0 + p1[0] * w1) >> 4);  // <= 255 * 2048 >> 4: fits int16
      g[x] = static_cast<int16_t>((p0[1] * w0 + p1[1] * w1) >> 4);
      b[x] = static_cast<int16_t>((p0[2] * w0 + p1[2] * w1) >> 4);
    }
  }
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < height; ++y) {
      const int16_t* d0 = hbuf_data + (static_cast<size_t>(c) * image.height + ty.i0[y]) * row;
      const int16_t* d1 = hbuf_data + (static_cast<size_t>(c) * image.height + ty.i1[y]) * row;
      float* o = out.data.data() + c * plane + static_cast<size_t>(y) * width;
      const int16_t w0 = b0[y], w1 = b1[y];
      for (int x = 0; x < width; ++x) {
        const int16_t h0 = static_cast<int16_t>((w0 * d0[x]) >> 16), h1 = static_cast<int16_t>((w1 * d1[x]) >> 16);
        o[x] = static_cast<float>((h0 + h1 + 2) >> 2) * k;
      }
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
  // exp(-x) by Cephes' expf polynomial in plain arithmetic (round(x / ln 2) by the 1.5 * 2^23 trick, 2^k by
  // building the exponent bits), so the loop vectorises on every target; std::exp does not, and it was the
  // costliest host step per object. Needs -fno-trapping-math (CMakeLists) for the clamps to vectorise.
  float* __restrict v = values.data();
  const size_t n = values.size();
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

std::vector<uint8_t> fuse_labels(const std::vector<std::pair<int, const float*>>& probs, int64_t pixels) {
  std::vector<uint8_t> label(static_cast<size_t>(pixels), 0);
  if (probs.empty()) return label;
  uint8_t* out = label.data();
  const float* p0 = probs[0].second;
  const uint8_t id0 = static_cast<uint8_t>(probs[0].first);
  for (int64_t i = 0; i < pixels; ++i) out[i] = p0[i] > 0.5f ? id0 : 0;
  if (probs.size() == 1) return label;
  std::vector<float> best(p0, p0 + pixels);
  for (size_t k = 1; k < probs.size(); ++k) {
    const float* p = probs[k].second;
    const uint8_t id = static_cast<uint8_t>(probs[k].first);
    float* b = best.data();
    for (int64_t i = 0; i < pixels; ++i) {
      const bool better = p[i] > b[i];
      b[i] = better ? p[i] : b[i];
      out[i] = better && p[i] > 0.5f ? id : out[i];
    }
  }
  return label;
}

}  // namespace reusevos
