"""benchmarks/select_options.py: the fixed selection rules, and the whole run on the tiny model (train-holdout
measured, train-fit for the gate map, never val), ending in a checkpoint that carries the chosen options."""

from __future__ import annotations

import json

import pytest

from reusevos_edge.cli.train import main as train_main
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.model.registry import build_model
from reusevos_edge.tracker.config import tracker_defaults

from conftest import load_benchmark, write_davis_tree


@pytest.fixture(scope="module")
def script():
    return load_benchmark("select_options")


def test_epoch_rule_prefers_the_later_of_near_ties(script):
    rows = [{"epoch": 3, "jf": 70.0}, {"epoch": 6, "jf": 74.0}, {"epoch": 9, "jf": 73.6}, {"epoch": 12, "jf": 72.0}]
    assert script.choose_epoch(rows) == 9
    assert script.choose_epoch(rows[:2]) == 6


def test_bound_rule_prefers_the_larger_reach_of_near_ties(script):
    rows = [{"bound": 3.0, "jf": 55.1}, {"bound": 2.0, "jf": 57.4}, {"bound": 1.0, "jf": 61.7}, {"bound": 1.5, "jf": 61.3}]
    assert script.choose_bound(rows) == 1.5
    assert script.choose_bound(rows[:3]) == 1.0


def test_reuse_rule_most_reuse_within_the_drop_then_the_paper_path(script):
    row = lambda tau, ds, jf, reuse: {"tau": tau, "keyframe_bound": 1, "delta_scale": ds, "jf": jf, "reuse_rate": reuse}  # noqa: E731
    rows = [row(0.8, 0.0, 80.0, 0.20), row(0.6, 0.0, 79.3, 0.50), row(0.6, 1.0, 79.1, 0.49), row(0.5, 0.0, 78.0, 0.70)]
    assert script.choose_reuse(rows, 80.0) == rows[2]  # 0.70 drops 2.0; 0.49 ties 0.50 and takes the delta path
    assert script.choose_reuse(rows[:2], 80.0) == rows[1]
    assert script.choose_reuse([row(0.5, 0.0, 70.0, 0.9)], 80.0) is None


def test_no_kept_epochs_is_one_clear_error(script, tmp_path):
    with pytest.raises(Exception, match="--keep-every"):
        script.kept_epochs(tmp_path, None)
    (tmp_path / "epoch_003.safetensors").write_bytes(b"")
    with pytest.raises(Exception, match=r"\[5\]"):
        script.kept_epochs(tmp_path, "3,5")


def test_bad_threads_is_one_clear_error(script, tmp_path, capsys):
    assert script.main(["--davis", str(tmp_path), "--run-dir", str(tmp_path), "--threads", "0"]) == 2
    assert "--threads 0" in capsys.readouterr().err


def test_selects_on_train_holdout_and_writes_the_chosen_options(script, tmp_path, monkeypatch):
    names = [f"s{i:02d}" for i in range(3)]  # train-holdout s00; train-fit s01, s02
    clips = {n: make_clip(num_frames=4, height=48, width=64, speed_px=1.0 + i, seed=i) for i, n in enumerate(names)}
    root = write_davis_tree(tmp_path / "davis", clips, split="train")
    run = tmp_path / "run"
    assert train_main(["--davis", str(root), "--res", "480p", "--model", "tiny", "--size", "64x96", "--epochs", "2",
                       "--clips-per-epoch", "1", "--batch", "1", "--clip-len", "3", "--no-progress", "--keep-every", "1",
                       "--out", str(run)]) == 0
    assert sorted(p.name for p in run.glob("epoch_*.safetensors")) == ["epoch_001.safetensors", "epoch_002.safetensors"]
    monkeypatch.setattr(script, "TAUS", (0.5,))
    monkeypatch.setattr(script, "KEYFRAME_BOUNDS", (1, -1))
    monkeypatch.setattr(script, "BOUNDS", (3.0, 1.0))
    assert script.main(["--davis", str(root), "--res", "480p", "--run-dir", str(run), "--size", "64x96"]) == 0
    sel = json.loads((run / "selection" / "selection.json").read_text())
    assert sel["holdout"] == ["s00"] and [r["epoch"] for r in sel["epochs"]] == [1, 2]
    assert sel["epoch"] == script.choose_epoch(sel["epochs"]) and len(sel["reuse"]) == 4
    model = build_model("tiny", checkpoint=run / "selection" / "selected.safetensors", use_default_checkpoint=False)
    chosen = tracker_defaults(model, checkpoint=run / "selection" / "selected.safetensors")
    assert chosen.to_json() == sel["tracker"]
    assert [r["bound"] for r in sel["bounds"]] == [3.0, 1.0] and sel["bound"] == script.choose_bound(sel["bounds"])
    assert model.refine_shallow.bound == sel["bound"]
    cal = sel["calibration"]
    assert chosen.gate_calibration == (None if cal["a"] is None else (cal["a"], cal["b"]))
    assert "## 5. reuse options" in (run / "selection" / "selection.md").read_text()
