"""benchmarks/tau_sweep.py on the tiny model and a tiny DAVIS tree, two taus."""

from __future__ import annotations

import json

import cv2
import pytest

from conftest import load_benchmark



@pytest.fixture(scope="module")
def tau_sweep():
    return load_benchmark("tau_sweep")


def test_tau_sweep_writes_json_md_png(tau_sweep, davis2016_tree, tmp_path):
    out = tmp_path / "results"
    argv = ["--davis", str(davis2016_tree), "--model", "tiny", "--untrained", "--size", "64x96", "--taus", "1.0,0.0", "--keyframe-bound", "-1",
            "--out-dir", str(out)]
    assert tau_sweep.main(argv) == 0
    payload = json.loads((out / "tau_sweep.json").read_text())
    rows = payload["taus"]
    assert [r["tau"] for r in rows] == [1.0, 0.0]
    for r in rows:
        for key in ("J", "F", "jf", "reuse_rate", "fps"):
            assert r["overall"][key] is not None, key
        assert set(r["sequences"]) == {"slow", "fast"}
        assert 0 <= r["overall"]["jf"] <= 100
    assert rows[0]["overall"]["reuse_rate"] == 0.0  # tau 1: never reuse
    assert rows[1]["overall"]["reuse_rate"] == 1.0  # tau 0: reuse every frame after the first
    assert payload["config"]["model"] == "tiny" and payload["config"]["taus"] == [1.0, 0.0]
    md = (out / "tau_sweep.md").read_text()
    assert "| tau | J&F |" in md and "| 1.00 |" in md and "| 0.00 |" in md
    img = cv2.imread(str(out / "tau_sweep.png"))
    assert img is not None and img.shape == (600, 900, 3) and (img < 250).any()
    assert not list(out.glob(".*.tmp"))


def test_tau_sweep_bad_input(tau_sweep, davis2016_tree, tmp_path, capsys):
    base = ["--davis", str(davis2016_tree), "--model", "tiny", "--untrained", "--size", "64x96", "--out-dir", str(tmp_path)]
    assert tau_sweep.main([*base, "--taus", "1.5"]) == 2
    assert "--taus" in capsys.readouterr().err
    assert tau_sweep.main([*base, "--taus", "a,b"]) == 2
    assert tau_sweep.main([*base, "--taus", "0.5", "--size", "63x96"]) == 2
    assert not (tmp_path / "tau_sweep.json").exists()
