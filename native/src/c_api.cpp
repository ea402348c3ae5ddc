// The C API (reusevos/c_api.h) over the C++ core: every entry point catches, so no exception crosses.
#include "reusevos/c_api.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "reusevos/benchmark.hpp"
#include "reusevos/error.hpp"
#include "reusevos/session.hpp"
#ifdef REUSEVOS_WITH_EXECUTORCH
#include "reusevos/executorch_backend.hpp"
#endif

struct rv_tracker {
  std::unique_ptr<reusevos::Session> session;
  std::string record;  // the last step's record JSON
};

namespace {

using namespace reusevos;

void set_error(rv_error* error, const std::string& message) {
  if (error == nullptr) return;
  std::strncpy(error->message, message.c_str(), sizeof error->message - 1);
  error->message[sizeof error->message - 1] = '\0';
}

// Runs `body`; an exception becomes `fallback` and its message in `error`.
template <typename R, typename F>
R guarded(rv_error* error, R fallback, F body) {
  set_error(error, "");
  try {
    return body();
  } catch (const std::exception& e) {
    set_error(error, e.what());
  } catch (...) {
    set_error(error, "unknown failure in the native tracker core");
  }
  return fallback;
}

// The caller's subgraph runner behind the core's Backend interface.
class CallbackBackend : public Backend {
 public:
  explicit CallbackBackend(const rv_backend& callbacks) : callbacks_(callbacks) {
    char message[1024] = {0};
    if (callbacks_.load != nullptr && callbacks_.load(callbacks_.context, message, sizeof message) != 0)
      throw Error("the backend failed to load: " + std::string(message));
  }

  std::vector<Tensor> run(const SubgraphSpec& graph, const std::vector<const Tensor*>& inputs) override {
    std::vector<rv_tensor> in, out;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i]->dtype != DType::kFloat32)  // only an int8 ExecuTorch bundle's image; no callback runs one
        throw Error("subgraph " + graph.name + " input " + graph.inputs[i].name + " is " +
                    dtype_name(inputs[i]->dtype) + "; a caller's backend (rv_tensor) takes float32 tensors only");
      in.push_back(rv_tensor{graph.inputs[i].name.c_str(), inputs[i]->shape.data(), static_cast<int>(inputs[i]->shape.size()),
                             const_cast<float*>(inputs[i]->data.data()), static_cast<int64_t>(inputs[i]->data.size())});
    }
    std::vector<Tensor> outputs;
    for (const auto& spec : graph.outputs) outputs.push_back(Tensor::zeros(spec.shape));
    for (size_t k = 0; k < outputs.size(); ++k)
      out.push_back(rv_tensor{graph.outputs[k].name.c_str(), outputs[k].shape.data(),
                              static_cast<int>(outputs[k].shape.size()), outputs[k].data.data(),
                              static_cast<int64_t>(outputs[k].data.size())});
    char message[1024] = {0};
    if (callbacks_.run(callbacks_.context, graph.name.c_str(), in.data(), static_cast<int>(in.size()), out.data(),
                       static_cast<int>(out.size()), message, sizeof message) != 0)
      throw Error("subgraph " + graph.name + ": the backend failed: " + std::string(message));
    return outputs;
  }

 private:
  rv_backend callbacks_;
};

// The caller's runner (copied) as the factory Session::open and run_benchmark call; Error without `run`.
Session::BackendFactory callback_factory(const rv_backend* backend) {
  if (backend == nullptr || backend->run == nullptr) throw Error("backend: expected a run callback, got NULL");
  const rv_backend callbacks = *backend;
  return [callbacks](const Manifest&) { return std::make_unique<CallbackBackend>(callbacks); };
}

class CProbe : public BenchmarkProbe {
 public:
  explicit CProbe(const rv_probe* probe) : probe_(probe) {}
  void begin() override {
    if (probe_ && probe_->begin) probe_->begin(probe_->context);
  }
  std::string end(int frames) override {
    if (probe_ == nullptr || probe_->end == nullptr) return rapl_.end(frames);
    const char* text = probe_->end(probe_->context, frames);
    if (text == nullptr) throw Error("benchmark probe: end() returned NULL, expected a JSON object");
    return text;
  }

 private:
  const rv_probe* probe_;
  RaplProbe rapl_;  // without a probe: the host's RAPL counter, where readable
};

// ExecuTorch for the given thread count, or Error where this library was built without it (an iOS build
// over Core ML: -DREUSEVOS_EXECUTORCH=OFF).
Session::BackendFactory executorch(int num_threads) {
#ifdef REUSEVOS_WITH_EXECUTORCH
  return executorch_factory(num_threads);
#else
  (void)num_threads;
  throw Error("this libreusevos_c was built without ExecuTorch (REUSEVOS_EXECUTORCH=OFF): pass a subgraph runner "
              "(rv_tracker_open_with, rv_benchmark's backend)");
#endif
}

ImageView image_of(const uint8_t* pixels, int width, int height, int format, int64_t stride) {
  if (format != RV_RGB && format != RV_RGBA && format != RV_BGRA)
    throw Error("pixel format " + std::to_string(format) + ": expected RV_RGB (3), RV_RGBA (4) or RV_BGRA (0x14)");
  return ImageView{pixels, height, width, format == RV_RGB ? 3 : 4, stride, format == RV_BGRA};
}

std::string required(const char* text, const char* what) {
  if (text == nullptr) throw Error(std::string(what) + ": expected a string, got NULL");
  return text;
}

}  // namespace

extern "C" {

rv_tracker* rv_tracker_open(const char* bundle_dir, double tau, int keyframe_bound, int num_threads, rv_error* error) {
  return guarded<rv_tracker*>(error, nullptr, [&] {
    auto session = Session::open(required(bundle_dir, "bundle_dir"), tau, keyframe_bound, executorch(num_threads));
    return new rv_tracker{std::move(session), {}};
  });
}

rv_tracker* rv_tracker_open_with(const char* bundle_dir, const rv_backend* backend, double tau, int keyframe_bound,
                                 rv_error* error) {
  return guarded<rv_tracker*>(error, nullptr, [&] {
    auto session = Session::open(required(bundle_dir, "bundle_dir"), tau, keyframe_bound, callback_factory(backend));
    return new rv_tracker{std::move(session), {}};
  });
}

void rv_tracker_close(rv_tracker* tracker) { delete tracker; }

int rv_tracker_step(rv_tracker* tracker, const uint8_t* pixels, int width, int height, int format, int64_t stride,
                    const int* new_ids, const uint8_t* const* new_masks, int num_new, uint8_t* labels_out,
                    const char** record_json, rv_error* error) {
  return guarded(error, 1, [&] {
    if (tracker == nullptr || labels_out == nullptr) throw Error("tracker and labels_out must not be NULL");
    if (num_new < 0 || (num_new > 0 && (new_ids == nullptr || new_masks == nullptr)))
      throw Error("new objects: " + std::to_string(num_new) + " ids with NULL id or mask arrays");
    const size_t pixels_count = static_cast<size_t>(width > 0 ? width : 0) * static_cast<size_t>(height > 0 ? height : 0);
    std::map<int, Mask> masks;
    for (int k = 0; k < num_new; ++k) {
      if (new_masks[k] == nullptr) throw Error("mask of object " + std::to_string(new_ids[k]) + ": NULL");
      masks[new_ids[k]] = Mask(new_masks[k], new_masks[k] + pixels_count);
    }
    FrameResult& r = tracker->session->result;
    tracker->session->tracker->step(image_of(pixels, width, height, format, stride), masks, r);
    std::memcpy(labels_out, r.labels.data(), r.labels.size());
    tracker->record = r.record.to_json();
    if (record_json != nullptr) *record_json = tracker->record.c_str();
    return 0;
  });
}

void rv_tracker_reset(rv_tracker* tracker) {
  if (tracker != nullptr) tracker->session->tracker->reset();
}

int rv_tracker_remove_object(rv_tracker* tracker, int id, rv_error* error) {
  return guarded(error, 1, [&] {
    if (tracker == nullptr) throw Error("tracker: NULL");
    tracker->session->tracker->remove_object(id);
    return 0;
  });
}

int rv_tracker_object_ids(const rv_tracker* tracker, int* ids_out, int capacity) {
  if (tracker == nullptr) return 0;
  std::vector<int> ids = tracker->session->tracker->object_ids();
  for (int k = 0; k < capacity && k < static_cast<int>(ids.size()); ++k) ids_out[k] = ids[k];
  return static_cast<int>(ids.size());
}

char* rv_benchmark(const char* options_json, const uint8_t* const* frames, int num_frames, int width, int height,
                   int format, int64_t stride, const int* ids, const uint8_t* const* masks, int num_objects,
                   const rv_backend* backend, const rv_probe* probe, rv_error* error) {
  return guarded<char*>(error, nullptr, [&] {
    BenchmarkOptions options = BenchmarkOptions::from_json(required(options_json, "options_json"));
    if (frames == nullptr || num_frames < 0 || num_objects < 0 || (num_objects > 0 && (ids == nullptr || masks == nullptr)))
      throw Error("benchmark: frames, ids and masks must not be NULL");
    BenchmarkClip clip;
    for (int i = 0; i < num_frames; ++i) clip.frames.push_back(image_of(frames[i], width, height, format, stride));
    const size_t pixels = static_cast<size_t>(width > 0 ? width : 0) * static_cast<size_t>(height > 0 ? height : 0);
    for (int k = 0; k < num_objects; ++k) clip.starts[0][ids[k]] = Mask(masks[k], masks[k] + pixels);
    CProbe c_probe(probe);
    const BenchmarkBackend runner = backend != nullptr
        ? BenchmarkBackend{backend->name != nullptr ? backend->name : "a caller's subgraph runner", callback_factory(backend)}
        : BenchmarkBackend{"ExecuTorch", executorch(options.threads)};
    const std::string doc = run_benchmark(options, clip, c_probe, runner);
    char* out = static_cast<char*>(std::malloc(doc.size() + 1));
    if (out == nullptr) throw Error("benchmark: out of memory for the result");
    std::memcpy(out, doc.c_str(), doc.size() + 1);
    return out;
  });
}

void rv_free(void* pointer) { std::free(pointer); }

}  // extern "C"
