"""benchmarks/int8_gate_sources.py: the mixed runner sends each subgraph to the precision its row names."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from conftest import load_benchmark

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports int8_report from its own folder
    return load_benchmark("int8_gate_sources")


class _Named:
    def __init__(self, tag):
        self.tag, self.calls, self.subgraphs = tag, [], {"contract": tag}

    def run(self, name, feeds):
        self.calls.append(name)
        return {"from": self.tag}


def test_each_subgraph_runs_on_the_bundle_its_row_names(monkeypatch):
    script = _script(monkeypatch)
    fp32, int8 = _Named("fp32"), _Named("int8")
    mixed = script.MixedRunner(fp32=fp32, int8=int8, names=script.ROWS["gate path only"])
    assert mixed.run("match_gate", {}) == {"from": "int8"} and mixed.run("template_build", {}) == {"from": "int8"}
    assert mixed.run("backbone_low", {}) == {"from": "fp32"} and mixed.run("score_gen", {}) == {"from": "fp32"}
    assert mixed.subgraphs == {"contract": "fp32"}
    every = {n for names in script.ROWS.values() for n in names}
    from reusevos_edge.quant.precision import INT8_SUBGRAPHS

    assert every == set(INT8_SUBGRAPHS) and set(script.ROWS["all int8"]) == set(INT8_SUBGRAPHS)
    assert "int8_report" in sys.modules


class _Gate:
    """A runner whose every output is a constant P_gate / feature, recording the feeds it got."""

    def __init__(self, p):
        self.p, self.feeds, self.subgraphs = p, [], {"contract": p}

    def run(self, name, feeds):
        self.feeds.append((name, dict(feeds)))
        return {"f8": f"f8@{self.p}", "template": f"template@{self.p}", "p_gate": np.array([self.p])}


def test_the_teacher_forced_gate_reads_the_fp32_state_with_its_own_features(monkeypatch):
    script = _script(monkeypatch)
    fp32, int8 = _Gate(0.7), _Gate(0.6)
    shadow = script.ShadowGate(fp32=fp32, int8=int8)
    shadow.run("backbone_low", {"image": "frame"})
    shadow.run("template_build", {"f8": "f8@0.7", "mask8": "mask"})
    out = shadow.run("match_gate", {"f8": "f8@0.7", "prev_score": "S", "template": "template@0.7"})
    assert out["p_gate"][0] == 0.7 and shadow.pairs == [(0.7, 0.6)]  # the tracker sees fp32 only
    assert int8.feeds[1] == ("template_build", {"f8": "f8@0.6", "mask8": "mask"})
    assert int8.feeds[2] == ("match_gate", {"f8": "f8@0.6", "prev_score": "S", "template": "template@0.6"})
    shadow.run("score_gen", {})
    assert [n for n, _ in int8.feeds] == ["backbone_low", "template_build", "match_gate"]

    from reusevos_edge.tracker.config import TrackerConfig

    forced = script.teacher_forced([(0.7, 0.6), (0.7, 0.4), (0.2, 0.3)], TrackerConfig(tau=0.5))
    assert forced["gates"] == 3 and forced["gate_agreement"] == 2 / 3
    assert abs(forced["mean_abs_dp"] - 0.5 / 3) < 1e-12
