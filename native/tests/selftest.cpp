// reusevos-native-selftest: unit checks of the core without a bundle (exit 0 = all passed), and dump modes
// the Python tests use to compare the host ops with reusevos_edge.tracker.frames (OpenCV):
//   reusevos-native-selftest                      run the checks
//   reusevos-native-selftest frame IN.ppm H W OUT [int8]  frame_to_input -> OUT (float32 or int8 codes, 3xHxW)
//   reusevos-native-selftest mask IN.pgm H W OUT   mask_to_model (nonzero = 1) -> OUT (float32, HxW)
//   reusevos-native-selftest manifest DIR          load + verify a bundle's manifest, print its frame size
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "../tools/pnm.hpp"
#include "reusevos/error.hpp"
#include "reusevos/image_ops.hpp"
#include "reusevos/json.hpp"
#include "reusevos/manifest.hpp"
#include "reusevos/sha256.hpp"

using namespace reusevos;

namespace {

int failures = 0;
void check(bool ok, const char* what) {
  if (!ok) { std::fprintf(stderr, "FAILED: %s\n", what); ++failures; }
}

void write_floats(const std::string& path, const std::vector<float>& v) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(v.data()),
                                              static_cast<std::streamsize>(v.size() * sizeof(float)));
}

// BGRA (iOS camera buffers) in place gives the same model input as RGB, resized or not.
void check_bgra() {
  const int h = 37, w = 53;
  std::vector<uint8_t> rgb(h * w * 3), bgra(h * w * 4 + 12 * h);  // BGRA rows padded to w * 4 + 12 bytes
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const uint8_t value = static_cast<uint8_t>((x * 7 + y * 13 + c * 85) % 256);
        rgb[(y * w + x) * 3 + c] = value;
        bgra[y * (w * 4 + 12) + x * 4 + (2 - c)] = value;
      }
  for (auto [oh, ow] : {std::pair{h, w}, std::pair{32, 48}}) {
    Tensor a = Tensor::zeros({1, 3, oh, ow}), b = Tensor::zeros({1, 3, oh, ow});
    std::vector<int16_t> scratch;
    frame_to_input(ImageView{rgb.data(), h, w, 3, w * 3}, a, scratch);
    frame_to_input(ImageView{bgra.data(), h, w, 4, w * 4 + 12, true}, b, scratch);
    check(a.data == b.data, oh == h ? "BGRA equals RGB at the model size" : "BGRA equals RGB resized");
    Tensor codes = Tensor::zeros({1, 3, oh, ow}, DType::kInt8);
    frame_to_input(ImageView{bgra.data(), h, w, 4, w * 4 + 12, true}, codes, scratch);
    bool same = true;  // each code is the byte whose u / 255 the float input holds, minus 128
    for (size_t i = 0; i < a.data.size(); ++i) same &= codes.codes[i] == std::lround(a.data[i] * 255.0f) - 128;
    check(same, oh == h ? "int8 codes are the float input's bytes - 128" : "int8 codes of the resize likewise");
  }
}

// fuse_to_frame on planes smaller than the frame: the labels of resize_linear's full planes, fused per pixel.
void check_fusion_resizes() {
  const int h = 24, w = 42, fh = 30, fw = 53;
  std::vector<float> a(h * w), b(h * w);
  for (int i = 0; i < h * w; ++i) {  // smooth blobs, so many pixels sit near 0.5 and near each other
    a[i] = 0.5f + 0.5f * std::sin(0.31f * (i % w)) * std::cos(0.23f * (i / w));
    b[i] = 0.5f + 0.5f * std::cos(0.17f * (i % w) + 0.4f) * std::sin(0.29f * (i / w) + 0.1f);
  }
  std::vector<float> ra = resize_linear(a, h, w, fh, fw), rb = resize_linear(b, h, w, fh, fw);
  std::vector<uint8_t> single, pair;
  fuse_to_frame({{2, a.data(), h, w}}, fh, fw, single);
  fuse_to_frame({{2, a.data(), h, w}, {5, b.data(), h, w}}, fh, fw, pair);
  bool same_single = single.size() == ra.size(), same_pair = pair.size() == ra.size();
  for (size_t i = 0; i < ra.size() && same_single && same_pair; ++i) {
    same_single = single[i] == (ra[i] > 0.5f ? 2 : 0);
    const bool second = rb[i] > ra[i];
    same_pair = pair[i] == (second ? (rb[i] > 0.5f ? 5 : 0) : (ra[i] > 0.5f ? 2 : 0));
  }
  check(same_single, "fuse_to_frame: one plane's labels are resize_linear's values above 0.5");
  check(same_pair, "fuse_to_frame: two planes fused after resize_linear, pixel by pixel");
}

void checks() {
  check(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256(abc)");
  check(sha256_hex(std::string(1000, 'a')).substr(0, 8) == "41edece4", "sha256 of 1000 bytes (two blocks)");
  json::Value v = json::parse(R"({"b": [1, 2.50, -1e-05], "a": {"y": null, "x": "caf\u00e9"}, "c": true})", "test");
  check(json::canonical(v) == R"({"a":{"x":"caf\u00e9","y":null},"b":[1,2.50,-1e-05],"c":true})", "canonical JSON");
  check(v.at("a", "t").at("x", "t").text == "caf\xc3\xa9", "JSON \\u escape decodes to UTF-8");
  check(json::quote("caf\xc3\xa9\n") == "\"caf\\u00e9\\n\"", "JSON quote escapes like ensure_ascii");
  bool threw = false;
  try { json::parse("{\"a\": [1, 2}", "bad.json"); } catch (const Error& e) { threw = std::string(e.what()).find("bad.json") != std::string::npos; }
  check(threw, "bad JSON names the file");
  std::vector<float> plane(32 * 32);
  for (size_t i = 0; i < plane.size(); ++i) plane[i] = static_cast<float>(i % 32 < 16);
  Tensor bm = block_mean(plane.data(), 32, 32, 16);
  check(bm.shape == std::vector<int64_t>({1, 1, 2, 2}) && bm.data[0] == 1.0f && bm.data[1] == 0.0f, "block_mean");
  for (size_t i = 0; i < plane.size(); ++i) plane[i] = (i % 32 < 4) ? 0.7f : 0.2f;
  Tensor cov = block_mean(plane.data(), 32, 32, 16, 0.5f);
  check(cov.data[0] == 0.25f && cov.data[1] == 0.0f, "block coverage above a threshold");
  Tensor m16 = Tensor::zeros({1, 1, 5, 5});
  m16.data[12] = 0.5f;
  Tensor win = locality_window(m16, 1);
  int ones = 0;
  for (float x : win.data) ones += x == 1.0f;
  check(ones == 9 && win.data[6] == 1.0f && win.data[0] == 0.0f, "locality window dilates by the radius");
  check(locality_window(Tensor::zeros({1, 1, 3, 3}), 1).data[0] == 1.0f, "empty coverage searches everywhere");
  std::vector<float> p1 = {0.9f, 0.6f, 0.3f, 0.4f}, p2 = {0.2f, 0.7f, 0.4f, 0.6f};
  std::vector<uint8_t> lab;
  fuse_to_frame({{3, p1.data(), 2, 2}, {7, p2.data(), 2, 2}}, 2, 2, lab);
  check(lab == std::vector<uint8_t>({3, 7, 0, 7}), "fusion: most probable object above 0.5, else background");
  check_fusion_resizes();
  std::vector<float> sig;
  for (int i = -80000; i <= 80000; ++i) sig.push_back(i * 1e-3f);
  std::vector<float> xs = sig;
  sigmoid(sig);
  double worst = 0.0;
  for (size_t i = 0; i < xs.size(); ++i) {
    double x = std::min(std::max(static_cast<double>(xs[i]), -60.0), 60.0);
    double want = 1.0 / (1.0 + std::exp(-x));
    worst = std::max(worst, std::abs(sig[i] - want) / want);
  }
  check(worst < 1e-6 && sig[80000] == 0.5f, "sigmoid within 1e-6 (relative) of the exact one on [-80, 80]");
  TrackerConfig c;
  c.tau = 1.5;
  threw = false;
  try { c.validate(); } catch (const Error& e) { threw = std::string(e.what()).find("tau") != std::string::npos; }
  check(threw, "an out-of-range tau is refused by name");
  check_bgra();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode.empty()) {
      checks();
      std::printf(failures ? "%d check(s) failed\n" : "all checks passed\n", failures);
      return failures ? 1 : 0;
    }
    const bool codes = mode == "frame" && argc == 7 && std::string(argv[6]) == "int8";
    if ((mode == "frame" || mode == "mask") && (argc == 6 || codes)) {
      int h = std::stoi(argv[3]), w = std::stoi(argv[4]);
      if (mode == "frame") {
        tools::Image img = tools::read_pnm(argv[2], 3);
        ImageView view{img.pixels.data(), img.height, img.width, 3, static_cast<int64_t>(img.width) * 3};
        Tensor input = Tensor::zeros({1, 3, h, w}, codes ? DType::kInt8 : DType::kFloat32);
        std::vector<int16_t> scratch;
        frame_to_input(view, input, scratch);
        if (codes)
          std::ofstream(argv[5], std::ios::binary).write(reinterpret_cast<const char*>(input.codes.data()),
                                                         static_cast<std::streamsize>(input.codes.size()));
        else
          write_floats(argv[5], input.data);
      } else {
        tools::Image img = tools::read_pnm(argv[2], 1);
        write_floats(argv[5], mask_to_model(img.pixels, img.height, img.width, h, w));
      }
      return 0;
    }
    if (mode == "manifest" && argc == 3) {
      Manifest m = load_manifest(argv[2]);
      std::printf("%s %dx%d %zu subgraphs\n", m.target.c_str(), m.height, m.width, m.subgraphs.size());
      return 0;
    }
    std::fprintf(stderr, "usage: reusevos-native-selftest [frame IN.ppm H W OUT [int8] | mask IN.pgm H W OUT | manifest DIR]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
