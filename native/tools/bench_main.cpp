// reusevos-native-bench: the reusevos-bench protocol run by the native tracker core, for the host harness
// (`reusevos-bench --native`) and the demo apps' benchmark mode. Writes the measurement dict every
// reusevos-bench device returns (reusevos_edge/bench/assemble.py MEASUREMENT_KEYS), plus RSS samples.
//
//   reusevos-native-bench --bundle DIR --frames DIR --mask [FRAME:]IDS.pgm --out FILE.json [--name NAME]
//                         [--frame-count N] [--threads N] [--warmup N] [--cooldown-s S] [--tau T] [--rss-every N]
//
// The protocol is reusevos/benchmark.hpp's (energy from the host's RAPL counter where readable); this tool
// reads PPM frames and PGM masks, decoded before anything is timed, and writes the JSON atomically.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common.hpp"
#include "pnm.hpp"
#include "reusevos/benchmark.hpp"
#include "reusevos/error.hpp"
#include "reusevos/executorch_backend.hpp"
#include "reusevos/json.hpp"

namespace fs = std::filesystem;
using namespace reusevos;
using tools::parse_double;
using tools::parse_int;

namespace {

struct Args {
  BenchmarkOptions options;
  std::string frames, out;
  std::map<int, std::string> masks;
};

[[noreturn]] void usage(const std::string& why) {
  throw Error(why + "\nusage: reusevos-native-bench --bundle DIR --frames DIR --mask [FRAME:]IDS.pgm --out FILE.json "
                    "[--name NAME] [--frame-count N] [--threads N] [--warmup N] [--cooldown-s S] [--tau T] [--rss-every N]");
}

Args parse(int argc, char** argv) {
  Args a;
  for (const auto& [k, v] : tools::option_pairs(argc, argv)) {
    if (k == "--bundle") a.options.bundle = v;
    else if (k == "--frames") a.frames = v;
    else if (k == "--out") a.out = v;
    else if (k == "--name") a.options.name = v;
    else if (k == "--frame-count") a.options.frame_count = parse_int(v, k);
    else if (k == "--threads") a.options.threads = parse_int(v, k);
    else if (k == "--warmup") a.options.warmup = parse_int(v, k);
    else if (k == "--rss-every") a.options.rss_every = parse_int(v, k);
    else if (k == "--cooldown-s") a.options.cooldown_s = parse_double(v, k);
    else if (k == "--tau") a.options.tau = parse_double(v, k);
    else if (k == "--mask") {
      auto [start, file] = tools::parse_mask_arg(v);
      a.masks[start] = file;
    } else usage("unknown option " + k);
  }
  if (a.options.bundle.empty() || a.frames.empty() || a.out.empty() || a.masks.empty())
    usage("--bundle, --frames, --mask and --out are required");
  a.options.validate();
  return a;
}

int run(const Args& args) {
  std::vector<std::string> files = tools::frame_files(args.frames, 0);
  std::vector<tools::Image> images;
  for (const auto& f : files) images.push_back(tools::read_pnm(f, 3));  // decoded before timing
  for (size_t i = 1; i < images.size(); ++i)
    if (images[i].width != images[0].width || images[i].height != images[0].height)
      throw Error(files[i] + ": its size differs from the first frame's");
  BenchmarkClip clip;
  clip.starts = tools::read_starts(args.masks, images[0], files.size());
  for (const auto& img : images)
    clip.frames.push_back(ImageView{img.pixels.data(), img.height, img.width, 3, static_cast<int64_t>(img.width) * 3});
  RaplProbe probe;
  const std::string doc = run_benchmark(args.options, clip, probe, {"ExecuTorch", executorch_factory(args.options.threads)});
  const std::string temp = args.out + ".partial";
  std::ofstream(temp) << doc;
  fs::rename(temp, args.out);
  const json::Value m = json::parse(doc, "measurement");
  std::vector<double> frame_ms, host_ms;
  const auto& per_frame = m.at("per_frame_ms", "measurement").as_array("per_frame_ms");
  const auto& inside = m.at("per_frame_subgraph_ms", "measurement").as_array("per_frame_subgraph_ms");
  for (size_t i = 1; i < per_frame.size(); ++i) {
    frame_ms.push_back(per_frame[i].number);
    host_ms.push_back(per_frame[i].number - inside[i].number);
  }
  std::printf("%s: %zu frames, %.1f ms/frame (trimmed), host %.2f ms/frame -> %s\n", args.options.name.c_str(),
              per_frame.size(), tools::trimmed_mean(frame_ms), tools::trimmed_mean(host_ms), args.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return reusevos::tools::guarded_main([&] { return run(parse(argc, argv)); });
}
