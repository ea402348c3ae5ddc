// How the tracker calls a subgraph, whatever executes it (ExecuTorch here; Core ML from Objective-C++
// or LiteRT plug in behind the same interface).
#pragma once

#include <string>
#include <vector>

#include "reusevos/manifest.hpp"
#include "reusevos/tensor.hpp"

namespace reusevos {

class Backend {
 public:
  virtual ~Backend() = default;
  // Run `graph` on `inputs` (contract order, shapes as in the manifest); outputs in contract order.
  virtual std::vector<Tensor> run(const SubgraphSpec& graph, const std::vector<const Tensor*>& inputs) = 0;
};

}  // namespace reusevos
