#include "common.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "reusevos/error.hpp"

namespace fs = std::filesystem;

namespace reusevos::tools {
namespace {

// PGM of object ids -> id -> 0/1 mask (0 = background, 255 = void, ignored).
std::map<int, Mask> masks_from_ids(const Image& ids, const std::string& path) {
  std::map<int, Mask> masks;
  for (size_t i = 0; i < ids.pixels.size(); ++i) {
    int id = ids.pixels[i];
    if (id == 0 || id == 255) continue;
    auto& m = masks[id];
    if (m.empty()) m.assign(ids.pixels.size(), 0);
    m[i] = 1;
  }
  if (masks.empty()) throw Error("--mask " + path + " holds no object (every pixel is 0 or 255)");
  return masks;
}

}  // namespace

std::vector<std::string> frame_files(const std::string& dir, int max_frames) {
  if (!fs::is_directory(dir)) throw Error("--frames " + dir + " is not a folder (expected a folder of .ppm frames)");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".ppm") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw Error("--frames " + dir + " holds no .ppm frames (convert with ffmpeg -i VIDEO " + dir + "/%05d.ppm)");
  if (max_frames > 0 && static_cast<int>(files.size()) > max_frames) files.resize(max_frames);
  return files;
}

std::map<int, std::map<int, Mask>> read_starts(const std::map<int, std::string>& masks, const Image& first,
                                               size_t frame_count) {
  std::map<int, std::map<int, Mask>> starts;
  for (const auto& [frame, path] : masks) {
    if (frame < 0 || frame >= static_cast<int>(frame_count))
      throw Error("--mask " + path + ": start frame " + std::to_string(frame) + " is outside the clip's " +
                  std::to_string(frame_count) + " frames");
    Image ids = read_pnm(path, 1);
    if (ids.width != first.width || ids.height != first.height)
      throw Error("--mask " + path + ": " + std::to_string(ids.width) + "x" + std::to_string(ids.height) +
                  " does not match the frames' " + std::to_string(first.width) + "x" + std::to_string(first.height));
    starts[frame] = masks_from_ids(ids, path);
  }
  return starts;
}

std::pair<int, std::string> parse_mask_arg(const std::string& value) {
  size_t colon = value.find(':');
  if (colon == std::string::npos) return {0, value};
  return {parse_int(value.substr(0, colon), "--mask frame"), value.substr(colon + 1)};
}

double trimmed_mean(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  size_t cut = values.size() / 10;
  double sum = 0.0;
  for (size_t i = cut; i < values.size() - cut; ++i) sum += values[i];
  return sum / static_cast<double>(values.size() - 2 * cut);
}

int parse_int(const std::string& text, const std::string& option) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(text, &used);
  } catch (...) {
    used = 0;
  }
  if (text.empty() || used != text.size()) throw Error(option + ": expected an integer, got \"" + text + "\"");
  return v;
}

double parse_double(const std::string& text, const std::string& option) {
  size_t used = 0;
  double v = 0.0;
  try {
    v = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  if (text.empty() || used != text.size()) throw Error(option + ": expected a number, got \"" + text + "\"");
  return v;
}

std::vector<std::pair<std::string, std::string>> option_pairs(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) throw Error(std::string(argv[i]) + " needs a value");
    pairs.emplace_back(argv[i], argv[i + 1]);
  }
  return pairs;
}

int guarded_main(const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}

}  // namespace reusevos::tools
