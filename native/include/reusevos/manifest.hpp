// A bundle's manifest.json: what the bundle holds, how to feed it, the tracker options it was tuned
// with, and the sha256 of every file (verified on load, as reusevos_edge.runtime.bundle_format does).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reusevos/tensor.hpp"

namespace reusevos {

constexpr int kFormatVersion = 3;  // reusevos_edge.runtime.bundle_format.FORMAT_VERSION

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat32;  // int8 only for backbone_low's image in an int8 bundle (codes)
};

// One stateless fixed-shape program; `repeat` is how many times the host runs it in a row (score_refit).
struct SubgraphSpec {
  std::string name;
  int repeat = 1;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Index of input/output `name`; Error naming the subgraph when absent.
  size_t input_index(const std::string& name) const;
  size_t output_index(const std::string& name) const;
};

// The tracker's options (reusevos_edge.tracker.config.TrackerConfig); a negative bound/radius means None.
struct TrackerConfig {
  double tau = 0.5;
  int keyframe_bound = -1;
  int locality_radius = -1;
  double delta_scale = 1.0;
  int update_every = 8;
  double learning_rate = 0.1;
  bool gate_calibrated = false;
  double gate_a = 1.0, gate_b = 0.0;

  // Error naming the option when one is out of range (the Python config's checks).
  void validate() const;
  // P_gate as the host reads the program's p: sigmoid(a logit(p) + b) with p clipped to [1e-7, 1 - 1e-7].
  double gate_probability(double p) const;
  // The options as the Python TrackerConfig.to_json() writes them (gate_calibration only when set).
  std::string to_json() const;
};

struct Manifest {
  std::string bundle_dir;
  std::string target;
  std::string artifact;
  std::string precision;
  int height = 0, width = 0;  // model frame size
  std::map<std::string, SubgraphSpec> subgraphs;
  TrackerConfig tracker;

  const SubgraphSpec& subgraph(const std::string& name) const;
};

// Read `bundle_dir`/manifest.json; with `verify` check its manifest_sha256, every file's sha256, no
// missing or extra files, the frame size against backbone_low, and that no tensor but backbone_low's image
// is int8. Error naming the bundle otherwise.
Manifest load_manifest(const std::string& bundle_dir, bool verify = true);

}  // namespace reusevos
