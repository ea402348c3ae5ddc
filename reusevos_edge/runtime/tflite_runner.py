"""LiteRT runner for a ``tflite`` bundle: one ``model.tflite``, one signature per subgraph.

Signature inputs/outputs are named by litert-torch (``args_0`` / ``output_0`` ...); the manifest's
``program_inputs`` / ``program_outputs`` map them to the contract names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import require
from .bundle import BundleRunner


class TFLiteRunner(BundleRunner):
    """Runs signatures of ``model.tflite`` with ai-edge-litert (XNNPACK applied by default)."""

    def __init__(self, bundle_dir: Path, manifest: dict, *, num_threads: int | None = None) -> None:
        super().__init__(bundle_dir, manifest)
        interp = require("ai_edge_litert.interpreter", extra="tflite", purpose="running a LiteRT bundle")
        interpreter = interp.Interpreter(str(self.bundle_dir / manifest["artifact"]), num_threads=num_threads or 2)
        # every signature loads now: no load cost inside a timed frame
        self._signatures = {name: interpreter.get_signature_runner(name) for name in self.subgraphs}
        self._interpreter = interpreter

    def _execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        graph = self.subgraphs[name]
        feeds = {self.program_inputs[name][spec.name]: arr for spec, arr in zip(graph.inputs, arrays)}
        outs = self._signatures[name](**feeds)
        return [outs[self.program_outputs[name][spec.name]] for spec in graph.outputs]
