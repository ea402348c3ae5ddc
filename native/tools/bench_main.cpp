// reusevos-native-bench: the reusevos-bench protocol run by the native tracker core, for the host harness
// (`reusevos-bench --native`) and the demo apps' benchmark mode. Writes the measurement dict every
// reusevos-bench device returns (reusevos_edge/bench/assemble.py MEASUREMENT_KEYS), plus RSS samples.
//
//   reusevos-native-bench --bundle DIR --frames DIR --mask [FRAME:]IDS.pgm --out FILE.json [--name NAME]
//                         [--frame-count N] [--threads N] [--warmup N] [--cooldown-s S] [--tau T] [--rss-every N]
//
// Protocol (as reusevos_edge.bench.protocol): cooldown; load (verify the manifest, load every method),
// timed; warm-up frames, untimed; then the clip from a reset tracker with every step and subgraph call
// timed and the process's CPU time (and RAPL energy where readable) read around it. --frame-count longer
// than the folder plays the frames forward and back (a long run for memory, with continuous motion).
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
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
using tools::parse_double;
using tools::parse_int;

namespace {

struct Args {
  std::string bundle, frames, out, name = "native";
  std::map<int, std::string> masks;
  int frame_count = 0, threads = 1, warmup = 3, rss_every = 100;
  double cooldown_s = 2.0;
  std::optional<double> tau;
};

[[noreturn]] void usage(const std::string& why) {
  throw Error(why + "\nusage: reusevos-native-bench --bundle DIR --frames DIR --mask [FRAME:]IDS.pgm --out FILE.json "
                    "[--name NAME] [--frame-count N] [--threads N] [--warmup N] [--cooldown-s S] [--tau T] [--rss-every N]");
}

Args parse(int argc, char** argv) {
  Args a;
  for (const auto& [k, v] : tools::option_pairs(argc, argv)) {
    if (k == "--bundle") a.bundle = v;
    else if (k == "--frames") a.frames = v;
    else if (k == "--out") a.out = v;
    else if (k == "--name") a.name = v;
    else if (k == "--frame-count") a.frame_count = parse_int(v, k);
    else if (k == "--threads") a.threads = parse_int(v, k);
    else if (k == "--warmup") a.warmup = parse_int(v, k);
    else if (k == "--rss-every") a.rss_every = parse_int(v, k);
    else if (k == "--cooldown-s") a.cooldown_s = parse_double(v, k);
    else if (k == "--tau") a.tau = parse_double(v, k);
    else if (k == "--mask") {
      auto [start, file] = tools::parse_mask_arg(v);
      a.masks[start] = file;
    } else usage("unknown option " + k);
  }
  if (a.bundle.empty() || a.frames.empty() || a.out.empty() || a.masks.empty())
    usage("--bundle, --frames, --mask and --out are required");
  if (a.frame_count < 0 || a.warmup < 0 || a.threads < 0 || a.rss_every < 1 || a.cooldown_s < 0)
    usage("--frame-count, --warmup, --threads, --cooldown-s must be >= 0 and --rss-every >= 1");
  return a;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Peak resident memory of this program: VmHWM (the high-water mark of this process image; ru_maxrss would
// also count the parent's memory copied by fork before exec), else getrusage.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  double kib = 0;
  while (status >> key) {
    if (key == "VmHWM:" && status >> kib) return kib / 1024.0;
    status.ignore(1 << 16, '\n');
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // KiB on Linux and Android
}

double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// The package-domain RAPL counter (uJ), or why there is none (reusevos_edge.bench.energy.RaplCounter).
struct Rapl {
  std::string file, source;
  std::optional<double> read() const {
    std::ifstream in(file);
    double uj = 0;
    if (file.empty() || !(in >> uj)) return std::nullopt;
    return uj;
  }
  static Rapl open() {
    const std::string root = "/sys/class/powercap";
    std::string found;
    if (fs::is_directory(root))
      for (const auto& e : fs::directory_iterator(root))
        if (e.path().filename().string().rfind("intel-rapl:", 0) == 0 &&
            e.path().filename().string().find(':', 11) == std::string::npos && fs::exists(e.path() / "energy_uj"))
          found = (e.path() / "energy_uj").string();
    if (found.empty()) return {"", "unavailable: no RAPL package domain under " + root};
    Rapl r{found, "rapl:" + found};
    if (!r.read()) return {"", "unavailable: " + found + " is not readable"};
    return r;
  }
};

// "init" if an object started, else "computed"/"reused" when every object agrees, else "mixed".
std::string frame_kind(const FrameRecord& r) {
  bool init = r.objects.empty(), compute = false, reuse = false;
  for (const auto& [id, o] : r.objects) {
    init = init || o.decision == "init";
    compute = compute || o.decision == "compute";
    reuse = reuse || o.decision == "reuse";
  }
  if (init) return "init";
  return compute && reuse ? "mixed" : compute ? "computed" : "reused";
}

std::string numbers(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + json::number(v[i]);
  return s + "]";
}

int run(const Args& args) {
  std::vector<std::string> files = tools::frame_files(args.frames, 0);
  std::vector<tools::Image> images;
  for (const auto& f : files) images.push_back(tools::read_pnm(f, 3));  // decoded before timing
  for (size_t i = 1; i < images.size(); ++i)
    if (images[i].width != images[0].width || images[i].height != images[0].height)
      throw Error(files[i] + ": its size differs from the first frame's");
  auto starts = tools::read_starts(args.masks, images[0], files.size());
  const int count = args.frame_count > 0 ? args.frame_count : static_cast<int>(files.size());
  if (count < 2) throw Error("--frame-count " + std::to_string(count) + ": expected at least 2 frames");
  const int n = static_cast<int>(files.size()), period = n > 1 ? 2 * n - 2 : 1;
  auto image_of = [&](int i) -> const tools::Image& {  // forward, then back (ping-pong)
    int k = i % period;
    return images[k < n ? k : period - k];
  };
  auto step = [&](Tracker& tracker, int i) {
    const tools::Image& img = image_of(i);
    ImageView view{img.pixels.data(), img.height, img.width, 3, static_cast<int64_t>(img.width) * 3};
    auto found = i < n ? starts.find(i) : starts.end();
    return tracker.step(view, found == starts.end() ? std::map<int, Mask>{} : found->second);
  };

  std::this_thread::sleep_for(std::chrono::duration<double>(args.cooldown_s));
  auto t0 = std::chrono::steady_clock::now();
  Manifest manifest = load_manifest(args.bundle);
  ExecuTorchBackend backend(manifest, args.threads);
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  TrackerConfig config = manifest.tracker;
  if (args.tau) config.tau = *args.tau;
  config.validate();
  Tracker tracker(manifest, backend, config);
  for (int i = 0; i < std::min(args.warmup, n); ++i) step(tracker, i);
  tracker.reset();

  std::vector<double> frame_ms, subgraph_ms;
  std::vector<std::string> kinds;
  std::map<std::string, double> graph_total;
  std::map<std::string, int> calls;
  std::string rss = "[";
  int computed = 0, reused = 0;
  const Rapl rapl = Rapl::open();
  const auto uj0 = rapl.read();
  const double cpu0 = cpu_seconds();
  for (int i = 0; i < count; ++i) {
    auto s = std::chrono::steady_clock::now();
    FrameResult r = step(tracker, i);
    frame_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
    double inside = 0.0;
    for (size_t k = 0; k < r.record.ran.size(); ++k) {
      inside += r.record.ran_ms[k];
      graph_total[r.record.ran[k]] += r.record.ran_ms[k];
      calls[r.record.ran[k]] += 1;
    }
    subgraph_ms.push_back(inside);
    kinds.push_back(frame_kind(r.record));
    for (const auto& [id, o] : r.record.objects) {
      computed += o.decision == "compute";
      reused += o.decision == "reuse";
    }
    if (i % args.rss_every == 0 || i == count - 1)
      rss += (rss.size() > 1 ? "," : "") + ("[" + std::to_string(i) + "," + json::number(current_rss_mb()) + "]");
  }
  const double cpu = cpu_seconds() - cpu0;
  const auto uj1 = rapl.read();
  std::string per_graph = "{", call_json = "{";
  for (const auto& [name, total] : graph_total) {
    per_graph += (per_graph.size() > 1 ? "," : "") + json::quote(name) + ":" + json::number(total / calls[name]);
    call_json += (call_json.size() > 1 ? "," : "") + json::quote(name) + ":" + std::to_string(calls[name]);
  }
  uintmax_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(args.bundle))
    if (e.is_regular_file()) bytes += e.file_size();
  const int gated = computed + reused;
  std::string doc = "{\"name\":" + json::quote(args.name) + ",\"target\":" + json::quote(manifest.target) +
                    ",\"precision\":" + json::quote(manifest.precision) + ",\"bundle\":" + json::quote(args.bundle) +
                    ",\"size_mb\":" + json::number(bytes / 1e6) + ",\"load_ms\":" + json::number(load_ms) +
                    ",\"frames\":" + std::to_string(count) + ",\"per_frame_ms\":" + numbers(frame_ms) +
                    ",\"per_frame_subgraph_ms\":" + numbers(subgraph_ms) + ",\"per_frame_kind\":[";
  for (size_t i = 0; i < kinds.size(); ++i) doc += (i ? "," : "") + json::quote(kinds[i]);
  doc += "],\"per_subgraph_ms\":" + per_graph + "},\"calls\":" + call_json + "},\"computed\":" + std::to_string(computed) +
         ",\"reused\":" + std::to_string(reused) + ",\"reuse_rate\":" +
         (gated ? json::number(static_cast<double>(reused) / gated) : "null") +
         ",\"cpu_seconds_per_frame\":" + json::number(cpu / count) + ",\"peak_memory_mb\":" + json::number(peak_rss_mb()) +
         ",\"joules_per_frame\":" + (uj0 && uj1 ? json::number((*uj1 - *uj0) * 1e-6 / count) : "null") +
         ",\"energy_source\":" + json::quote(rapl.source) + ",\"tracker\":" + config.to_json() +
         ",\"rss_mb\":" + rss + "],\"notes\":[\"native tracker core (C++) over ExecuTorch\"]}\n";
  const std::string temp = args.out + ".partial";
  std::ofstream(temp) << doc;
  fs::rename(temp, args.out);
  std::printf("%s: %d frames, %.1f ms/frame (trimmed), host %.2f ms/frame -> %s\n", args.name.c_str(), count,
              tools::trimmed_mean(std::vector<double>(frame_ms.begin() + 1, frame_ms.end())),
              tools::trimmed_mean([&] {
                std::vector<double> h;
                for (size_t i = 1; i < frame_ms.size(); ++i) h.push_back(frame_ms[i] - subgraph_ms[i]);
                return h;
              }()),
              args.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return reusevos::tools::guarded_main([&] { return run(parse(argc, argv)); });
}
