"""PyTorch eager runner: executes the contract's subgraphs directly (the reference for parity)."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from ..errors import InputError
from ..model.reusevos import ReuseVOS
from ..model.subgraphs import build_subgraphs


class TorchRunner:
    """Runs subgraphs of ``model`` at a fixed frame size with ``torch.inference_mode``."""

    def __init__(self, *, model: ReuseVOS, height: int, width: int, threads: int | None = None) -> None:
        self.model = model.eval()
        self.height, self.width = height, width
        self.subgraphs = {g.name: g for g in build_subgraphs(model, height=height, width=width)}
        self.update_every = model.config.fit.update_every
        self.learning_rate = model.config.fit.learning_rate
        if threads:
            torch.set_num_threads(threads)

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        graph = self.subgraphs.get(name)
        if graph is None:
            raise InputError(f"subgraph '{name}' is not in this model; known: {sorted(self.subgraphs)}")
        args = []
        for spec in graph.inputs:
            arr = feeds.get(spec.name)
            if arr is None or tuple(arr.shape) != spec.shape:
                got = None if arr is None else tuple(arr.shape)
                raise InputError(f"subgraph '{name}' input '{spec.name}': expected shape {spec.shape}, got {got}")
            args.append(torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)))
        with torch.inference_mode():
            outs = graph.module(*args)
        return {spec.name: t.numpy() for spec, t in zip(graph.outputs, outs)}
