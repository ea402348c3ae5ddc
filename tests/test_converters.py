"""Converters: option validation, bundle integrity, and real exports of the tiny model run
through the tracker next to PyTorch eager (ONNX Runtime, ExecuTorch, LiteRT); Core ML checked
statically off Apple platforms."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from reusevos_edge.converters import parity
from reusevos_edge.converters.targets import validate_options
from reusevos_edge.data.clip import parity_clip
from reusevos_edge.errors import InputError
from reusevos_edge.model.registry import build_model
from reusevos_edge.model.subgraphs import build_subgraphs
from reusevos_edge.runtime.bundle import load_bundle_runner
from reusevos_edge.runtime.bundle_format import MANIFEST_NAME, BundleIntegrityError, manifest_digest, read_manifest
from reusevos_edge.runtime.torch_runner import TorchRunner
from reusevos_edge.targets import TARGETS, Precision
from reusevos_edge.tracker.config import TrackerConfig

H, W = 64, 96
FRAMES = 10
# tau 0 reuses whenever allowed: with the keyframe bound both the reuse and the compute path run
CONFIG = TrackerConfig(tau=0.0, keyframe_bound=2, update_every=2)


@pytest.fixture(scope="module")
def tiny():
    model = build_model("tiny")
    return model, build_subgraphs(model, height=H, width=W), TorchRunner(model=model, height=H, width=W)


@pytest.fixture(scope="module")
def clip():
    return parity_clip(height=H, width=W, num_frames=FRAMES)


@pytest.fixture(scope="module")
def bundles(tiny_bundles):
    """Export on demand, once per target per session (conftest.tiny_bundles: these weights, CONFIG)."""
    return tiny_bundles


# -- options --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"target": "openvino"}, "--target 'openvino'"),
        ({"target": "onnx", "precision": "fp16"}, "--precision fp16 is not supported by --target onnx"),
        ({"target": "coreml", "precision": "int4"}, "--precision 'int4'"),
        ({"target": "onnx", "model": "r50"}, "--model 'r50'"),
        ({"target": "onnx", "height": 65}, "multiples of 32"),
        ({"target": "onnx", "checkpoint": "/nonexistent/ckpt.safetensors"}, "--checkpoint"),
        ({"target": "coreml", "layout": "zip"}, "--coreml-layout 'zip'"),
    ],
)
def test_bad_options_raise_input_error_naming_the_option(kwargs, needle):
    args = {"model": "tiny", "height": H, "width": W, **kwargs}
    with pytest.raises(InputError, match=needle.replace("(", r"\(")):
        validate_options(**args)


def test_fp16_is_allowed_only_where_the_table_says():
    assert validate_options(target="coreml", model="tiny", height=H, width=W, precision="fp16").precision.value == "fp16"
    assert [n for n, t in TARGETS.items() if Precision.FP16 in t.precisions] == ["coreml"]
    int8 = [n for n, t in TARGETS.items() if Precision.INT8 in t.precisions]
    assert int8 == list(TARGETS) and all(TARGETS[n].quantizer for n in int8)


def test_cli_bad_option_exits_2_with_error_line(capsys):
    from reusevos_edge.cli.export import main

    assert main(["--target", "onnx", "--model", "tiny", "--untrained", "--size", "64x96", "--precision", "fp16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--precision fp16" in err


# -- parity machinery (no backend needed) --------------------------------------------------
class _Perturbed:
    """Eager runner whose ``refine_shallow`` logits are negated: parity must fail and name it."""

    def __init__(self, inner):
        self.inner, self.subgraphs = inner, inner.subgraphs

    def run(self, name, feeds):
        out = self.inner.run(name, feeds)
        return {k: -v for k, v in out.items()} if name == "refine_shallow" else out


def test_parity_detects_and_localises_a_drifting_subgraph(tiny, clip):
    _, _, reference = tiny
    report = parity.measure_parity(_Perturbed(reference), reference, clip, CONFIG)
    assert not report.passed
    worst = max(report.drift, key=lambda d: d.max_rel)
    assert (worst.subgraph, worst.output) == ("refine_shallow", "mask_logits")
    with pytest.raises(parity.ParityError, match="refine_shallow"):
        parity.check_parity(_Perturbed(reference), reference, clip, CONFIG)
    # the reference's own tracking of the clip is reported, and a weak one is named in the failure
    truth = report.reference_truth_iou
    assert truth is not None and 0.0 <= truth <= 1.0 and report.to_json()["reference_truth_iou"] == truth
    assert ("against the clip's own masks" in report.summary()) == (truth < parity.UNCERTAIN_REFERENCE_IOU)


def test_truth_iou_scores_a_run_against_the_clips_masks():
    from types import SimpleNamespace

    truth = np.zeros((2, 4, 4), np.uint8)
    truth[:, :2, :2] = 1  # object 1: 4 pixels in both frames
    labels = [truth[0].copy(), np.zeros((4, 4), np.uint8)]
    labels[1][:2, :1] = 1  # frame 1: half of it
    assert parity.truth_iou(SimpleNamespace(labels=labels), truth) == pytest.approx((1.0 + 0.5) / 2)
    assert parity.truth_iou(SimpleNamespace(labels=labels), None) is None


def test_parity_of_eager_with_itself_is_exact(tiny, clip):
    _, _, reference = tiny
    report = parity.check_parity(reference, reference, clip, CONFIG)
    assert report.mean_iou == 1.0 and report.gate_agreement == 1.0


# -- real exports ---------------------------------------------------------------------------
@pytest.mark.backend
@pytest.mark.parametrize("target", ["onnx", "executorch", "tflite"])
def test_bundle_tracks_like_pytorch(target, tiny, clip, bundles):
    _, subgraphs, reference = tiny
    bundle = bundles(target)
    runner = load_bundle_runner(bundle.path, num_threads=2)
    assert sorted(runner.subgraphs) == sorted(sg.name for sg in subgraphs)
    report = parity.check_parity(runner, reference, clip, CONFIG)
    assert report.mean_iou >= parity.MIN_MEAN_IOU and report.gate_agreement >= parity.MIN_GATE_AGREEMENT
    assert report.decisions.get("reuse", 0) > 0 and report.decisions.get("compute", 0) > 0
    assert report.max_p_gate_diff < 1e-4
    feeds = {s.name: a.numpy() for s, a in zip(subgraphs[0].inputs, subgraphs[0].example_inputs())}
    drift = parity.compare_subgraphs(runner, reference, {subgraphs[0].name: feeds})
    assert max(d.max_rel for d in drift) < 1e-4


@pytest.mark.backend
@pytest.mark.parametrize("target", ["onnx", "executorch", "tflite"])
def test_outputs_outlive_the_next_call_of_their_program(target, tiny, bundles):
    """The tracker keeps outputs across calls (templates, refined features, scores): a later call of the
    same program must not write into arrays a runtime returned before (ExecuTorch's and LiteRT's
    outputs live in the program's planned memory; the backends hand out copies)."""
    _, subgraphs, _ = tiny
    runner = load_bundle_runner(bundles(target).path, num_threads=1)
    sg = subgraphs[0]
    first_feeds = {s.name: a.numpy() for s, a in zip(sg.inputs, sg.example_inputs())}
    first = runner.run(sg.name, first_feeds)
    kept = {k: np.array(v, copy=True) for k, v in first.items()}
    second = runner.run(sg.name, {k: np.ascontiguousarray(v[..., ::-1]) * 0.5 for k, v in first_feeds.items()})
    assert any(not np.array_equal(second[k], kept[k]) for k in kept)  # the call wrote something new
    for k, v in first.items():
        assert np.array_equal(v, kept[k]), f"{target}: {sg.name}.{k} changed after the next call"


@pytest.mark.backend
def test_executorch_manifest_lists_undelegated_ops_per_method(bundles, tiny):
    manifest = bundles("executorch").manifest
    undelegated = manifest["export"]["undelegated_ops"]
    assert set(undelegated) == {sg.name for sg in tiny[1]}
    # the score generator's weights are runtime inputs; written as bmm, XNNPACK still takes them
    assert undelegated["score_gen"] == [] and undelegated["score_update"] == []
    assert undelegated["backbone_low"] == []


@pytest.mark.backend
def test_tflite_manifest_maps_signature_names_to_contract(bundles):
    entry = next(e for e in bundles("tflite").manifest["subgraphs"] if e["name"] == "score_gen")
    assert entry["program_inputs"] == {"f16": "args_0", "proj_w": "args_1", "filter_w": "args_2"}
    assert entry["program_outputs"] == {"score": "output_0", "feat": "output_1"}


@pytest.mark.backend
def test_coreml_multifunction_package_matches_contract(bundles, tiny):
    from reusevos_edge.converters.coreml_export import verify_coreml

    bundle = bundles("coreml")
    manifest = bundle.manifest
    assert manifest["export"]["minimum_deployment_target"] == "iOS18"
    inventory = verify_coreml(bundle.path, manifest["subgraphs"], layout="multifunction")
    assert set(inventory) == {sg.name for sg in tiny[1]}
    assert any(op.startswith("matmul ") for op in inventory["score_gen"])
    if sys.platform != "darwin":
        with pytest.raises(InputError, match="only on Apple platforms"):
            load_bundle_runner(bundle.path)


@pytest.mark.backend
def test_coreml_static_check_rejects_a_wrong_contract(bundles):
    from reusevos_edge.converters.coreml_export import verify_coreml

    bundle = bundles("coreml")
    entries = [dict(e) for e in bundle.manifest["subgraphs"]]
    entries[0] = {**entries[0], "inputs": [{**entries[0]["inputs"][0], "name": "frame"}]}
    with pytest.raises(RuntimeError, match="frame"):
        verify_coreml(bundle.path, entries, layout="multifunction")


# -- manifest integrity ---------------------------------------------------------------------
@pytest.mark.backend
def test_runtime_refuses_a_bundle_whose_files_do_not_match(bundles, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundles("onnx").path, copy)
    read_manifest(copy)  # intact copy verifies
    victim = copy / "score_gen.onnx"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match="sha256 mismatch: score_gen.onnx"):
        load_bundle_runner(copy)
    victim.unlink()
    with pytest.raises(BundleIntegrityError, match="missing: score_gen.onnx"):
        load_bundle_runner(copy)


def _edit_manifest(bundle_dir, change, *, rehash: bool):
    """Apply ``change(manifest)`` to a bundle's manifest; ``rehash`` also recomputes manifest_sha256."""
    path = bundle_dir / MANIFEST_NAME
    manifest = __import__("json").loads(path.read_text())
    change(manifest)
    if rehash:
        manifest["manifest_sha256"] = manifest_digest(manifest)
    path.write_text(__import__("json").dumps(manifest))


@pytest.mark.backend
@pytest.mark.parametrize("field, value", [("target", "executorch"), ("frame_size", [128, 96]),
                                          ("model", {"variant": "lite0"})])
def test_runtime_refuses_an_edited_manifest(bundles, tmp_path, field, value):
    copy = tmp_path / "bundle"
    shutil.copytree(bundles("onnx").path, copy)
    _edit_manifest(copy, lambda m: m.__setitem__(field, value), rehash=False)
    with pytest.raises(BundleIntegrityError, match="modified after export"):
        load_bundle_runner(copy)


@pytest.mark.backend
@pytest.mark.parametrize("field, value, needle", [
    ("target", "executorch", "target 'executorch' runs .pte programs but the artifact is '<subgraph>.onnx'"),
    ("artifact", "model.pte", "target 'onnx' runs .onnx programs"),
    ("frame_size", [128, 96], "frame_size \\[128, 96\\] contradicts the backbone_low input shape"),
    ("target", "openvino", "unknown target 'openvino'"),
])
def test_runtime_refuses_a_manifest_that_contradicts_its_files(bundles, tmp_path, field, value, needle):
    """Even with a recomputed manifest checksum, the files must be the target's programs at the declared size."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundles("onnx").path, copy)
    _edit_manifest(copy, lambda m: m.__setitem__(field, value), rehash=True)
    with pytest.raises(BundleIntegrityError, match=needle):
        load_bundle_runner(copy)


@pytest.mark.backend
def test_manifest_describes_the_bundle(bundles, tiny):
    manifest = bundles("onnx").manifest
    assert manifest["frame_size"] == [H, W] and manifest["precision"] == "fp32"
    assert manifest["tracker"] == CONFIG.to_json() and manifest["tracker"]["update_every"] == 2
    assert [e["name"] for e in manifest["subgraphs"]] == [sg.name for sg in tiny[1]]
    assert {s["name"] for s in manifest["object_state"]} >= {"template", "score", "refined", "filter_w"}
    assert manifest["normalisation"]["in_program"]["mean"] == [0.5, 0.5, 0.5]
    assert "onnxruntime" in manifest["tool_versions"]
    assert len(manifest["model"]["weights_sha256"]) == 64
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert manifest["manifest_sha256"] == manifest_digest(manifest)


@pytest.mark.backend
def test_coreml_per_subgraph_fp16_packages_keep_float32_io(bundles, tiny):
    from reusevos_edge.converters.coreml_export import verify_coreml

    bundle = bundles("coreml", precision="fp16", layout="per_subgraph")
    export = bundle.manifest["export"]
    assert (export["minimum_deployment_target"], export["compute_precision"]) == ("iOS17", "FLOAT16")
    assert sorted(p.name for p in bundle.path.glob("*.mlpackage")) == sorted(f"{sg.name}.mlpackage" for sg in tiny[1])
    inventory = verify_coreml(bundle.path, bundle.manifest["subgraphs"], layout="per_subgraph")
    assert any(op.startswith("cast ") for op in inventory["backbone_low"])  # fp32 io, fp16 inside


def test_importing_the_package_imports_no_backend():
    import subprocess

    code = ("import sys, reusevos_edge, reusevos_edge.runtime.bundle, reusevos_edge.converters.bundle, "
            "reusevos_edge.converters.parity, reusevos_edge.cli.export, reusevos_edge.runtime.onnx_backend, "
            "reusevos_edge.runtime.executorch_backend, reusevos_edge.runtime.tflite_backend, "
            "reusevos_edge.runtime.coreml_backend, reusevos_edge.targets\n"
            "backends = ('onnx', 'onnxruntime', 'onnxscript', 'onnxslim', 'executorch', 'litert_torch', "
            "'ai_edge_litert', 'coremltools')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(backends)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.backend
def test_cli_exports_onnx_and_prints_the_table(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from reusevos_edge.cli.export import main

    report = tmp_path / "export.json"
    code = main(["--target", "onnx", "--model", "tiny", "--untrained", "--size", f"{H}x{W}", "--out", str(tmp_path / "out"),
                 "--json", str(report), "--frames", "6"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| target | status | size MB |" in out and "| onnx | ✅ |" in out and "next: " in out
    (row,) = __import__("json").loads(report.read_text())
    assert row["detail"]["mean_iou"] >= parity.MIN_MEAN_IOU
    assert (tmp_path / "out" / f"tiny_{H}x{W}_fp32_onnx" / "manifest.json").is_file()


def test_failed_export_leaves_no_partial_bundle(tiny, tmp_path, monkeypatch):
    pytest.importorskip("onnxscript")
    from reusevos_edge.converters import bundle as bundle_mod
    from reusevos_edge.converters import onnx_export

    def boom(subgraphs, out_dir, *, precision):
        (out_dir / "half_written.onnx").write_bytes(b"\0" * 16)
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(onnx_export, "export_onnx", boom)
    model, subgraphs, _ = tiny
    opts = validate_options(target="onnx", model="tiny", height=H, width=W, out_dir=tmp_path)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        bundle_mod.export_bundle(opts, model=model, subgraphs=subgraphs, tracker_config=CONFIG)
    assert list(tmp_path.iterdir()) == []


def test_onnx_reshape_to_scalar_with_a_float64_shape_is_fixed():
    """The unoptimized dynamo export can write a view-to-scalar's empty shape as float64: ORT rejects it until cast."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    from reusevos_edge.converters.onnx_export import fix_reshape_shapes

    shape = numpy_helper.from_array(np.zeros((0,), np.float64), name="shape")
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], initializer=[shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    with pytest.raises(Exception, match="tensor\\(double\\)"):
        ort.InferenceSession(model.SerializeToString())
    fixed = fix_reshape_shapes(model)
    out = ort.InferenceSession(fixed.SerializeToString()).run(None, {"x": np.array([3.0], np.float32)})[0]
    assert out.shape == () and float(out) == 3.0
