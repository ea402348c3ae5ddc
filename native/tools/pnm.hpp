// Binary PPM (P6, RGB) and PGM (P5, one byte per pixel) files: the std-only image format of the tools
// (convert video with e.g. `ffmpeg -i clip.mp4 frames/%05d.ppm`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reusevos::tools {

struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // row-major, interleaved
};

// Error naming the file when it is not a maxval-255 P6 (channels 3) / P5 (channels 1) file.
Image read_pnm(const std::string& path, int channels);
void write_pgm(const std::string& path, const std::vector<uint8_t>& pixels, int width, int height);

}  // namespace reusevos::tools
