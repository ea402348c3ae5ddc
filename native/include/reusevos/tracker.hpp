// The host orchestrator (reusevos_edge.tracker.tracker.Tracker in C++): owns per-object state and the
// reuse decision, calls the bundle's stateless subgraphs through a Backend.
//
// Per frame: backbone_low once; per object match_gate -> P_gate. Reuse (P_gate > tau, within the
// keyframe bound) runs refine_translate + refine_shallow; a computed frame runs backbone_high (once per
// frame, shared), score_gen, refine_deep, refine_shallow and every few computed frames score_update.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reusevos/backend.hpp"
#include "reusevos/image_ops.hpp"
#include "reusevos/manifest.hpp"
#include "reusevos/tensor.hpp"

namespace reusevos {

constexpr int kMaxObjectId = 254;

// One object's outcome on one frame: decision "init", "compute" or "reuse"; forced "keyframe_bound"
// when the bound made a frame computed that the gate would have reused, else empty.
struct ObjectRecord {
  std::optional<double> p_gate;
  std::string decision;
  std::string forced;
};

// What happened on one frame: per-object outcome, the subgraphs that ran (in order) and their ms.
struct FrameRecord {
  int index = 0;
  std::map<int, ObjectRecord> objects;
  std::vector<std::string> ran;
  std::vector<double> ran_ms;
  // {"frame": i, "objects": {"1": {"p_gate": p, "decision": d, "forced": f}}, "ran": [...]}: the Python record.
  std::string to_json() const;
};

// labels: height x width object ids at the frame size. Objects' probabilities stay inside the tracker at the
// model size: resizing every object's plane to the frame, only to fuse them, cost more host time per frame
// than anything else the tracker does; the labels are fused row by row instead (fuse_to_frame).
struct FrameResult {
  int height = 0, width = 0;
  std::vector<uint8_t> labels;
  FrameRecord record;
};

// A new object's first mask at the frame size: nonzero = object.
using Mask = std::vector<uint8_t>;

class Tracker {
 public:
  // `backend` runs the bundle `manifest` describes and must outlive the tracker.
  Tracker(const Manifest& manifest, Backend& backend, const TrackerConfig& config);

  // Forget every object and the video size: the next frame starts a new video.
  void reset();
  // Track one frame; `new_masks` adds (or re-initialises) objects: id (1..254) -> mask at the frame size.
  // Bad input raises Error before any state changes (a rejected call leaves the tracker as it was).
  FrameResult step(const ImageView& frame, const std::map<int, Mask>& new_masks = {});
  // The same into `out`, whose label buffer is reused from frame to frame (what a camera loop should call).
  void step(const ImageView& frame, const std::map<int, Mask>& new_masks, FrameResult& out);
  void remove_object(int id);
  std::vector<int> object_ids() const;
  const TrackerConfig& config() const { return config_; }

 private:
  struct Memory {
    Tensor feats, labels, weights;
    int num_init = 0;
  };
  struct Object {
    int id = 0;
    Tensor tmpl, score, refined, proj_w, filter_w, last_mask16;
    std::vector<float> prob;  // the last frame's probability at the model size
    Memory memory;
    int first_frame = 0, consecutive_reuse = 0, computed_frames = 0, reused_frames = 0;
  };
  struct Frame;  // the current frame's features, computed on demand

  const Manifest& manifest_;
  Backend& backend_;
  TrackerConfig config_;
  int height_, width_, memory_slots_, refit_steps_;
  std::map<int, Object> objects_;
  int frame_index_ = -1;
  int frame_h_ = 0, frame_w_ = 0;
  Tensor input_;                  // the frame as the model takes it (reused each frame)
  std::vector<int16_t> scratch_;  // frame_to_input's horizontal pass

  std::vector<Tensor> run(const std::string& name, FrameRecord& record, const std::vector<const Tensor*>& inputs);
  void init_object(Frame& frame, int id, const Mask& mask);
  void track_object(Frame& frame, Object& obj);
  void remember(FrameRecord& record, Object& obj, const Tensor& feat, const Tensor& label16);
};

}  // namespace reusevos
