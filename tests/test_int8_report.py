"""benchmarks/int8_report.py: the decision-synced gate agreement follows the reference's path."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_benchmark

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
H, W = 64, 96


def _setup(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from reusevos_edge.data.clip import synthetic_clip
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.runtime.torch_runner import TorchRunner

    runner = TorchRunner(model=build_model("tiny", use_default_checkpoint=False), height=H, width=W)
    clip = lambda: synthetic_clip(height=H, width=W, num_frames=8, num_objects=1, name="demo")  # noqa: E731
    return load_benchmark("int8_report"), runner, clip


def test_the_following_tracker_takes_the_references_path_and_records_its_own_gate(monkeypatch):
    script, runner, clip = _setup(monkeypatch)
    from reusevos_edge.tracker.config import TrackerConfig

    # a reference that reused every other frame (the path a keyframe bound of 1 gives), 7 gated frames
    plan = [["init"]] + [["reuse" if i % 2 else "compute"] for i in range(1, 8)]
    config = TrackerConfig(tau=0.0, keyframe_bound=1)  # on its own it would reuse wherever the bound allows
    rows = script.followed(runner, config, [clip()], {"demo": plan})
    assert [r["ref"] for r in rows] == [p[0] for p in plan[1:]]
    assert [r["bound"] for r in rows] == [i % 2 == 0 for i in range(1, 8)]  # the frame after each reuse
    assert script.followed_agreement(rows, tau=0.0) == 1.0  # p > 0 everywhere: reuse unless bound, as planned
    assert script.followed_agreement(rows, tau=1.0) == 3 / 7  # never above 1: compute, right on the 3 computes


def test_free_running_agreement_counts_a_shifted_alternation_as_disagreement(monkeypatch):
    script, _, _ = _setup(monkeypatch)
    a = {"demo": [["init"], ["reuse"], ["compute"], ["reuse"]]}
    b = {"demo": [["init"], ["compute"], ["reuse"], ["compute"]]}  # one flip, then shifted alternation
    assert script.agreement(a, b) == 0.0 and script.agreement(a, a) == 1.0


def test_int8_tau_grid_choice_and_refusal_of_val(monkeypatch):
    _setup(monkeypatch)
    tau = load_benchmark("int8_tau")
    assert tau.parse_taus("0.5:0.6:0.05") == [0.5, 0.55, 0.6] and tau.parse_taus("0.6,0.7") == [0.6, 0.7]
    rows = [{"tau": t, "synced_agreement": a} for t, a in ((0.6, 0.97), (0.62, 0.98), (0.66, 0.98), (0.7, 0.9))]
    assert tau.choose(rows, 0.6382)["tau"] == 0.62  # a tie goes to the tau nearest the float model's
    with pytest.raises(SystemExit):
        tau.parse_args(["--davis", "d", "--bundle", "b", "--split", "val"])
