#include "reusevos/tracker.hpp"

#include <algorithm>
#include <cmath>

#include "reusevos/error.hpp"
#include "reusevos/json.hpp"

namespace reusevos {

struct Tracker::Frame {
  Tracker& tracker;
  FrameRecord& record;
  const Tensor& image;
  std::vector<Tensor> low, high;  // {f4, f8}, {f16, f32}

  const Tensor& f4() { return ensure_low()[0]; }
  const Tensor& f8() { return ensure_low()[1]; }
  const Tensor& f16() { return ensure_high()[0]; }
  const Tensor& f32() { return ensure_high()[1]; }

  std::vector<Tensor>& ensure_low() {
    if (low.empty()) low = tracker.run("backbone_low", record, {&image});
    return low;
  }
  std::vector<Tensor>& ensure_high() {
    if (high.empty()) {
      const Tensor& f8_ = f8();
      high = tracker.run("backbone_high", record, {&f8_});
    }
    return high;
  }
};

std::string FrameRecord::to_json() const {
  std::string out = "{\"frame\":" + std::to_string(index) + ",\"objects\":{";
  bool first = true;
  for (const auto& [id, rec] : objects) {
    out += (first ? "" : ",") + json::quote(std::to_string(id)) + ":{\"p_gate\":" +
           (rec.p_gate ? json::number(*rec.p_gate) : "null") + ",\"decision\":" + json::quote(rec.decision) +
           ",\"forced\":" + (rec.forced.empty() ? "null" : json::quote(rec.forced)) + "}";
    first = false;
  }
  out += "},\"ran\":[";
  for (size_t i = 0; i < ran.size(); ++i) out += (i ? "," : "") + json::quote(ran[i]);
  return out + "]}";
}

Tracker::Tracker(const Manifest& manifest, Backend& backend, const TrackerConfig& config)
    : manifest_(manifest), backend_(backend), config_(config) {
  config_.validate();
  const TensorSpec& image = manifest.subgraph("backbone_low").inputs.at(0);
  height_ = static_cast<int>(image.shape[2]);
  width_ = static_cast<int>(image.shape[3]);
  memory_slots_ = static_cast<int>(manifest.subgraph("score_update").inputs.at(0).shape.at(0));
  refit_steps_ = manifest.subgraph("score_refit").repeat;
  input_ = Tensor::zeros({1, 3, height_, width_}, image.dtype);  // float32, or int8 codes
  reset();
}

void Tracker::reset() {
  objects_.clear();
  frame_index_ = -1;
  frame_h_ = frame_w_ = 0;
}

std::vector<int> Tracker::object_ids() const {
  std::vector<int> ids;
  for (const auto& [id, obj] : objects_) ids.push_back(id);
  return ids;
}

void Tracker::remove_object(int id) {
  if (!objects_.erase(id)) {
    std::string known;
    for (int k : object_ids()) known += (known.empty() ? "" : ", ") + std::to_string(k);
    throw Error("object id " + std::to_string(id) + " is not tracked; tracked ids: [" + known + "]");
  }
}

std::vector<Tensor> Tracker::run(const std::string& name, FrameRecord& record, const std::vector<const Tensor*>& inputs) {
  const SubgraphSpec& graph = manifest_.subgraph(name);
  if (inputs.size() != graph.inputs.size())
    throw Error("subgraph " + name + ": " + std::to_string(graph.inputs.size()) + " inputs expected, got " +
                std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i]->shape != graph.inputs[i].shape)
      throw Error("subgraph " + name + " input " + graph.inputs[i].name + ": expected shape " +
                  shape_text(graph.inputs[i].shape) + ", got " + shape_text(inputs[i]->shape));
  auto start = std::chrono::steady_clock::now();
  std::vector<Tensor> outs = backend_.run(graph, inputs);
  record.ran_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  record.ran.push_back(name);
  return outs;
}

FrameResult Tracker::step(const ImageView& frame, const std::map<int, Mask>& new_masks) {
  FrameResult result;
  step(frame, new_masks, result);
  return result;
}

void Tracker::step(const ImageView& frame, const std::map<int, Mask>& new_masks, FrameResult& result) {
  // validate first, then commit: a rejected call leaves the tracker as it was (retry-safe)
  const int index = frame_index_ + 1;
  if (frame.data == nullptr || frame.height <= 0 || frame.width <= 0)
    throw Error("frame " + std::to_string(index) + ": expected RGB(A) uint8 pixels, got an empty image");
  if (frame_index_ >= 0 && (frame.height != frame_h_ || frame.width != frame_w_))
    throw Error("frame " + std::to_string(index) + ": size " + std::to_string(frame.width) + "x" +
                std::to_string(frame.height) + " differs from the video's " + std::to_string(frame_w_) + "x" +
                std::to_string(frame_h_) + " (WxH); call reset() for a new video");
  const size_t pixels = static_cast<size_t>(frame.height) * frame.width;
  for (const auto& [id, mask] : new_masks) {
    if (id < 1 || id > kMaxObjectId)
      throw Error("object id " + std::to_string(id) + ": expected an integer in 1.." + std::to_string(kMaxObjectId));
    if (mask.size() != pixels)
      throw Error("mask of object " + std::to_string(id) + ": " + std::to_string(mask.size()) +
                  " values do not match the frame's " + std::to_string(frame.width) + "x" +
                  std::to_string(frame.height) + " pixels");
    if (std::none_of(mask.begin(), mask.end(), [](uint8_t v) { return v != 0; }))
      throw Error("mask of object " + std::to_string(id) + " on frame " + std::to_string(index) +
                  " is empty: nothing to track");
  }
  frame_to_input(frame, input_, scratch_);  // also checks channels and stride
  frame_index_ = index;
  frame_h_ = frame.height;
  frame_w_ = frame.width;

  result.height = frame.height;
  result.width = frame.width;
  result.record = FrameRecord{};
  result.record.index = index;
  Frame ctx{*this, result.record, input_, {}, {}};
  std::map<int, std::vector<float>> first;  // a new object's mask is its probability on its first frame
  for (const auto& [id, mask] : new_masks) {
    init_object(ctx, id, mask);
    std::vector<float>& p = first[id];
    p.resize(pixels);
    for (size_t i = 0; i < pixels; ++i) p[i] = mask[i] ? 1.0f : 0.0f;
  }
  std::vector<ProbPlane> planes;
  for (auto& [id, obj] : objects_) {
    if (new_masks.count(id)) {
      planes.push_back(ProbPlane{id, first[id].data(), frame.height, frame.width});
    } else {
      track_object(ctx, obj);
      planes.push_back(ProbPlane{id, obj.prob.data(), height_, width_});
    }
  }
  fuse_to_frame(planes, frame.height, frame.width, result.labels);
}

void Tracker::init_object(Frame& ctx, int id, const Mask& mask) {
  FrameRecord& rec = ctx.record;
  std::vector<float> m = mask_to_model(mask, frame_h_, frame_w_, height_, width_);
  Tensor label16 = block_mean(m.data(), height_, width_, 16);
  Tensor mask8 = block_mean(m.data(), height_, width_, 8);
  const Tensor &f16 = ctx.f16(), &f32 = ctx.f32(), &f8 = ctx.f8();
  Object obj;
  obj.id = id;
  obj.tmpl = std::move(run("template_build", rec, {&f8, &mask8})[0]);
  std::vector<Tensor> fit = run("score_init", rec, {&f16, &label16});  // proj_w, filter_w, mem_feats, mem_labels
  for (int i = 0; i < refit_steps_; ++i) fit = run("score_refit", rec, {&f16, &label16, &fit[0], &fit[1]});
  obj.refined = std::move(run("refine_deep", rec, {&f16, &f32, &label16})[0]);
  // sample memory: the first frame's copies in the first slots (never replaced), the rest empty
  const Tensor &feats = fit[2], &labels = fit[3];
  const int a = static_cast<int>(feats.shape[0]);
  if (memory_slots_ <= a)
    throw Error("bundle: score_update holds " + std::to_string(memory_slots_) + " memory slots, which must exceed "
                "the " + std::to_string(a) + " first-frame copies");
  std::vector<int64_t> fshape = feats.shape, lshape = labels.shape;
  fshape[0] = lshape[0] = memory_slots_;
  obj.memory.feats = Tensor::zeros(fshape);
  obj.memory.labels = Tensor::zeros(lshape);
  obj.memory.weights = Tensor::zeros({memory_slots_});
  std::copy(feats.data.begin(), feats.data.end(), obj.memory.feats.data.begin());
  std::copy(labels.data.begin(), labels.data.end(), obj.memory.labels.data.begin());
  for (int i = 0; i < a; ++i) obj.memory.weights.data[i] = 1.0f / static_cast<float>(a);
  obj.memory.num_init = a;
  obj.proj_w = std::move(fit[0]);
  obj.filter_w = std::move(fit[1]);
  obj.score = label16;
  obj.last_mask16 = std::move(label16);
  obj.first_frame = frame_index_;
  objects_[id] = std::move(obj);
  rec.objects[id] = ObjectRecord{std::nullopt, "init", ""};
}

void Tracker::track_object(Frame& ctx, Object& obj) {
  FrameRecord& rec = ctx.record;
  const Tensor& f8 = ctx.f8();
  std::vector<Tensor> gate = run("match_gate", rec, {&f8, &obj.score, &obj.tmpl});  // p_gate, delta
  const double raw = static_cast<double>(gate[0].data.at(0));
  if (!std::isfinite(raw))
    throw Error("frame " + std::to_string(frame_index_) + ", object " + std::to_string(obj.id) +
                ": match_gate returned a non-finite P_gate; the model's weights or the runtime are broken");
  const double p_gate = config_.gate_probability(raw);
  bool reuse = config_.tau <= 0.0 || p_gate > config_.tau;
  std::string forced;
  if (reuse && config_.keyframe_bound >= 0 && obj.consecutive_reuse >= config_.keyframe_bound) {
    reuse = false;
    forced = "keyframe_bound";
  }
  Tensor score, refined, feat;
  if (reuse) {
    Tensor delta = std::move(gate[1]);
    const float k = static_cast<float>(config_.delta_scale);
    for (float& v : delta.data) v *= k;
    score = obj.score;
    for (size_t i = 0; i < score.data.size(); ++i) score.data[i] += delta.data[i];
    refined = std::move(run("refine_translate", rec, {&obj.refined, &delta})[0]);
    obj.consecutive_reuse += 1;
    obj.reused_frames += 1;
  } else {
    const Tensor& f16 = ctx.f16();
    std::vector<Tensor> out = run("score_gen", rec, {&f16, &obj.proj_w, &obj.filter_w});  // score, feat
    score = std::move(out[0]);
    feat = std::move(out[1]);
    if (config_.locality_radius >= 0) {
      Tensor window = locality_window(obj.last_mask16, config_.locality_radius);
      for (size_t i = 0; i < score.data.size(); ++i) score.data[i] *= window.data[i];
    }
    const Tensor& f32 = ctx.f32();
    refined = std::move(run("refine_deep", rec, {&f16, &f32, &score})[0]);
    obj.score = score;
    obj.refined = refined;
    obj.consecutive_reuse = 0;
    obj.computed_frames += 1;
  }
  const Tensor& f4 = ctx.f4();
  Tensor logits = std::move(run("refine_shallow", rec, {&f4, &f8, &refined, &score})[0]);
  const int lh = static_cast<int>(logits.shape[2]), lw = static_cast<int>(logits.shape[3]);
  sigmoid(logits.data);
  obj.prob = resize_linear(std::move(logits.data), lh, lw, height_, width_);  // model frame size
  if (!reuse) remember(rec, obj, feat, block_mean(obj.prob.data(), height_, width_, 16));
  obj.last_mask16 = block_mean(obj.prob.data(), height_, width_, 16, 0.5f);
  rec.objects[obj.id] = ObjectRecord{p_gate, reuse ? "reuse" : "compute", forced};
}

void Tracker::remember(FrameRecord& rec, Object& obj, const Tensor& feat, const Tensor& label16) {
  // decay the non-initial weights, put the sample in the lowest-weight replaceable slot
  Memory& mem = obj.memory;
  const float keep = static_cast<float>(1.0 - config_.learning_rate);
  int slot = mem.num_init;
  for (int i = mem.num_init; i < memory_slots_; ++i) {
    mem.weights.data[i] *= keep;
    if (mem.weights.data[i] < mem.weights.data[slot]) slot = i;
  }
  const size_t fsize = feat.data.size(), lsize = label16.data.size();
  std::copy(feat.data.begin(), feat.data.end(), mem.feats.data.begin() + slot * fsize);
  std::copy(label16.data.begin(), label16.data.end(), mem.labels.data.begin() + slot * lsize);
  mem.weights.data[slot] = static_cast<float>(config_.learning_rate);
  if (obj.computed_frames % config_.update_every == 0)
    obj.filter_w = std::move(run("score_update", rec, {&mem.feats, &mem.labels, &mem.weights, &obj.filter_w})[0]);
}

}  // namespace reusevos
