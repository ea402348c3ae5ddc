"""The manifest's weights fingerprint is checked wherever a bundle meets a PyTorch model (tiny model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reusevos_edge.cli import eval as eval_cli
from reusevos_edge.converters import parity
from reusevos_edge.data.clip import parity_clip
from reusevos_edge.model.checkpoint import save_checkpoint
from reusevos_edge.model.fingerprint import WeightsMismatchError, check_bundle_weights, weights_fingerprint
from reusevos_edge.model.registry import build_model
from reusevos_edge.runtime import bundle as bundle_runtime
from reusevos_edge.runtime.bundle import BundleRunner
from reusevos_edge.runtime.bundle_format import subgraph_entries, subgraphs_from_manifest
from reusevos_edge.runtime.torch_runner import TorchRunner
from reusevos_edge.targets import TARGETS
from reusevos_edge.tracker.config import TrackerConfig

H, W = 64, 96
CONFIG = TrackerConfig(tau=0.0, keyframe_bound=2, update_every=2)


def _perturbed(model):
    """A copy of ``model`` whose gate's last bias differs by a tiny amount."""
    other = build_model("tiny")
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        other.gate.conv2.bias[0] += 1e-6
    return other


def _manifest(model, *, checkpoint=None) -> dict:
    return {"model": {"variant": "tiny", "checkpoint": checkpoint, "checkpoint_sha256": "ab" * 32 if checkpoint else None,
                      "weights_sha256": weights_fingerprint(model)}}


class _EagerBackend:
    """Executes a bundle's subgraphs with the eager model (stands in for a runtime)."""

    def __init__(self, inner: TorchRunner) -> None:
        self.inner = inner

    def execute(self, name, arrays):
        feeds = {spec.name: a for spec, a in zip(self.inner.subgraphs[name].inputs, arrays)}
        return list(self.inner.run(name, feeds).values())


class _FakeBundle(BundleRunner):
    """A real BundleRunner (manifest, folder, feed checks) whose backend is the eager model."""

    def __init__(self, inner: TorchRunner, model_info: dict) -> None:  # no super(): no files to load
        graphs = list(inner.subgraphs.values())
        self.manifest = {"target": "onnx", "model": model_info["model"], "frame_size": [H, W],
                         "subgraphs": subgraph_entries(graphs, {}), "tracker": CONFIG.to_json()}
        self.bundle_dir, self.target = Path("/bundles/tiny_64x96_fp32_onnx"), TARGETS["onnx"]
        self.subgraphs = subgraphs_from_manifest(self.manifest)
        self.backend = _EagerBackend(inner)


@pytest.fixture(scope="module")
def tiny():
    return build_model("tiny")


@pytest.fixture(scope="module")
def clip():
    return parity_clip(height=H, width=W, num_frames=4, davis_root=None)


def test_fingerprint_lives_in_one_place_and_sees_every_weight(tiny):
    from reusevos_edge.converters import bundle

    assert bundle.weights_fingerprint is weights_fingerprint
    assert weights_fingerprint(tiny) == weights_fingerprint(build_model("tiny"))
    assert len(weights_fingerprint(tiny)) == 64
    assert weights_fingerprint(_perturbed(tiny)) != weights_fingerprint(tiny)


def test_fingerprint_ignores_batchnorm_step_counters(tiny):
    """A model fresh from training (counters advanced) and its reloaded checkpoint share one fingerprint."""
    trained = build_model("tiny")
    for buf in trained.buffers():
        if not buf.is_floating_point():
            buf.add_(7)
    assert weights_fingerprint(trained) == weights_fingerprint(tiny)


def test_fingerprint_module_is_light():
    code = ("import sys, reusevos_edge.model.fingerprint\n"
            "print(sorted(m for m in ('torch', 'numpy', 'reusevos_edge.converters') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_check_passes_on_the_same_weights(tiny):
    assert check_bundle_weights(_manifest(tiny), build_model("tiny")) == weights_fingerprint(tiny)


def test_check_names_both_fingerprints_and_the_checkpoint(tiny):
    other = _perturbed(tiny)
    with pytest.raises(WeightsMismatchError) as info:
        check_bundle_weights(_manifest(tiny, checkpoint="exported.safetensors"), other,
                             bundle="out/tiny_64x96_fp32_onnx", checkpoint="runs/mine.safetensors")
    text = str(info.value)
    assert weights_fingerprint(tiny) in text and weights_fingerprint(other) in text
    assert "'runs/mine.safetensors'" in text and "'exported.safetensors'" in text
    assert "out/tiny_64x96_fp32_onnx" in text
    assert text.count("\n") == 0  # one line


def test_manifest_without_fingerprint(tiny, caplog):
    with pytest.raises(WeightsMismatchError, match="records no weights_sha256"):
        check_bundle_weights({"model": {"variant": "tiny"}}, tiny, checkpoint="c.safetensors")
    assert check_bundle_weights({"model": {"variant": "tiny"}}, tiny, missing_ok=True) is None
    assert "records no weights_sha256" in caplog.text


def test_parity_refuses_a_bundle_of_other_weights(tiny, clip):
    bundle = _FakeBundle(TorchRunner(model=tiny, height=H, width=W), _manifest(tiny, checkpoint="a.safetensors"))
    reference = TorchRunner(model=_perturbed(tiny), height=H, width=W)
    with pytest.raises(WeightsMismatchError, match="b.safetensors"):
        parity.check_parity(bundle, reference, clip, CONFIG, checkpoint="b.safetensors")
    with pytest.raises(WeightsMismatchError, match=weights_fingerprint(reference.model)):
        parity.measure_parity(bundle, reference, clip, CONFIG)


def test_parity_of_a_bundle_of_the_same_weights_runs(tiny, clip):
    bundle = _FakeBundle(TorchRunner(model=tiny, height=H, width=W), _manifest(tiny))
    report = parity.check_parity(bundle, TorchRunner(model=build_model("tiny"), height=H, width=W), clip, CONFIG)
    assert report.mean_iou == 1.0
    # a manifest without a fingerprint is not checked (logged), eager vs eager is not checked at all
    parity.check_parity(_FakeBundle(bundle.backend.inner, {"model": {"variant": "tiny"}}), bundle.backend.inner, clip, CONFIG)
    parity.check_parity(bundle.backend.inner, TorchRunner(model=_perturbed(tiny), height=H, width=W), clip, CONFIG)


# --- reusevos-eval / reusevos-track --bundle with --checkpoint ----------------------------------

@pytest.fixture(scope="module")
def checkpoints(tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    same, other = root / "same.safetensors", root / "other.safetensors"
    save_checkpoint(tiny, same)
    save_checkpoint(_perturbed(tiny), other)
    return same, other


def _patch_bundle_runner(monkeypatch, tiny):
    bundle = _FakeBundle(TorchRunner(model=tiny, height=H, width=W), _manifest(tiny, checkpoint=None))
    monkeypatch.setattr(bundle_runtime, "load_bundle_runner", lambda path, num_threads=None: bundle)
    return bundle


def test_eval_bundle_with_other_checkpoint_exits_2(davis2016_tree, tmp_path, capsys, monkeypatch, tiny, checkpoints):
    _patch_bundle_runner(monkeypatch, tiny)
    _, other = checkpoints
    out = tmp_path / "r.json"
    rc = eval_cli.main(["--davis", str(davis2016_tree), "--json", str(out), "--no-progress",
                        "--bundle", "somebundle", "--checkpoint", str(other)])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert str(other) in err and weights_fingerprint(tiny) in err
    assert weights_fingerprint(build_model("tiny", checkpoint=other)) in err
    assert not out.exists()


def test_eval_bundle_with_its_own_checkpoint_runs(davis2016_tree, tmp_path, monkeypatch, tiny, checkpoints):
    _patch_bundle_runner(monkeypatch, tiny)
    same, _ = checkpoints
    out = tmp_path / "r.json"
    rc = eval_cli.main(["--davis", str(davis2016_tree), "--sequences", "slow", "--json", str(out), "--no-progress",
                        "--bundle", "somebundle", "--checkpoint", str(same)])
    assert rc == 0
    config = json.loads(out.read_text())["config"]
    assert config["checkpoint"] == str(same) and config["bundle"] == "somebundle"
    assert (config["model"], config["size"], config["tracker"]) == ("tiny", f"{H}x{W}", CONFIG.to_json())


@pytest.mark.slow  # a real ONNX export: ~30 s on 2 busy cores
@pytest.mark.backend
def test_real_bundle_with_other_checkpoint_is_refused(tiny, checkpoints, tmp_path, capsys):
    """A real ONNX export of the tiny model: reusevos-track --bundle ... --checkpoint <other> exits 2."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from reusevos_edge.cli import track as track_cli
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.model.subgraphs import build_subgraphs

    same, other = checkpoints
    opts = validate_options(target="onnx", model="tiny", height=H, width=W, out_dir=tmp_path / "b", checkpoint=same)
    model = build_model("tiny", checkpoint=same)
    bundle = export_bundle(opts, model=model, subgraphs=build_subgraphs(model, height=H, width=W),
                           tracker_config=CONFIG).path
    base = ["--demo", "--demo-frames", "3", "--size", f"{H}x{W}", "--no-progress", "--bundle", str(bundle)]
    assert track_cli.main(base + ["--out", str(tmp_path / "bad"), "--checkpoint", str(other)]) == 2
    err = capsys.readouterr().err
    assert "holds other weights than checkpoint" in err and str(other) in err and "same.safetensors" in err
    assert not (tmp_path / "bad").exists()
    assert track_cli.main(base + ["--out", str(tmp_path / "good"), "--checkpoint", str(same)]) == 0
