// The reusevos-bench protocol run by the native tracker core: what `reusevos-native-bench` (host) and the
// demo apps' benchmark mode (JNI: NativeTracker.benchmark; the C API's rv_benchmark for Swift) share. It returns the measurement dict every
// reusevos-bench device returns (reusevos_edge/bench/assemble.py MEASUREMENT_KEYS) plus RSS samples.
//
// Protocol (as reusevos_edge.bench.protocol): cooldown; load (verify the manifest, load every method),
// timed; warm-up frames, untimed; then the clip from a reset tracker with every step and subgraph call
// timed, the process's CPU time read around it, and the platform's probe (energy, memory) around it.
// A frame count longer than the clip plays the frames forward and back (a long run, continuous motion).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reusevos/image_ops.hpp"
#include "reusevos/session.hpp"
#include "reusevos/tracker.hpp"

namespace reusevos {

struct BenchmarkOptions {
  std::string bundle, name = "native";
  int frame_count = 0;  // 0: the clip's length
  int threads = 1, warmup = 3, rss_every = 100;
  double cooldown_s = 2.0;
  std::optional<double> tau;  // the bundle's own when absent

  // {"bundle", "name", "frame_count", "threads", "warmup", "rss_every", "cooldown_s", "tau"} (all but
  // "bundle" optional; "tau": null for the bundle's own); Error naming the bad member.
  static BenchmarkOptions from_json(const std::string& text);
  void validate() const;
};

// The decoded clip (decoded before anything is timed): frames of one size, and start frame -> (id -> mask).
struct BenchmarkClip {
  std::vector<ImageView> frames;
  std::map<int, std::map<int, Mask>> starts;
};

// Platform readings around the timed clip: begin() just before its first frame, end(frames) just after
// its last. end() returns a JSON object whose members replace or extend the measurement's (e.g.
// "joules_per_frame" and "energy_source" from a phone's battery counters, "pss_peak_mb").
class BenchmarkProbe {
 public:
  virtual ~BenchmarkProbe() = default;
  virtual void begin() = 0;
  virtual std::string end(int frames) = 0;
};

// The host's package-domain RAPL counter (/sys/class/powercap/intel-rapl:N/energy_uj), or, where there is
// none (phones, most VMs), "joules_per_frame": null with the reason as "energy_source".
class RaplProbe : public BenchmarkProbe {
 public:
  RaplProbe();
  void begin() override;
  std::string end(int frames) override;

 private:
  std::string file_, source_;
  std::optional<double> start_uj_;
};

// What runs the subgraphs: a name for the measurement's notes ("ExecuTorch", "Core ML") and the factory the
// timed load calls (executorch_factory(threads) in reusevos/executorch_backend.hpp, or a caller's runner).
struct BenchmarkBackend {
  std::string name;
  Session::BackendFactory make;
};

// Runs the protocol; the measurement as one JSON object (ends with a newline). Error naming the bad
// option, frame or mask before anything is loaded.
std::string run_benchmark(const BenchmarkOptions& options, const BenchmarkClip& clip, BenchmarkProbe& probe,
                          const BenchmarkBackend& backend);

}  // namespace reusevos
