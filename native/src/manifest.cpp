#include "reusevos/manifest.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "reusevos/error.hpp"
#include "reusevos/json.hpp"
#include "reusevos/sha256.hpp"

namespace fs = std::filesystem;

namespace reusevos {
namespace {

const char* kManifestName = "manifest.json";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<TensorSpec> specs(const json::Value& items, const std::string& where) {
  std::vector<TensorSpec> out;
  for (const auto& item : items.as_array(where)) {
    TensorSpec spec;
    spec.name = item.at("name", where).as_string(where + " name");
    for (const auto& d : item.at("shape", where).as_array(where + " shape")) spec.shape.push_back(d.as_int(where));
    const json::Value* dtype = item.find("dtype");
    const std::string name = dtype ? dtype->as_string(where + " dtype") : "float32";
    if (name != "float32" && name != "int8")
      throw Error(where + " " + spec.name + ": dtype \"" + name + "\", expected \"float32\" or \"int8\"");
    spec.dtype = name == "int8" ? DType::kInt8 : DType::kFloat32;
    out.push_back(std::move(spec));
  }
  return out;
}

TrackerConfig tracker_config(const json::Value* section, const std::string& where) {
  TrackerConfig c;
  if (section == nullptr || section->is_null()) return c;
  for (const auto& [key, v] : section->members) {
    std::string w = where + " tracker." + key;
    if (key == "tau") c.tau = v.as_number(w);
    else if (key == "keyframe_bound") c.keyframe_bound = v.is_null() ? -1 : static_cast<int>(v.as_int(w));
    else if (key == "locality_radius") c.locality_radius = v.is_null() ? -1 : static_cast<int>(v.as_int(w));
    else if (key == "delta_scale") c.delta_scale = v.as_number(w);
    else if (key == "update_every") c.update_every = static_cast<int>(v.as_int(w));
    else if (key == "learning_rate") c.learning_rate = v.as_number(w);
    else if (key == "gate_calibration") {
      if (v.is_null()) continue;
      const auto& ab = v.as_array(w);
      if (ab.size() != 2) throw Error(w + ": expected [a, b]");
      c.gate_calibrated = true;
      c.gate_a = ab[0].as_number(w);
      c.gate_b = ab[1].as_number(w);
    } else {
      throw Error(where + ": unknown tracker option \"" + key + "\"");
    }
  }
  c.validate();
  return c;
}

std::vector<std::string> bundle_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    if (entry.path().filename() == kManifestName) continue;
    out.push_back(fs::relative(entry.path(), dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void verify_files(const std::string& dir, const json::Value& doc, const std::string& where) {
  const json::Value& files = doc.at("files", where);
  std::set<std::string> listed;
  std::string problems;
  for (const auto& [rel, info] : files.members) listed.insert(rel);
  std::set<std::string> present;
  for (const auto& rel : bundle_files(dir)) present.insert(rel);
  for (const auto& rel : listed)
    if (!present.count(rel)) problems += (problems.empty() ? "" : "; ") + ("missing: " + rel);
  for (const auto& rel : present)
    if (!listed.count(rel)) problems += (problems.empty() ? "" : "; ") + ("not in manifest: " + rel);
  for (const auto& [rel, info] : files.members) {
    if (!present.count(rel)) continue;
    if (sha256_file(dir + "/" + rel) != info.at("sha256", where).as_string(where))
      problems += (problems.empty() ? "" : "; ") + ("sha256 mismatch: " + rel);
  }
  if (!problems.empty())
    throw Error(where + " does not match its manifest (" + problems + "); re-export it or copy it again");
}

}  // namespace

size_t SubgraphSpec::input_index(const std::string& n) const {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].name == n) return i;
  throw Error("subgraph " + name + " has no input " + n);
}

size_t SubgraphSpec::output_index(const std::string& n) const {
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].name == n) return i;
  throw Error("subgraph " + name + " has no output " + n);
}

void TrackerConfig::validate() const {
  if (!(tau >= 0.0 && tau <= 1.0)) throw Error("tau=" + json::number(tau) + ": expected a probability in [0, 1]");
  if (!(delta_scale >= 0.0 && delta_scale <= 1.0))
    throw Error("delta_scale=" + json::number(delta_scale) + ": expected a number in [0, 1]");
  if (update_every < 1) throw Error("update_every=" + std::to_string(update_every) + ": expected an integer >= 1");
  if (!(learning_rate > 0.0 && learning_rate <= 1.0))
    throw Error("learning_rate=" + json::number(learning_rate) + ": expected a number in (0, 1]");
  if (gate_calibrated && !(gate_a > 0.0 && std::isfinite(gate_a) && std::isfinite(gate_b)))
    throw Error("gate_calibration: expected [a, b], two finite numbers with a > 0");
}

double TrackerConfig::gate_probability(double p) const {
  if (!gate_calibrated) return p;
  const double eps = 1e-7;
  double q = std::min(std::max(p, eps), 1.0 - eps);
  return 1.0 / (1.0 + std::exp(-(gate_a * std::log(q / (1.0 - q)) + gate_b)));
}

std::string TrackerConfig::to_json() const {
  std::string s = "{\"tau\":" + json::number(tau) + ",\"keyframe_bound\":" +
                  (keyframe_bound < 0 ? "null" : std::to_string(keyframe_bound)) + ",\"locality_radius\":" +
                  (locality_radius < 0 ? "null" : std::to_string(locality_radius)) + ",\"delta_scale\":" +
                  json::number(delta_scale) + ",\"update_every\":" + std::to_string(update_every) +
                  ",\"learning_rate\":" + json::number(learning_rate);
  if (gate_calibrated) s += ",\"gate_calibration\":[" + json::number(gate_a) + "," + json::number(gate_b) + "]";
  return s + "}";
}

const SubgraphSpec& Manifest::subgraph(const std::string& name) const {
  auto it = subgraphs.find(name);
  if (it == subgraphs.end()) throw Error("bundle " + bundle_dir + " has no subgraph " + name);
  return it->second;
}

Manifest load_manifest(const std::string& bundle_dir, bool verify) {
  std::string where = "bundle " + bundle_dir;
  if (!fs::is_directory(bundle_dir)) throw Error(where + " is not a folder (expected an exported bundle folder)");
  std::string path = bundle_dir + "/" + kManifestName;
  if (!fs::is_regular_file(path)) throw Error(where + " has no manifest.json: not an exported bundle");
  json::Value doc = json::parse(read_text(path), path);
  if (doc.kind != json::Value::Kind::Object) throw Error(path + ": expected a JSON object");
  const json::Value* version = doc.find("format_version");
  if (version == nullptr || version->kind != json::Value::Kind::Number || version->number != kFormatVersion)
    throw Error(path + ": format_version " + (version ? json::canonical(*version) : "missing") +
                ", this reader understands " + std::to_string(kFormatVersion) +
                "; re-export the bundle with this version of reusevos-edge");
  if (verify) {
    json::Value body = doc;
    body.members.erase(std::remove_if(body.members.begin(), body.members.end(),
                                      [](const auto& m) { return m.first == "manifest_sha256"; }),
                       body.members.end());
    const json::Value* stated = doc.find("manifest_sha256");
    if (stated == nullptr || stated->kind != json::Value::Kind::String ||
        stated->text != sha256_hex(json::canonical(body)))
      throw Error(where + ": manifest.json was modified after export (its manifest_sha256 does not match its "
                          "content); re-export the bundle or copy it again");
    verify_files(bundle_dir, doc, where);
  }
  Manifest m;
  m.bundle_dir = bundle_dir;
  m.target = doc.at("target", where).as_string(where + " target");
  m.artifact = doc.at("artifact", where).as_string(where + " artifact");
  m.precision = doc.at("precision", where).as_string(where + " precision");
  const auto& size = doc.at("frame_size", where).as_array(where + " frame_size");
  if (size.size() != 2) throw Error(where + ": frame_size must be [height, width]");
  m.height = static_cast<int>(size[0].as_int(where));
  m.width = static_cast<int>(size[1].as_int(where));
  for (const auto& entry : doc.at("subgraphs", where).as_array(where + " subgraphs")) {
    SubgraphSpec sg;
    sg.name = entry.at("name", where).as_string(where + " subgraph name");
    std::string w = where + " subgraph " + sg.name;
    const json::Value* repeat = entry.find("repeat");
    sg.repeat = repeat ? static_cast<int>(repeat->as_int(w + " repeat")) : 1;
    sg.inputs = specs(entry.at("inputs", w), w + " inputs");
    sg.outputs = specs(entry.at("outputs", w), w + " outputs");
    m.subgraphs[sg.name] = std::move(sg);
  }
  for (const char* name : {"backbone_low", "backbone_high", "template_build", "score_init", "score_refit",
                           "score_gen", "score_update", "match_gate", "refine_deep", "refine_translate",
                           "refine_shallow"})
    m.subgraph(name);
  const auto& image = m.subgraph("backbone_low").inputs.at(0).shape;
  if (image.size() != 4 || image[2] != m.height || image[3] != m.width)
    throw Error(where + ": frame_size contradicts the backbone_low input shape " + shape_text(image));
  for (const auto& [name, sg] : m.subgraphs)  // the tracker writes int8 codes for the frame, floats elsewhere
    for (const auto* side : {&sg.inputs, &sg.outputs})
      for (const auto& spec : *side)
        if (spec.dtype == DType::kInt8 && (name != "backbone_low" || side != &sg.inputs || &spec != &sg.inputs[0]))
          throw Error(where + ": subgraph " + name + " tensor " + spec.name +
                      " is int8; only backbone_low's image may be (as int8 codes)");
  m.tracker = tracker_config(doc.find("tracker"), where);
  return m;
}

}  // namespace reusevos
