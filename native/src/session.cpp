#include "reusevos/session.hpp"

#include <climits>
#include <cmath>

namespace reusevos {

std::unique_ptr<Session> Session::open(const std::string& bundle_dir, double tau, int keyframe_bound,
                                       const BackendFactory& make_backend) {
  auto s = std::make_unique<Session>();
  s->manifest = load_manifest(bundle_dir);
  TrackerConfig config = s->manifest.tracker;
  if (!std::isnan(tau)) config.tau = tau;
  if (keyframe_bound != INT_MIN) config.keyframe_bound = keyframe_bound < 0 ? -1 : keyframe_bound;
  config.validate();
  s->backend = make_backend(s->manifest);
  s->tracker = std::make_unique<Tracker>(s->manifest, *s->backend, config);
  return s;
}

}  // namespace reusevos
