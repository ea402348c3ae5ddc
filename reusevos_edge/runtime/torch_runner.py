"""PyTorch eager runner: executes the contract's subgraphs directly (the reference for parity)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from ..model.reusevos import ReuseVOS
from ..model.subgraph import Subgraph
from ..model.subgraphs import build_subgraphs
from .base import check_feeds


class TorchRunner:
    """Runs subgraphs of ``model`` at a fixed frame size with ``torch.inference_mode``.

    ``subgraphs``: the contract's programs to run instead of the model's own (e.g. its int8
    fake-quantized versions from ``reusevos_edge.quant``); ``model`` still names the weights.
    """

    def __init__(self, *, model: ReuseVOS, height: int, width: int, threads: int | None = None,
                 subgraphs: Sequence[Subgraph] | None = None) -> None:
        self.model = model.eval()
        self.height, self.width = height, width
        graphs = subgraphs if subgraphs is not None else build_subgraphs(model, height=height, width=width)
        self.subgraphs = {g.name: g for g in graphs}
        if threads:
            torch.set_num_threads(threads)

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays = check_feeds(self.subgraphs, name, feeds, where=f"model {self.model.config.name!r}")
        graph = self.subgraphs[name]
        with torch.inference_mode():
            outs = graph.module(*(torch.from_numpy(a) for a in arrays))
        return {spec.name: t.numpy() for spec, t in zip(graph.outputs, outs)}
