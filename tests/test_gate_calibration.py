"""Gate calibration: reliability bins, ECE, rank correlation, the fitted re-mapping folded into the gate,
the held-out split of the training sequences, and benchmarks/gate_calibration.py end to end (tiny model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reusevos_edge.data.davis import DavisDataset
from reusevos_edge.data.splits import HOLDOUT_EVERY, derived_split
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.errors import InputError
from reusevos_edge.metrics.calibration import expected_calibration_error, fit_logit_affine, reliability_bins, spearman
from reusevos_edge.tracker.config import TrackerConfig

from conftest import load_benchmark, write_davis_tree

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


def test_the_fitted_map_is_recovered_and_the_tracker_reads_p_gate_through_it():
    z = np.random.default_rng(1).normal(size=300)
    p = 1 / (1 + np.exp(-z))
    a, b = fit_logit_affine(p, 1 / (1 + np.exp(-(1.8 * z + 0.9))))
    assert (a, b) == (pytest.approx(1.8, abs=1e-4), pytest.approx(0.9, abs=1e-4))
    config = TrackerConfig.from_json({"gate_calibration": [a, b]}, where="test")
    assert config.gate_calibration == (a, b) and TrackerConfig.from_json(config.to_json(), where="x") == config
    assert config.gate_probability(0.3) == pytest.approx(1 / (1 + np.exp(-(a * np.log(0.3 / 0.7) + b))))
    assert TrackerConfig().gate_probability(0.3) == 0.3
    for bad in ([0.0, 1.0], [1.0], [1.0, float("nan")], "1,2"):
        with pytest.raises(InputError, match="gate_calibration="):
            TrackerConfig(gate_calibration=bad)


def test_the_tracker_decides_and_records_on_the_calibrated_p_gate():
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.data.clip import synthetic_clip
    from reusevos_edge.runtime.torch_runner import TorchRunner
    from reusevos_edge.tracker.run import track_clip
    from reusevos_edge.tracker.tracker import Tracker

    runner = TorchRunner(model=build_model("tiny", use_default_checkpoint=False), height=64, width=96)
    clip = lambda: synthetic_clip(height=64, width=96, num_frames=4, num_objects=1)  # noqa: E731
    raw = track_clip(Tracker(runner=runner, config=TrackerConfig(tau=1.0)), clip())
    p_raw = [r.objects[1].p_gate for r in raw.records[1:]]
    config = TrackerConfig(tau=1.0, gate_calibration=(2.0, -0.5))
    cal = track_clip(Tracker(runner=runner, config=config), clip())
    assert [r.objects[1].p_gate for r in cal.records[1:]] == pytest.approx([config.gate_probability(p) for p in p_raw])
    tau = config.gate_probability(float(np.median(p_raw)))  # the calibrated scale decides
    decided = track_clip(Tracker(runner=runner, config=config.replace(tau=tau, keyframe_bound=None)), clip())
    first = decided.records[1].objects[1]
    assert first.decision == ("reuse" if first.p_gate > tau else "compute")


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
    return load_benchmark("gate_calibration")


TINY = ["--model", "tiny", "--untrained", "--size", "64x96", "--res", "480p"]


def test_the_calibration_report_writes_json_md_png_and_fits_only_on_training_data(script, davis2016_tree, tmp_path,
                                                                                   capsys):
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
    args = ["--davis", str(train), "--split", "train", "--out-dir", str(out), "--fit-out", str(ckpt), *TINY]
    assert script.main(args) == 2  # the untrained gate's P is constant: nothing to fit
    assert "P_gate does not rise with the IoU" in capsys.readouterr().err and not ckpt.exists()
    setup = script.make_setup(script.build_parser().parse_args(args))
    z = np.linspace(-2, 2, 40)
    script.write_calibrated(setup, ckpt, 1 / (1 + np.exp(-z)), 1 / (1 + np.exp(-(2 * z + 1))), split="train")
    info = json.loads(ckpt.with_suffix(".json").read_text())
    record, tracker = info["gate_calibration_fit"], TrackerConfig.from_json(info["tracker"], where="fit")
    assert (record["a"], record["b"]) == (pytest.approx(2.0, abs=1e-3), pytest.approx(1.0, abs=1e-3))
    assert record["split"] == "train" and tracker.gate_calibration == (record["a"], record["b"])
    # tau moved onto the new scale: the program's P crosses it exactly where it crossed the old tau
    assert tracker.tau == pytest.approx(tracker.gate_probability(setup.config.tau), abs=1e-4)
    assert ckpt.is_file()
