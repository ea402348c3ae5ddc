"""ONNX Runtime backend for an ``onnx`` bundle: one InferenceSession per subgraph (CPU provider)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ..model.subgraph import Subgraph


class OnnxBackend:
    """Runs ``<subgraph>.onnx`` files; sessions are created up front (NCHW float32 in and out)."""

    def __init__(self, *, bundle_dir: Path, manifest: dict, subgraphs: Mapping[str, Subgraph],
                 num_threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        # idle worker threads must not spin between calls: the host's numpy work shares the cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.subgraphs = subgraphs
        self.program_inputs = {e["name"]: e["program_inputs"] for e in manifest["subgraphs"]}
        self.program_outputs = {e["name"]: e["program_outputs"] for e in manifest["subgraphs"]}
        # every session loads now: no load cost inside a timed frame
        self.sessions = {name: ort.InferenceSession(str(bundle_dir / f"{name}.onnx"), sess_options=options,
                                                    providers=["CPUExecutionProvider"])
                         for name in subgraphs}
        self.declared = {name: {i.name for i in s.get_inputs()} for name, s in self.sessions.items()}

    def execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        graph, names = self.subgraphs[name], self.program_inputs[name]
        # the exporter may drop inputs a graph does not use
        feeds = {names[spec.name]: arr for spec, arr in zip(graph.inputs, arrays) if names[spec.name] in self.declared[name]}
        outputs = [self.program_outputs[name][spec.name] for spec in graph.outputs]
        return self.sessions[name].run(outputs, feeds)
