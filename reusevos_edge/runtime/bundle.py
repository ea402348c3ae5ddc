"""Load an exported bundle (a directory with ``manifest.json``) as a :class:`Runner`.

``load_bundle_runner(path)`` verifies every file's sha256 against the manifest, then opens the
backend named there (ONNX Runtime, ExecuTorch, LiteRT or Core ML). Backends are imported only
here, lazily, never when ``reusevos_edge`` is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
from torch import nn

from ..errors import InputError
from ..model.subgraph import Subgraph, TensorSpec

MANIFEST_NAME = "manifest.json"


class _NotExecutable(nn.Module):
    """Placeholder module: a bundle's subgraphs run in their runtime, not in PyTorch."""

    def forward(self, *args):
        raise RuntimeError("this subgraph comes from an exported bundle; run it through its runner")


def subgraphs_from_manifest(manifest: dict) -> dict[str, Subgraph]:
    """The contract entries of a manifest as Subgraphs (specs only, no executable module)."""
    def specs(items) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec(s["name"], tuple(s["shape"]), s["dtype"]) for s in items)

    return {
        e["name"]: Subgraph(e["name"], _NotExecutable(), specs(e["inputs"]), specs(e["outputs"]), e.get("doc", ""))
        for e in manifest["subgraphs"]
    }


class BundleRunner:
    """Shared part of every bundle runner: contract, fit constants and feed validation.

    Subclasses implement ``_execute(name, arrays) -> list[np.ndarray]`` with arrays in contract
    input order (float32, C-contiguous, NCHW) and outputs in contract output order.
    """

    def __init__(self, bundle_dir: Path, manifest: dict) -> None:
        self.bundle_dir = Path(bundle_dir)
        self.manifest = manifest
        self.subgraphs: Mapping[str, Subgraph] = subgraphs_from_manifest(manifest)
        self.program_inputs = {e["name"]: e["program_inputs"] for e in manifest["subgraphs"]}
        self.program_outputs = {e["name"]: e["program_outputs"] for e in manifest["subgraphs"]}
        fit = manifest.get("fit", {})
        self.update_every = int(fit.get("update_every", 8))
        self.learning_rate = float(fit.get("learning_rate", 0.1))

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        graph = self.subgraphs.get(name)
        if graph is None:
            raise InputError(f"subgraph {name!r} is not in bundle {str(self.bundle_dir)!r}; known: {sorted(self.subgraphs)}")
        arrays = check_feeds(graph, feeds)
        outs = self._execute(name, arrays)
        return {spec.name: np.asarray(out, dtype=np.float32).reshape(spec.shape) for spec, out in zip(graph.outputs, outs)}

    def _execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError


def check_feeds(graph: Subgraph, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Feeds in contract order as float32 C-contiguous arrays; InputError names a missing or misshaped input."""
    arrays = []
    for spec in graph.inputs:
        arr = feeds.get(spec.name)
        if arr is None or tuple(np.shape(arr)) != spec.shape:
            got = None if arr is None else tuple(np.shape(arr))
            raise InputError(f"subgraph {graph.name!r} input {spec.name!r}: expected shape {spec.shape}, got {got}")
        arrays.append(np.ascontiguousarray(arr, dtype=np.float32))
    return arrays


def read_bundle_manifest(path: str | Path, *, verify: bool = True) -> dict:
    """Read and (by default) checksum-verify a bundle's manifest."""
    from ..converters.manifest import read_manifest

    return read_manifest(path, verify=verify)


def load_bundle_runner(path: str | Path, *, num_threads: int | None = None) -> BundleRunner:
    """Open the bundle at ``path`` with the runtime its manifest names (after checking checksums)."""
    bundle_dir = Path(path)
    if not bundle_dir.is_dir():
        raise InputError(f"bundle {str(bundle_dir)!r} is not a directory")
    manifest = read_bundle_manifest(bundle_dir)
    target = manifest.get("target")
    if target == "onnx":
        from .onnx_runner import OnnxRunner as cls
    elif target == "executorch":
        from .executorch_runner import ExecuTorchRunner as cls
    elif target == "tflite":
        from .tflite_runner import TFLiteRunner as cls
    elif target == "coreml":
        from .coreml_runner import CoreMLRunner as cls
    else:
        raise InputError(f"bundle {str(bundle_dir)!r}: unknown target {target!r} in {MANIFEST_NAME}")
    return cls(bundle_dir, manifest, num_threads=num_threads)

