"""benchmarks/int8_gate_sources.py: the mixed runner sends each subgraph to the precision its row names."""

from __future__ import annotations

import sys
from pathlib import Path

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
