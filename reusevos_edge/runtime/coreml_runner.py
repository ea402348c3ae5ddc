"""Core ML runner for a ``coreml`` bundle (coremltools prediction: macOS only).

On any other platform constructing it raises InputError: Core ML programs run only on Apple
platforms; check such bundles statically with ``reusevos_edge.converters.coreml_export.verify_coreml``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import InputError, require
from .bundle import BundleRunner


class CoreMLRunner(BundleRunner):
    """Runs one function per subgraph of a multifunction package, or one package per subgraph."""

    def __init__(self, bundle_dir: Path, manifest: dict, *, num_threads: int | None = None) -> None:
        if sys.platform != "darwin":
            raise InputError(
                f"Core ML bundle {str(bundle_dir)!r} cannot run on {sys.platform}: Core ML runs only on Apple "
                "platforms (macOS/iOS). Here, export --target onnx, executorch or tflite to run the model.")
        super().__init__(bundle_dir, manifest)
        self._ct = require("coremltools", extra="coreml", purpose="running a Core ML bundle")
        self._layout = manifest.get("export", {}).get("coreml_layout", "multifunction")
        self._models: dict = {}

    def _model(self, name: str):
        if name not in self._models:
            if self._layout == "multifunction":
                path, kwargs = self.bundle_dir / self.manifest["artifact"], {"function_name": name}
            else:
                path, kwargs = self.bundle_dir / f"{name}.mlpackage", {}
            self._models[name] = self._ct.models.MLModel(str(path), **kwargs)
        return self._models[name]

    def _execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        graph = self.subgraphs[name]
        outs = self._model(name).predict({spec.name: arr for spec, arr in zip(graph.inputs, arrays)})
        return [outs[spec.name] for spec in graph.outputs]
