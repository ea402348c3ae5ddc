"""The runner protocol: how the tracker calls a subgraph, whatever executes it.

Runners take and return numpy float32 arrays keyed by the contract's input/output names, so a
PyTorch eager runner and an exported runtime (ExecuTorch, LiteRT, ONNX Runtime, Core ML) are
interchangeable behind the tracker. A runner carries execution only: the tracker's options and
the score generator's schedule come with the weights (checkpoint JSON, bundle manifest) as a
``TrackerConfig``.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Protocol, runtime_checkable

import numpy as np

from ..errors import InputError
from ..model.subgraph import Subgraph


@runtime_checkable
class Runner(Protocol):
    """Executes named subgraphs. ``subgraphs`` maps each name to its contract entry."""

    subgraphs: Mapping[str, Subgraph]

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run subgraph ``name`` on ``feeds`` (one array per input name); outputs by name."""
        ...


def check_feeds(subgraphs: Mapping[str, Subgraph], name: str, feeds: Mapping[str, np.ndarray], *,
                where: str) -> list[np.ndarray]:
    """Feeds of subgraph ``name`` in contract order as C-contiguous arrays of the spec's dtype: float32
    (anything else is cast), or an integer dtype the feed must already have (an int8 bundle's image codes,
    :mod:`reusevos_edge.quant.image_codes`: a cast from float would be silently wrong).

    InputError names an unknown subgraph (``where``: the model or bundle) or a missing/misshaped/mistyped input.
    """
    graph = subgraphs.get(name)
    if graph is None:
        raise InputError(f"subgraph {name!r} is not in {where}; known: {sorted(subgraphs)}")
    arrays = []
    for spec in graph.inputs:
        arr = feeds.get(spec.name)
        if arr is None or tuple(np.shape(arr)) != spec.shape:
            got = None if arr is None else tuple(np.shape(arr))
            raise InputError(f"subgraph {name!r} input {spec.name!r}: expected shape {spec.shape}, got {got}")
        if spec.dtype != "float32" and np.asarray(arr).dtype != spec.dtype:
            raise InputError(f"subgraph {name!r} input {spec.name!r}: expected {spec.dtype} values, got "
                             f"{np.asarray(arr).dtype}")
        arrays.append(np.ascontiguousarray(arr, dtype=spec.dtype))
    return arrays


class CountingRunner:
    """Wraps any runner and counts calls per subgraph (the tests' proof that work is skipped)."""

    def __init__(self, inner: Runner) -> None:
        self.inner, self.subgraphs = inner, inner.subgraphs
        self.calls: Counter[str] = Counter()

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls[name] += 1
        return self.inner.run(name, feeds)


class RecordingRunner:
    """Wraps any runner and keeps copies of the feeds of the first ``limit`` calls of each subgraph
    (to replay them elsewhere, or to calibrate int8 ranges); ``recorded[name]`` lists them in call order."""

    def __init__(self, inner: Runner, *, limit: int = 1) -> None:
        self.inner, self.subgraphs, self.limit = inner, inner.subgraphs, limit
        self.recorded: dict[str, list[dict[str, np.ndarray]]] = {}

    @property
    def feeds(self) -> dict[str, dict[str, np.ndarray]]:
        """The first feeds each subgraph saw."""
        return {name: calls[0] for name, calls in self.recorded.items()}

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        kept = self.recorded.setdefault(name, [])
        if len(kept) < self.limit:
            kept.append({k: np.array(v, copy=True) for k, v in feeds.items()})
        return self.inner.run(name, feeds)
