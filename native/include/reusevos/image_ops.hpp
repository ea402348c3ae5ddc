// Host-side tensor preparation, equal to reusevos_edge.tracker.frames (which uses OpenCV):
// frames and masks to model inputs, model outputs back to the frame size, fusion of objects.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "reusevos/tensor.hpp"

namespace reusevos {

// A camera-style image: `channels` (3 = RGB, 4 = RGBA, alpha ignored; with `bgr`: BGR / BGRA, as iOS
// cameras deliver) interleaved uint8 rows of `stride` bytes each. The pixels are borrowed, not copied.
struct ImageView {
  const uint8_t* data = nullptr;
  int height = 0, width = 0, channels = 3;
  int64_t stride = 0;  // bytes per row (>= width * channels)
  bool bgr = false;
};

// RGB(A) uint8 -> `out`, 1x3xHxW (its shape gives H and W): OpenCV's INTER_LINEAR uint8 resize (its
// fixed-point arithmetic, bit for bit on the sizes the tests cover), then per byte u either u / 255 (float32
// `out`) or the int8 code u - 128 (int8 `out`: an int8 bundle's input). `scratch` holds the horizontal pass;
// both are reused from frame to frame (no per-frame allocation).
void frame_to_input(const ImageView& image, Tensor& out, std::vector<int16_t>& scratch);

// HxW 0/1 mask -> height x width float32 coverage in [0, 1] (OpenCV INTER_AREA on float32).
std::vector<float> mask_to_model(const std::vector<uint8_t>& mask, int mask_h, int mask_w, int height, int width);

// height x width float32 -> 1x1x(height/factor)x(width/factor) block means; with `above`, the share of each
// block's values above it (the block coverage of a thresholded map, without building the 0/1 map).
Tensor block_mean(const float* plane, int height, int width, int factor, std::optional<float> above = std::nullopt);

// Bilinear resize of a float32 plane (OpenCV INTER_LINEAR, half-pixel centres); `src` itself at equal size.
std::vector<float> resize_linear(std::vector<float> src, int src_h, int src_w, int dst_h, int dst_w);

// In place: p = 1 / (1 + exp(-clip(x, -60, 60))).
void sigmoid(std::vector<float>& values);

// 1x1xhxw coverage at 1/16 -> 1x1xhxw 0/1 window: cells within `radius` cells (square) of one covered
// above 0.1; all ones when no cell is covered.
Tensor locality_window(const Tensor& mask16, int radius);

// One object's probability plane for fuse_to_frame: `height` x `width` floats in [0, 1].
struct ProbPlane {
  int id = 0;
  const float* values = nullptr;
  int height = 0, width = 0;
};

// Planes sorted by id, each at its own size -> `labels`, frame_h x frame_w object ids: every plane resized to
// the frame as resize_linear does (the same values), then at each pixel the most probable object where its p
// exceeds 0.5, else 0 (ties to background, then the lower id). Streamed row by row (two resized source rows per
// plane in flight): no frame-size plane is built, and `labels` keeps its buffer from call to call.
void fuse_to_frame(const std::vector<ProbPlane>& planes, int frame_h, int frame_w, std::vector<uint8_t>& labels);

}  // namespace reusevos
