"""The object-centred reuse gate (``HeadConfig.gate = "object"``): what it reads, how a checkpoint carries it,
and that it exports and runs like PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reusevos_edge.errors import InputError
from reusevos_edge.model.checkpoint import save_checkpoint
from reusevos_edge.model.fingerprint import weights_fingerprint
from reusevos_edge.model.registry import build_model
from reusevos_edge.model.reuse_gate import ObjectGate, ReuseGate

TINY_SIZE = (64, 96)


def _gate(window: int) -> ObjectGate:
    torch.manual_seed(0)
    gate = ObjectGate(ch=8, window=window, open_init=0.3)
    with torch.no_grad():
        gate.linear.weight.normal_()
    return gate.eval()


def test_it_starts_open_with_the_configured_probability():
    gate = ObjectGate(ch=8, window=2, open_init=0.3)
    p = gate(torch.zeros(2, 8, 12, 16), torch.zeros(2, 1, 12, 16))
    assert p.shape == (2,) and torch.allclose(p, torch.full((2,), 0.3))


@pytest.mark.parametrize("window", [0, 2])
def test_it_reads_d_only_around_the_previous_object(window):
    gate = _gate(window)
    s8 = torch.zeros(1, 1, 12, 16)
    s8[..., 4:6, 4:6] = 1.0  # the previous object
    d = torch.rand(1, 8, 12, 16)
    far = d.clone()
    far[..., :, 10:] += 5.0  # beyond the grown region: columns >= 6 + window
    near = d.clone()
    near[..., 4, 4 + window] += 5.0  # inside it
    p, p_far, p_near = (float(gate(x, s8)) for x in (d, far, near))
    assert p_far == p and abs(p_near - p) > 1e-3


def test_window_zero_is_the_clamped_score_itself():
    gate = _gate(0)
    s8 = torch.zeros(1, 1, 12, 16)
    s8[..., 5, 5] = 3.0
    d = torch.rand(1, 8, 12, 16)
    z = gate.features(d, s8)
    assert z.shape == (1, 16) and torch.allclose(z[0, :8], d[0, :, 5, 5])


def test_a_checkpoint_names_its_gate_and_builds_it(tmp_path):
    model = build_model("tiny")
    model.set_gate("object", window=3)
    assert isinstance(model.gate, ObjectGate) and model.gate.window == 3
    with torch.no_grad():
        model.gate.linear.weight.normal_()
    save_checkpoint(model, tmp_path / "g.safetensors")
    head = json.loads((tmp_path / "g.json").read_text())["config"]["head"]
    assert head["gate"] == "object" and head["gate_window"] == 3
    loaded = build_model("tiny", checkpoint=tmp_path / "g.safetensors")
    assert isinstance(loaded.gate, ObjectGate) and loaded.gate.window == 3
    assert torch.equal(loaded.gate.linear.weight, model.gate.linear.weight)
    assert weights_fingerprint(loaded) == weights_fingerprint(model)
    loaded.set_gate("object", window=2)
    assert weights_fingerprint(loaded) != weights_fingerprint(model)


def test_a_frame_gate_checkpoint_turns_an_object_gate_model_back(tmp_path):
    save_checkpoint(build_model("tiny"), tmp_path / "f.safetensors")
    model = build_model("tiny")
    model.set_gate("object", window=4)
    from reusevos_edge.model.checkpoint import load_checkpoint

    load_checkpoint(model, tmp_path / "f.safetensors")
    assert isinstance(model.gate, ReuseGate) and model.config.head.gate == "frame"


@pytest.mark.parametrize("field, value", [("gate", "global"), ("gate_window", -1), ("gate_window", 2.5)])
def test_a_bad_recorded_gate_is_one_clear_error(tmp_path, field, value):
    save_checkpoint(build_model("tiny"), tmp_path / "b.safetensors")
    info = json.loads((tmp_path / "b.json").read_text())
    info["config"]["head"][field] = value
    (tmp_path / "b.json").write_text(json.dumps(info))
    with pytest.raises(InputError, match=rf"b\.json: config\.head\.{field}="):
        build_model("tiny", checkpoint=tmp_path / "b.safetensors")


@pytest.mark.backend
@pytest.mark.parametrize("target", ["executorch", "onnx"])
def test_it_exports_and_runs_like_pytorch(target, tmp_path):
    pytest.importorskip({"executorch": "executorch.runtime", "onnx": "onnxruntime"}[target])
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.model.subgraphs import build_subgraphs
    from reusevos_edge.runtime.bundle import load_bundle_runner
    from reusevos_edge.runtime.torch_runner import TorchRunner
    from reusevos_edge.tracker.config import TrackerConfig

    model = build_model("tiny")
    model.set_gate("object", window=2)
    with torch.no_grad():
        model.gate.linear.weight.normal_(std=0.3)
    subgraphs = build_subgraphs(model, height=TINY_SIZE[0], width=TINY_SIZE[1])
    match_gate = next(sg for sg in subgraphs if sg.name == "match_gate")
    opts = validate_options(target=target, model="tiny", height=TINY_SIZE[0], width=TINY_SIZE[1], out_dir=tmp_path)
    bundle = export_bundle(opts, model=model, subgraphs=subgraphs, tracker_config=TrackerConfig())
    runner = load_bundle_runner(bundle.path, num_threads=1)
    reference = TorchRunner(model=model, height=TINY_SIZE[0], width=TINY_SIZE[1])
    gen = torch.Generator().manual_seed(1)
    feeds = {s.name: torch.rand(s.shape, generator=gen).numpy() for s in match_gate.inputs}
    feeds["prev_score"] = np.where(feeds["prev_score"] > 0.7, 1.0, 0.0).astype(np.float32)  # an object region
    got, want = runner.run("match_gate", feeds), reference.run("match_gate", feeds)
    assert abs(float(got["p_gate"][0]) - float(want["p_gate"][0])) < 1e-5
    assert 0.0 < float(want["p_gate"][0]) < 1.0
