#include "reusevos/executorch_backend.hpp"

#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor.h>

#include "reusevos/error.hpp"

// The executorch wheel ships libexecutorch_threadpool.so but not its header; these two declarations
// match extension/threadpool/threadpool.h (an ExecuTorch source tree or the Android/iOS packages have
// the header itself).
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

namespace reusevos {

using executorch::extension::Module;
using executorch::runtime::EValue;

struct ExecuTorchBackend::Impl {
  std::unique_ptr<Module> module;
  std::string where;
};

ExecuTorchBackend::ExecuTorchBackend(const Manifest& manifest, int num_threads) : impl_(std::make_unique<Impl>()) {
  impl_->where = "bundle " + manifest.bundle_dir;
  if (manifest.target != "executorch")
    throw Error(impl_->where + ": target \"" + manifest.target + "\", the ExecuTorch backend runs \"executorch\" bundles");
  if (num_threads < 0) throw Error("num_threads=" + std::to_string(num_threads) + ": expected 0 (default) or more");
  if (num_threads > 0) {
    auto* pool = executorch::extension::threadpool::get_threadpool();
    if (pool != nullptr && pool->get_thread_count() != static_cast<size_t>(num_threads))
      pool->_unsafe_reset_threadpool(static_cast<uint32_t>(num_threads));
  }
  impl_->module = std::make_unique<Module>(manifest.bundle_dir + "/" + manifest.artifact, Module::LoadMode::Mmap);
  for (const auto& [name, graph] : manifest.subgraphs) {
    auto error = impl_->module->load_method(name);
    if (error != executorch::runtime::Error::Ok)
      throw Error(impl_->where + ": method " + name + " of " + manifest.artifact + " failed to load (ExecuTorch error " +
                  std::to_string(static_cast<int>(error)) + ")");
  }
}

ExecuTorchBackend::~ExecuTorchBackend() = default;

std::vector<Tensor> ExecuTorchBackend::run(const SubgraphSpec& graph, const std::vector<const Tensor*>& inputs) {
  std::vector<executorch::extension::TensorPtr> keep;
  std::vector<EValue> values;
  for (const Tensor* t : inputs) {
    std::vector<executorch::aten::SizesType> sizes(t->shape.begin(), t->shape.end());
    // ExecuTorch reads inputs only; from_blob borrows the buffer for the call
    if (t->dtype == DType::kInt8)
      keep.push_back(executorch::extension::from_blob(const_cast<int8_t*>(t->codes.data()), sizes,
                                                      executorch::aten::ScalarType::Char));
    else
      keep.push_back(executorch::extension::from_blob(const_cast<float*>(t->data.data()), sizes));
    values.emplace_back(*keep.back());
  }
  auto result = impl_->module->execute(graph.name, values);
  if (!result.ok())
    throw Error(impl_->where + ": subgraph " + graph.name + " failed (ExecuTorch error " +
                std::to_string(static_cast<int>(result.error())) + ")");
  if (result->size() != graph.outputs.size())
    throw Error(impl_->where + ": subgraph " + graph.name + " returned " + std::to_string(result->size()) +
                " outputs, the manifest lists " + std::to_string(graph.outputs.size()));
  std::vector<Tensor> outs;
  for (size_t i = 0; i < result->size(); ++i) {
    const auto& t = result->at(i).toTensor();
    Tensor out;
    out.shape = graph.outputs[i].shape;
    if (t.numel() != out.numel())
      throw Error(impl_->where + ": subgraph " + graph.name + " output " + graph.outputs[i].name + " has " +
                  std::to_string(t.numel()) + " values, the manifest's shape " + shape_text(out.shape) + " holds " +
                  std::to_string(out.numel()));
    const float* p = t.const_data_ptr<float>();
    out.data.assign(p, p + t.numel());
    outs.push_back(std::move(out));
  }
  return outs;
}

}  // namespace reusevos
