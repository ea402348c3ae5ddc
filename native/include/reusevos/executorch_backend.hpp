// The ExecuTorch backend: one multi-method .pte (one method per subgraph; XNNPACK + portable kernels),
// memory-mapped, every method loaded up front so no load cost falls inside a tracked frame.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "reusevos/backend.hpp"
#include "reusevos/manifest.hpp"
#include "reusevos/session.hpp"

namespace reusevos {

class ExecuTorchBackend : public Backend {
 public:
  // Error naming the bundle when it is not an ExecuTorch bundle or a method fails to load.
  // num_threads > 0 sizes ExecuTorch's thread pool (one per process: the last backend opened with a
  // count sets it for all); 0 keeps ExecuTorch's default (one thread per performance core).
  explicit ExecuTorchBackend(const Manifest& manifest, int num_threads = 0);
  ~ExecuTorchBackend() override;
  std::vector<Tensor> run(const SubgraphSpec& graph, const std::vector<const Tensor*>& inputs) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Session::open's / run_benchmark's factory for this backend.
inline Session::BackendFactory executorch_factory(int num_threads) {
  return [num_threads](const Manifest& m) { return std::make_unique<ExecuTorchBackend>(m, num_threads); };
}

}  // namespace reusevos
