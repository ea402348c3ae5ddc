// A tensor: shape (NCHW where it is an image-like map) and contiguous row-major values, float32 or int8.
// int8 is one input only: the frame as an int8 bundle's backbone_low takes it (codes u - 128 of the
// resized RGB bytes u; reusevos_edge.quant.image_codes). Everything else is float32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reusevos {

enum class DType { kFloat32, kInt8 };

struct Tensor {
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat32;
  std::vector<float> data;    // the values of a float32 tensor
  std::vector<int8_t> codes;  // the values of an int8 tensor

  static int64_t count(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  static Tensor zeros(std::vector<int64_t> shape, DType dtype = DType::kFloat32) {
    Tensor t;
    t.dtype = dtype;
    if (dtype == DType::kInt8)
      t.codes.assign(static_cast<size_t>(count(shape)), 0);
    else
      t.data.assign(static_cast<size_t>(count(shape)), 0.0f);
    t.shape = std::move(shape);
    return t;
  }
  int64_t numel() const { return count(shape); }
  // How many values the tensor holds (of its dtype).
  size_t stored() const { return dtype == DType::kInt8 ? codes.size() : data.size(); }
};

// "float32" / "int8", as manifests spell them.
inline const char* dtype_name(DType dtype) { return dtype == DType::kInt8 ? "int8" : "float32"; }

// "[1, 3, 384, 672]" for messages.
inline std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace reusevos
