"""A runner wrapper that times every subgraph call (wall clock, ms)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Mapping

import numpy as np

from ..runtime.base import Runner


class TimingRunner:
    """Wraps any runner; ``ms[name]`` lists the wall time of each call of subgraph ``name`` since the
    last ``clear()``."""

    def __init__(self, inner: Runner) -> None:
        self.inner, self.subgraphs = inner, inner.subgraphs
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.lap_ms = 0.0

    def clear(self) -> None:
        self.ms.clear()
        self.lap_ms = 0.0

    def lap(self) -> float:
        """ms spent inside subgraph calls since the last lap (or clear)."""
        lap, self.lap_ms = self.lap_ms, 0.0
        return lap

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        out = self.inner.run(name, feeds)
        elapsed = 1e3 * (time.perf_counter() - start)
        self.ms[name].append(elapsed)
        self.lap_ms += elapsed
        return out

    def mean_ms(self) -> dict[str, float]:
        return {name: float(np.mean(values)) for name, values in sorted(self.ms.items())}

    def calls(self) -> dict[str, int]:
        return {name: len(values) for name, values in sorted(self.ms.items())}
