"""Gate calibration: reliability bins, ECE, rank correlation, the fitted re-mapping folded into the gate,
the held-out split of the training sequences, and benchmarks/gate_calibration.py end to end (tiny model)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from reusevos_edge.data.davis import DavisDataset
from reusevos_edge.data.splits import HOLDOUT_EVERY, derived_split
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.errors import InputError
from reusevos_edge.metrics.calibration import expected_calibration_error, fit_logit_affine, reliability_bins, spearman
from reusevos_edge.model.reuse_gate import ReuseGate

from conftest import write_davis_tree

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gate_calibration.py"


def test_a_calibrated_gate_has_zero_ece_and_an_offset_one_has_the_offset():
    p = np.random.default_rng(0).uniform(0.05, 0.75, 400)
    assert expected_calibration_error(reliability_bins(p, p)) == pytest.approx(0.0)
    assert expected_calibration_error(reliability_bins(p, p + 0.2)) == pytest.approx(0.2)
    bins = reliability_bins([0.05, 0.95, 1.0], [0.0, 1.0, 1.0])
    assert [b.count for b in bins] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 2]  # P = 1 falls in the last bin
    assert np.isnan(bins[1].mean_p)


def test_spearman_handles_ties_and_constant_inputs():
    x = np.array([0.1, 0.2, 0.2, 0.4, 0.5])
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    # ranks with ties averaged: x -> 0, 1.5, 1.5, 3, 4; y -> 0, 2, 1, 4, 3
    a, b = np.array([0, 1.5, 1.5, 3, 4]) - 2, np.array([0, 2, 1, 4, 3]) - 2
    assert spearman(x, y) == pytest.approx((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.ones(5), y))
    with pytest.raises(ValueError, match="differ in length"):
        spearman(x, y[:3])


def test_fit_recovers_the_map_and_folding_it_into_the_gate_is_exact():
    z = np.random.default_rng(1).normal(size=300)
    p = 1 / (1 + np.exp(-z))
    a, b = fit_logit_affine(p, 1 / (1 + np.exp(-(1.8 * z + 0.9))))
    assert (a, b) == (pytest.approx(1.8, abs=1e-4), pytest.approx(0.9, abs=1e-4))
    gate = ReuseGate(ch=8, hidden=4, open_init=0.3).eval()
    d = torch.randn(4, 8, 16, 20)
    with torch.no_grad():
        before = gate(d)
        gate.fold_logit_affine(a, b)
        after = gate(d)
    torch.testing.assert_close(after, torch.sigmoid(a * torch.logit(before) + b), atol=1e-6, rtol=1e-5)


def test_the_held_out_training_sequences_are_every_fifth_sorted_name(tmp_path):
    names = [f"s{i:02d}" for i in range(12)]
    held, fit = derived_split("train-holdout", names[::-1]), derived_split("train-fit", names)
    assert held == names[::HOLDOUT_EVERY] and sorted(held + fit) == names and not set(held) & set(fit)
    clip = make_clip(num_frames=2, height=32, width=32, seed=0)
    root = write_davis_tree(tmp_path / "d", {n: clip for n in names[:3]}, split="train")
    dataset = DavisDataset(root=root, res="480p")
    assert [s.name for s in dataset.sequences("train-holdout")] == ["s00"]
    assert [s.name for s in dataset.sequences("train-fit")] == ["s01", "s02"]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("gate_calibration", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY = ["--model", "tiny", "--untrained", "--size", "64x96", "--res", "480p"]


def test_the_calibration_report_writes_json_md_png_and_fits_only_on_training_data(script, davis2016_tree, tmp_path):
    out = tmp_path / "results"
    assert script.main(["--davis", str(davis2016_tree), "--split", "val", "--out-dir", str(out), *TINY]) == 0
    result = json.loads((out / "gate_calibration_val.json").read_text())
    assert set(result["sequences"]) == {"slow", "fast"}
    assert result["overall"]["pairs"] == 2 * 5  # every frame after the first, one object each
    assert sum(b["count"] for b in result["overall"]["bins"]) == 10
    assert 0.0 <= result["overall"]["ece"] <= 1.0 and result["config"]["split"] == "val"
    assert "| **all** | 10 |" in (out / "gate_calibration_val.md").read_text()
    assert (out / "gate_calibration_val.png").stat().st_size > 1000

    ckpt = tmp_path / "cal.safetensors"
    with pytest.raises(InputError, match="training sequences only"):
        script.run(script.build_parser().parse_args(["--davis", str(davis2016_tree), "--split", "val",
                                                     "--fit-out", str(ckpt), *TINY]))
    assert not ckpt.exists()
    train = write_davis_tree(tmp_path / "train", {"a": make_clip(num_frames=4, height=48, width=64, seed=5),
                                                  "b": make_clip(num_frames=4, height=48, width=64, speed_px=3.0, seed=6)},
                             split="train")
    assert script.main(["--davis", str(train), "--split", "train", "--out-dir", str(out), "--fit-out", str(ckpt), *TINY]) == 0
    record = json.loads(ckpt.with_suffix(".json").read_text())["gate_calibration"]
    assert record["split"] == "train" and record["pairs"] == 6 and np.isfinite([record["a"], record["b"]]).all()
