"""LiteRT backend for a ``tflite`` bundle: one ``.tflite``, one signature per subgraph.

Signature inputs/outputs are named by litert-torch (``args_0`` / ``output_0`` ...); the manifest's
``program_inputs`` / ``program_outputs`` map them to the contract names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ..model.subgraph import Subgraph


class TFLiteBackend:
    """Runs signatures of the bundle's ``.tflite`` with ai-edge-litert (XNNPACK applied by default)."""

    def __init__(self, *, bundle_dir: Path, manifest: dict, subgraphs: Mapping[str, Subgraph],
                 num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.subgraphs = subgraphs
        self.program_inputs = {e["name"]: e["program_inputs"] for e in manifest["subgraphs"]}
        self.program_outputs = {e["name"]: e["program_outputs"] for e in manifest["subgraphs"]}
        self.interpreter = Interpreter(str(bundle_dir / manifest["artifact"]), num_threads=num_threads or 2)
        # every signature loads now: no load cost inside a timed frame
        self.signatures = {name: self.interpreter.get_signature_runner(name) for name in subgraphs}

    def execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        graph = self.subgraphs[name]
        feeds = {self.program_inputs[name][spec.name]: arr for spec, arr in zip(graph.inputs, arrays)}
        outs = self.signatures[name](**feeds)
        return [outs[self.program_outputs[name][spec.name]] for spec in graph.outputs]
