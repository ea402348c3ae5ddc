"""The runner protocol: how the tracker calls a subgraph, whatever executes it.

Runners take and return numpy float32 arrays keyed by the contract's input/output names, so a
PyTorch eager runner and an exported runtime (ExecuTorch, LiteRT, ONNX Runtime, Core ML) are
interchangeable behind the tracker.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Protocol, runtime_checkable

import numpy as np

from ..model.subgraph import Subgraph


@runtime_checkable
class Runner(Protocol):
    """Executes named subgraphs. ``subgraphs`` maps each name to its contract entry.

    ``update_every`` and ``learning_rate`` are the model's score-generator schedule (host side:
    refit the filter every N computed frames; weight of a new memory sample).
    """

    subgraphs: Mapping[str, Subgraph]
    update_every: int
    learning_rate: float

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run subgraph ``name`` on ``feeds`` (one array per input name); outputs by name."""
        ...


class CountingRunner:
    """Wraps any runner and counts calls per subgraph (the tests' proof that work is skipped)."""

    def __init__(self, inner: Runner) -> None:
        self.inner = inner
        self.subgraphs = inner.subgraphs
        self.update_every, self.learning_rate = inner.update_every, inner.learning_rate
        self.calls: Counter[str] = Counter()

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls[name] += 1
        return self.inner.run(name, feeds)
