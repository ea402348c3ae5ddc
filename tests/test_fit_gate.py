"""benchmarks/fit_gate.py: the object gate fitted on training sequences, its options chosen by grouped CV."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.errors import InputError
from reusevos_edge.metrics.calibration import spearman
from reusevos_edge.model.registry import build_model
from reusevos_edge.model.reuse_gate import ObjectGate
from reusevos_edge.tracker.config import tracker_defaults

from conftest import load_benchmark, write_davis_tree


@pytest.fixture(scope="module")
def script():
    return load_benchmark("fit_gate")


def test_the_rule_takes_the_best_ranking_then_the_best_within_a_video(script):
    rows = [{"window": 2, "steps": 150, "spearman": 0.50, "within": 0.10},
            {"window": 4, "steps": 400, "spearman": 0.49, "within": 0.30},
            {"window": 8, "steps": 400, "spearman": 0.40, "within": 0.90}]
    assert script.choose(rows)["window"] == 4
    assert script.choose(rows[:1] + rows[2:])["window"] == 2


def test_the_linear_fit_recovers_a_ranking_signal(script):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 6)).astype(np.float32)
    iou = (1 / (1 + np.exp(-(1.5 * z[:, 0] - 0.5 * z[:, 3])))).astype(np.float32)
    weight, bias = script.fit_linear(z, iou, steps=400)
    assert weight.shape == (1, 6) and bias.shape == (1,)
    assert spearman(script.predict(z, weight, bias), iou) > 0.95


def test_it_refuses_non_training_splits_before_any_work(script, tmp_path):
    with pytest.raises(InputError, match="--split 'val'"):
        script.run(script.build_parser().parse_args(["--davis", str(tmp_path), "--split", "val", "--out", "x.safetensors"]))
    with pytest.raises(InputError, match="expected a .safetensors"):
        script.run(script.build_parser().parse_args(["--davis", str(tmp_path), "--out", "x.pt"]))


def test_fits_on_training_sequences_and_writes_an_object_gate_checkpoint(script, tmp_path):
    names = [f"s{i:02d}" for i in range(4)]
    clips = {n: make_clip(num_frames=4, height=48, width=64, speed_px=1.0 + i, seed=i) for i, n in enumerate(names)}
    root = write_davis_tree(tmp_path / "davis", clips, split="train")
    out, report = tmp_path / "gate.safetensors", tmp_path / "report"
    assert script.main(["--davis", str(root), "--res", "480p", "--split", "train", "--model", "tiny", "--untrained",
                        "--size", "64x96", "--folds", "2", "--out", str(out), "--report-dir", str(report)]) == 0
    result = json.loads((report / "fit_gate_train.json").read_text())
    assert result["pairs"] == 4 * 3 and len(result["cv"]) == len(script.WINDOWS) * len(script.STEPS)
    assert result["chosen"] == script.choose(result["cv"])
    model = build_model("tiny", checkpoint=out)
    assert isinstance(model.gate, ObjectGate) and model.gate.window == result["chosen"]["window"]
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["gate_fit"]["pairs"] == 12 and tracker_defaults(model, checkpoint=out).gate_calibration is None
    assert torch.isfinite(model.gate.linear.weight).all()
