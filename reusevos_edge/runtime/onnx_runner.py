"""ONNX Runtime runner for an ``onnx`` bundle: one InferenceSession per subgraph (CPU provider)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import require
from .bundle import BundleRunner


class OnnxRunner(BundleRunner):
    """Runs ``<subgraph>.onnx`` files; sessions are created up front (NCHW float32 in and out)."""

    def __init__(self, bundle_dir: Path, manifest: dict, *, num_threads: int | None = None) -> None:
        super().__init__(bundle_dir, manifest)
        self._ort = require("onnxruntime", extra="onnx", purpose="running an ONNX bundle")
        self._options = self._ort.SessionOptions()
        if num_threads:
            self._options.intra_op_num_threads = num_threads
        # idle worker threads must not spin between calls: the host's numpy work shares the cores
        self._options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # every session loads now: no load cost inside a timed frame
        self._sessions = {
            name: self._ort.InferenceSession(str(self.bundle_dir / f"{name}.onnx"), sess_options=self._options,
                                             providers=["CPUExecutionProvider"])
            for name in self.subgraphs
        }

    def _execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        session = self._sessions[name]
        declared = {i.name for i in session.get_inputs()}  # the exporter may drop unused inputs
        feeds = {self.program_inputs[name][spec.name]: arr
                 for spec, arr in zip(self.subgraphs[name].inputs, arrays)
                 if self.program_inputs[name][spec.name] in declared}
        names = [self.program_outputs[name][spec.name] for spec in self.subgraphs[name].outputs]
        return session.run(names, feeds)
