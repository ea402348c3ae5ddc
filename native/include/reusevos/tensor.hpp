// A float32 tensor: shape (NCHW where it is an image-like map) and contiguous row-major data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reusevos {

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  static int64_t count(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  static Tensor zeros(std::vector<int64_t> shape) {
    Tensor t;
    t.data.assign(static_cast<size_t>(count(shape)), 0.0f);
    t.shape = std::move(shape);
    return t;
  }
  int64_t numel() const { return count(shape); }
};

// "[1, 3, 384, 672]" for messages.
inline std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace reusevos
