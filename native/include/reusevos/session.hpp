// One video stream's tracker with what it needs alive: the verified manifest, a backend and the Tracker
// (what the JNI binding and the C API hold per handle).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "reusevos/backend.hpp"
#include "reusevos/manifest.hpp"
#include "reusevos/tracker.hpp"

namespace reusevos {

struct Session {
  Manifest manifest;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Tracker> tracker;
  FrameResult result;  // the last step's result; the bindings step into it so its buffers are reused

  using BackendFactory = std::function<std::unique_ptr<Backend>(const Manifest&)>;
  // Verifies and loads `bundle_dir`, makes its backend; tau: NaN for the bundle's own; keyframe_bound:
  // INT_MIN for the bundle's own, negative for none. Error naming the bad input.
  static std::unique_ptr<Session> open(const std::string& bundle_dir, double tau, int keyframe_bound,
                                       const BackendFactory& make_backend);
};

}  // namespace reusevos
