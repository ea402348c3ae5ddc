"""Multiply-accumulate counts per subgraph, and the cost of a computed frame vs a reuse frame."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from .subgraph import Subgraph

COMPUTED_FRAME = ("backbone_low", "backbone_high", "match_gate", "score_gen", "refine_deep", "refine_shallow")
REUSE_FRAME = ("backbone_low", "match_gate", "refine_translate", "refine_shallow")


@dataclass(frozen=True)
class FrameCost:
    """MACs per subgraph and per frame kind at one frame size (score_update amortised over its period)."""

    per_subgraph: dict[str, int]
    computed: int
    reuse: int

    @property
    def reuse_fraction(self) -> float:
        return self.reuse / self.computed

    def table(self) -> str:
        rows = [f"| {n} | {m / 1e6:,.1f} |" for n, m in self.per_subgraph.items()]
        rows += [f"| **computed frame** | {self.computed / 1e6:,.1f} |", f"| **reuse frame** | {self.reuse / 1e6:,.1f} |",
                 f"| reuse / computed | {self.reuse_fraction:.3f} |"]
        return "| subgraph | MMACs |\n|---|---|\n" + "\n".join(rows)


def count_macs(graph: Subgraph) -> int:
    """MACs of one call of ``graph`` on its example inputs (flop counter / 2: convs, matmuls)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        graph.module(*graph.example_inputs())
    return counter.get_total_flops() // 2


def frame_cost(graphs: list[Subgraph], *, update_every: int) -> FrameCost:
    per = {g.name: count_macs(g) for g in graphs}
    computed = sum(per[n] for n in COMPUTED_FRAME) + per["score_update"] // max(update_every, 1)
    return FrameCost(per_subgraph=per, computed=computed, reuse=sum(per[n] for n in REUSE_FRAME))
