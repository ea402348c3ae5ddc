// reusevos-native-track: a frames folder + first-frame id mask(s) through the native tracker over an
// ExecuTorch bundle -> one PGM label map per frame + records.json (the records reusevos-track writes,
// plus per-frame and per-subgraph milliseconds).
//
//   reusevos-native-track --bundle DIR --frames DIR --mask [FRAME:]IDS.pgm [--mask ...] --out DIR
//                         [--max-frames N] [--threads N] [--tau T] [--keyframe-bound K|none]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common.hpp"
#include "pnm.hpp"
#include "reusevos/error.hpp"
#include "reusevos/executorch_backend.hpp"
#include "reusevos/json.hpp"
#include "reusevos/manifest.hpp"
#include "reusevos/tracker.hpp"

namespace fs = std::filesystem;
using namespace reusevos;
using tools::parse_int;

namespace {

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal = sig; }

struct Args {
  std::string bundle, frames, out;
  std::map<int, std::string> masks;  // start frame -> PGM of object ids
  int max_frames = -1;
  int threads = 0;
  std::optional<double> tau;
  std::optional<int> keyframe_bound;
};

[[noreturn]] void usage(const std::string& why) {
  throw Error(why + "\nusage: reusevos-native-track --bundle DIR --frames DIR --mask [FRAME:]IDS.pgm [--mask ...] "
                    "--out DIR [--max-frames N] [--threads N] [--tau T] [--keyframe-bound K|none]");
}

Args parse(int argc, char** argv) {
  Args a;
  for (const auto& [k, v] : tools::option_pairs(argc, argv)) {
    if (k == "--bundle") a.bundle = v;
    else if (k == "--frames") a.frames = v;
    else if (k == "--out") a.out = v;
    else if (k == "--max-frames") a.max_frames = parse_int(v, k);
    else if (k == "--threads") a.threads = parse_int(v, k);
    else if (k == "--tau") a.tau = tools::parse_double(v, k);
    else if (k == "--keyframe-bound") a.keyframe_bound = v == "none" ? -1 : parse_int(v, k);
    else if (k == "--mask") {
      auto [start, file] = tools::parse_mask_arg(v);
      a.masks[start] = file;
    } else usage("unknown option " + k);
  }
  if (a.bundle.empty() || a.frames.empty() || a.out.empty() || a.masks.empty())
    usage("--bundle, --frames, --mask and --out are required");
  return a;
}

int run(const Args& args) {
  if (fs::exists(args.out) && !(fs::is_directory(args.out) && fs::is_empty(args.out)))
    throw Error("--out " + args.out + " exists and is not an empty folder");
  // every input checked before the long work starts
  std::vector<std::string> files = tools::frame_files(args.frames, args.max_frames);
  tools::Image first = tools::read_pnm(files[0], 3);
  auto starts = tools::read_starts(args.masks, first, files.size());
  Manifest manifest = load_manifest(args.bundle);
  TrackerConfig config = manifest.tracker;
  if (args.tau) config.tau = *args.tau;
  if (args.keyframe_bound) config.keyframe_bound = *args.keyframe_bound;
  config.validate();
  ExecuTorchBackend backend(manifest, args.threads);
  Tracker tracker(manifest, backend, config);

  const fs::path out = args.out, temp = args.out + ".partial";
  fs::remove_all(temp);
  fs::create_directories(temp / "labels");
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::string frames_json;
  std::vector<double> ms, host_ms;
  std::map<std::string, int> counts{{"init", 0}, {"compute", 0}, {"reuse", 0}, {"forced", 0}};
  const std::map<int, Mask> none;
  FrameResult r;  // reused from frame to frame
  for (size_t i = 0; i < files.size(); ++i) {
    if (g_signal) {
      fs::remove_all(temp);
      std::fprintf(stderr, "interrupted: nothing written\n");
      return 128 + g_signal;
    }
    tools::Image img = i == 0 ? first : tools::read_pnm(files[i], 3);
    if (img.width != first.width || img.height != first.height)
      throw Error(files[i] + ": " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                  " differs from the first frame's " + std::to_string(first.width) + "x" + std::to_string(first.height));
    ImageView view{img.pixels.data(), img.height, img.width, 3, static_cast<int64_t>(img.width) * 3};
    auto found = starts.find(static_cast<int>(i));
    auto t0 = std::chrono::steady_clock::now();
    tracker.step(view, found == starts.end() ? none : found->second, r);
    double step_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    double graphs = 0.0;
    for (double v : r.record.ran_ms) graphs += v;
    ms.push_back(step_ms);
    host_ms.push_back(step_ms - graphs);
    for (const auto& [id, o] : r.record.objects) {
      counts[o.decision] += 1;
      counts["forced"] += !o.forced.empty();
    }
    char name[32];
    std::snprintf(name, sizeof name, "%05zu.pgm", i);
    tools::write_pgm((temp / "labels" / name).string(), r.labels, r.width, r.height);
    std::string rec = r.record.to_json();
    rec.pop_back();
    rec += ",\"ms\":" + json::number(step_ms) + ",\"ran_ms\":[";
    for (size_t k = 0; k < r.record.ran_ms.size(); ++k) rec += (k ? "," : "") + json::number(r.record.ran_ms[k]);
    frames_json += (i ? "," : "") + rec + "]}";
  }
  int gated = counts["reuse"] + counts["compute"];
  std::vector<double> later(ms.begin() + 1, ms.end()), later_host(host_ms.begin() + 1, host_ms.end());
  double frame_ms = tools::trimmed_mean(later), hostm = tools::trimmed_mean(later_host);
  std::string doc = "{\"source\":" + json::quote(args.frames) + ",\"bundle\":" + json::quote(args.bundle) +
                    ",\"runtime\":\"native-executorch\",\"num_frames\":" + std::to_string(files.size()) +
                    ",\"reuse_rate\":" + (gated ? json::number(double(counts["reuse"]) / gated) : "null") +
                    ",\"decisions\":{\"init\":" + std::to_string(counts["init"]) + ",\"compute\":" +
                    std::to_string(counts["compute"]) + ",\"reuse\":" + std::to_string(counts["reuse"]) +
                    ",\"forced\":" + std::to_string(counts["forced"]) + "},\"config\":" + config.to_json() +
                    ",\"ms_per_frame\":" + json::number(frame_ms) + ",\"host_ms_per_frame\":" + json::number(hostm) +
                    ",\"frames\":[" + frames_json + "]}\n";
  std::ofstream(temp / "records.json") << doc;
  fs::remove_all(out);
  fs::rename(temp, out);
  std::printf("%zu frames, reuse rate %s, %.1f ms/frame (host %.2f ms) -> %s\n", files.size(),
              gated ? json::number(double(counts["reuse"]) / gated).c_str() : "-", frame_ms, hostm, args.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return reusevos::tools::guarded_main([&] { return run(parse(argc, argv)); });
}
