#include "pnm.hpp"

#include <fstream>

#include "reusevos/error.hpp"

namespace reusevos::tools {
namespace {

int header_int(std::istream& in, const std::string& path) {
  while (true) {
    int c = in.peek();
    if (c == '#') { std::string line; std::getline(in, line); continue; }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') { in.get(); continue; }
    break;
  }
  int v = -1;
  if (!(in >> v) || v <= 0) throw Error(path + ": bad PNM header");
  return v;
}

}  // namespace

Image read_pnm(const std::string& path, int channels) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path);
  std::string magic(2, ' ');
  in.read(&magic[0], 2);
  const std::string want = channels == 3 ? "P6" : "P5";
  if (magic != want)
    throw Error(path + ": expected a binary " + (channels == 3 ? "PPM (P6, RGB)" : "PGM (P5, one byte per pixel)") +
                " file");
  Image img;
  img.channels = channels;
  img.width = header_int(in, path);
  img.height = header_int(in, path);
  if (header_int(in, path) != 255) throw Error(path + ": expected maxval 255 (8-bit samples)");
  in.get();  // the single whitespace after maxval
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * channels);
  in.read(reinterpret_cast<char*>(img.pixels.data()), static_cast<std::streamsize>(img.pixels.size()));
  if (in.gcount() != static_cast<std::streamsize>(img.pixels.size())) throw Error(path + ": truncated pixel data");
  return img;
}

void write_pgm(const std::string& path, const std::vector<uint8_t>& pixels, int width, int height) {
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << width << " " << height << "\n255\n";
  out.write(reinterpret_cast<const char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
  if (!out) throw Error("cannot write " + path);
}

}  // namespace reusevos::tools
