"""Core ML backend for a ``coreml`` bundle (coremltools prediction: macOS only).

On any other platform constructing it raises InputError: Core ML programs run only on Apple
platforms; check such bundles statically with ``reusevos_edge.converters.coreml_export.verify_coreml``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import InputError
from ..model.subgraph import Subgraph


class CoreMLBackend:
    """Runs one function per subgraph of a multifunction package, or one package per subgraph."""

    def __init__(self, *, bundle_dir: Path, manifest: dict, subgraphs: Mapping[str, Subgraph],
                 num_threads: int | None = None) -> None:
        if sys.platform != "darwin":
            raise InputError(
                f"Core ML bundle {str(bundle_dir)!r} cannot run on {sys.platform}: Core ML runs only on Apple "
                "platforms (macOS/iOS). Here, export --target onnx, executorch or tflite to run the model.")
        import coremltools as ct

        self.subgraphs = subgraphs
        layout = manifest.get("export", {}).get("coreml_layout", "multifunction")
        self.models = {}
        for name in subgraphs:  # every function loads now: no load cost inside a timed frame
            if layout == "multifunction":
                self.models[name] = ct.models.MLModel(str(bundle_dir / manifest["artifact"]), function_name=name)
            else:
                self.models[name] = ct.models.MLModel(str(bundle_dir / f"{name}.mlpackage"))

    def execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        graph = self.subgraphs[name]
        outs = self.models[name].predict({spec.name: arr for spec, arr in zip(graph.inputs, arrays)})
        return [outs[spec.name] for spec in graph.outputs]
