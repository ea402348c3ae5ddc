#include "reusevos/benchmark.hpp"

#include <sys/resource.h>
#include <unistd.h>
#ifdef __APPLE__
#include <mach/mach.h>
#endif

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "reusevos/error.hpp"
#include "reusevos/json.hpp"
#include "reusevos/manifest.hpp"

namespace fs = std::filesystem;

namespace reusevos {
namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Peak resident memory of this process: VmHWM (the high-water mark of this process image; ru_maxrss would
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
#ifdef __APPLE__
  return u.ru_maxrss / (1024.0 * 1024.0);  // bytes on Darwin
#else
  return u.ru_maxrss / 1024.0;  // KiB on Linux and Android
#endif
}

double current_rss_mb() {
#ifdef __APPLE__
  mach_task_basic_info_data_t info{};
  mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
  if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, reinterpret_cast<task_info_t>(&info), &count) != KERN_SUCCESS) return 0.0;
  return info.resident_size / (1024.0 * 1024.0);
#endif
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

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

// The clip's frames and masks against each other, before anything is loaded.
void check_clip(const BenchmarkClip& clip) {
  if (clip.frames.size() < 2) throw Error("clip: expected at least 2 frames, got " + std::to_string(clip.frames.size()));
  const ImageView& first = clip.frames[0];
  for (size_t i = 0; i < clip.frames.size(); ++i) {
    const ImageView& f = clip.frames[i];
    if (f.data == nullptr || f.height != first.height || f.width != first.width)
      throw Error("frame " + std::to_string(i) + ": expected " + std::to_string(first.width) + "x" +
                  std::to_string(first.height) + " pixels like frame 0, got " + std::to_string(f.width) + "x" +
                  std::to_string(f.height));
  }
  if (clip.starts.empty()) throw Error("masks: expected at least one first mask");
  const size_t pixels = static_cast<size_t>(first.height) * first.width;
  for (const auto& [start, masks] : clip.starts) {
    if (start < 0 || start >= static_cast<int>(clip.frames.size()))
      throw Error("mask for frame " + std::to_string(start) + ": the clip has frames 0.." +
                  std::to_string(clip.frames.size() - 1));
    for (const auto& [id, mask] : masks)
      if (mask.size() != pixels)
        throw Error("mask of object " + std::to_string(id) + ": " + std::to_string(mask.size()) + " values, the frames have " +
                    std::to_string(pixels) + " pixels");
  }
}

}  // namespace

BenchmarkOptions BenchmarkOptions::from_json(const std::string& text) {
  const json::Value doc = json::parse(text, "benchmark options");
  if (doc.kind != json::Value::Kind::Object) throw Error("benchmark options: expected a JSON object");
  BenchmarkOptions o;
  for (const auto& [key, v] : doc.members) {
    const std::string where = "benchmark option " + key;
    if (key == "bundle") o.bundle = v.as_string(where);
    else if (key == "name") o.name = v.as_string(where);
    else if (key == "frame_count") o.frame_count = static_cast<int>(v.as_int(where));
    else if (key == "threads") o.threads = static_cast<int>(v.as_int(where));
    else if (key == "warmup") o.warmup = static_cast<int>(v.as_int(where));
    else if (key == "rss_every") o.rss_every = static_cast<int>(v.as_int(where));
    else if (key == "cooldown_s") o.cooldown_s = v.as_number(where);
    else if (key == "tau") o.tau = v.is_null() ? std::nullopt : std::optional<double>(v.as_number(where));
    else throw Error(where + ": unknown (expected bundle, name, frame_count, threads, warmup, rss_every, cooldown_s, tau)");
  }
  o.validate();
  return o;
}

void BenchmarkOptions::validate() const {
  if (bundle.empty()) throw Error("benchmark option bundle: expected a bundle folder");
  if (frame_count < 0 || warmup < 0 || threads < 0 || rss_every < 1 || !(cooldown_s >= 0))
    throw Error("benchmark options: frame_count, warmup, threads, cooldown_s must be >= 0 and rss_every >= 1, got " +
                std::to_string(frame_count) + ", " + std::to_string(warmup) + ", " + std::to_string(threads) + ", " +
                json::number(cooldown_s) + ", " + std::to_string(rss_every));
}

RaplProbe::RaplProbe() {
  const std::string root = "/sys/class/powercap";
  std::error_code ec;
  if (fs::is_directory(root, ec))
    for (const auto& e : fs::directory_iterator(root, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("intel-rapl:", 0) == 0 && name.find(':', 11) == std::string::npos && fs::exists(e.path() / "energy_uj"))
        file_ = (e.path() / "energy_uj").string();
    }
  source_ = file_.empty() ? "unavailable: no RAPL package domain under " + root : "rapl:" + file_;
}

void RaplProbe::begin() {
  start_uj_.reset();
  double uj = 0;
  if (!file_.empty() && std::ifstream(file_) >> uj) start_uj_ = uj;
  else if (!file_.empty()) source_ = "unavailable: " + file_ + " is not readable";
}

std::string RaplProbe::end(int frames) {
  double uj = 0;
  const bool ok = start_uj_ && std::ifstream(file_) >> uj && frames > 0;
  return "{\"joules_per_frame\":" + (ok ? json::number((uj - *start_uj_) * 1e-6 / frames) : std::string("null")) +
         ",\"energy_source\":" + json::quote(source_) + "}";
}

std::string run_benchmark(const BenchmarkOptions& options, const BenchmarkClip& clip, BenchmarkProbe& probe,
                          const BenchmarkBackend& backend) {
  options.validate();
  if (!backend.make) throw Error("benchmark backend " + backend.name + ": no factory");
  check_clip(clip);
  const int n = static_cast<int>(clip.frames.size()), period = 2 * n - 2;
  const int count = options.frame_count > 0 ? options.frame_count : n;
  if (count < 2) throw Error("frame_count " + std::to_string(count) + ": expected at least 2 frames");
  const std::map<int, Mask> none;
  FrameResult r;  // one result for the run: its label buffer is reused, as a camera loop would
  auto step = [&](Tracker& tracker, int i) {  // forward, then back (ping-pong)
    const int k = i % period;
    auto found = i < n ? clip.starts.find(i) : clip.starts.end();
    tracker.step(clip.frames[k < n ? k : period - k], found == clip.starts.end() ? none : found->second, r);
  };

  std::this_thread::sleep_for(std::chrono::duration<double>(options.cooldown_s));
  auto t0 = std::chrono::steady_clock::now();
  Manifest manifest = load_manifest(options.bundle);
  std::unique_ptr<Backend> runner = backend.make(manifest);
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  TrackerConfig config = manifest.tracker;
  if (options.tau) config.tau = *options.tau;
  config.validate();
  Tracker tracker(manifest, *runner, config);
  for (int i = 0; i < std::min(options.warmup, n); ++i) step(tracker, i);
  tracker.reset();

  std::vector<double> frame_ms, subgraph_ms;
  std::vector<std::string> kinds;
  std::map<std::string, double> graph_total;
  std::map<std::string, int> calls;
  std::string rss = "[";
  int computed = 0, reused = 0;
  probe.begin();
  const double cpu0 = cpu_seconds();
  for (int i = 0; i < count; ++i) {
    auto s = std::chrono::steady_clock::now();
    step(tracker, i);
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
    if (i % options.rss_every == 0 || i == count - 1)
      rss += (rss.size() > 1 ? "," : "") + ("[" + std::to_string(i) + "," + json::number(current_rss_mb()) + "]");
  }
  const double cpu = cpu_seconds() - cpu0;
  const json::Value readings = json::parse(probe.end(count), "the benchmark probe's readings");
  if (readings.kind != json::Value::Kind::Object) throw Error("the benchmark probe's readings: expected a JSON object");

  std::string per_graph = "{", call_json = "{", kind_json = "[";
  for (const auto& [name, total] : graph_total) {
    per_graph += (per_graph.size() > 1 ? "," : "") + json::quote(name) + ":" + json::number(total / calls[name]);
    call_json += (call_json.size() > 1 ? "," : "") + json::quote(name) + ":" + std::to_string(calls[name]);
  }
  for (size_t i = 0; i < kinds.size(); ++i) kind_json += (i ? "," : "") + json::quote(kinds[i]);
  uintmax_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(options.bundle))
    if (e.is_regular_file()) bytes += e.file_size();
  const int gated = computed + reused;
  std::vector<std::pair<std::string, std::string>> doc = {
      {"name", json::quote(options.name)}, {"target", json::quote(manifest.target)},
      {"precision", json::quote(manifest.precision)}, {"bundle", json::quote(options.bundle)},
      {"size_mb", json::number(bytes / 1e6)}, {"load_ms", json::number(load_ms)}, {"frames", std::to_string(count)},
      {"per_frame_ms", numbers(frame_ms)}, {"per_frame_subgraph_ms", numbers(subgraph_ms)},
      {"per_frame_kind", kind_json + "]"}, {"per_subgraph_ms", per_graph + "}"}, {"calls", call_json + "}"},
      {"computed", std::to_string(computed)}, {"reused", std::to_string(reused)},
      {"reuse_rate", gated ? json::number(static_cast<double>(reused) / gated) : "null"},
      {"cpu_seconds_per_frame", json::number(cpu / count)}, {"peak_memory_mb", json::number(peak_rss_mb())},
      {"joules_per_frame", "null"}, {"energy_source", json::quote("unavailable: the probe reported none")},
      {"tracker", config.to_json()}, {"rss_mb", rss + "]"},
      {"notes", "[" + json::quote("native tracker core (C++) over " + backend.name) + "]"}};
  for (const auto& [key, value] : readings.members) {  // the probe's readings replace or extend
    auto it = std::find_if(doc.begin(), doc.end(), [&](const auto& kv) { return kv.first == key; });
    if (it != doc.end()) it->second = json::canonical(value);
    else doc.emplace_back(key, json::canonical(value));
  }
  std::string out = "{";
  for (const auto& [key, value] : doc) out += (out.size() > 1 ? "," : "") + json::quote(key) + ":" + value;
  return out + "}\n";
}

}  // namespace reusevos
