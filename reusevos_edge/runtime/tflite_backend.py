"""LiteRT backend for a ``tflite`` bundle: one ``.tflite``, one signature per subgraph.

Signature inputs/outputs are named by litert-torch (``args_0`` / ``output_0`` ...); the manifest's
``program_inputs`` / ``program_outputs`` map them to the contract names. In an int8 bundle a signature
tensor at a quantize/dequantize boundary is int8: the backend quantizes float inputs and dequantizes
outputs with the scale and zero point the interpreter reports (the manifest's
``export.io_quantization`` lists the same), so callers only ever see float32.
"""

from __future__ import annotations

from dataclasses import dataclass
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
        self.quantized_inputs = {name: _quantized(s.get_input_details()) for name, s in self.signatures.items()}
        self.quantized_outputs = {name: _quantized(s.get_output_details()) for name, s in self.signatures.items()}

    def execute(self, name: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
        graph = self.subgraphs[name]
        quantized_in, quantized_out = self.quantized_inputs[name], self.quantized_outputs[name]
        feeds = {}
        for spec, arr in zip(graph.inputs, arrays):
            key = self.program_inputs[name][spec.name]
            feeds[key] = quantized_in[key].quantize(arr) if key in quantized_in else arr
        outs = self.signatures[name](**feeds)
        keys = [self.program_outputs[name][spec.name] for spec in graph.outputs]
        return [quantized_out[k].dequantize(outs[k]) if k in quantized_out else outs[k] for k in keys]


@dataclass(frozen=True)
class TensorQuantization:
    """Scale, zero point and integer dtype of one quantized signature tensor; the arithmetic is PyTorch's
    ``quantize_per_tensor`` / ``dequantize_per_tensor``, as in the fake-quantized reference programs."""

    scale: float
    zero_point: int
    dtype: type

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """float32 -> integers: round(x * (1 / scale)) + zero_point, clamped to the dtype."""
        info = np.iinfo(self.dtype)
        q = np.round(x * np.float32(1.0 / self.scale)) + self.zero_point
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """integers -> float32: (q - zero_point) * scale."""
        return (q.astype(np.float32) - np.float32(self.zero_point)) * np.float32(self.scale)


def _quantized(details: dict) -> dict[str, TensorQuantization]:
    """Signature tensor name -> its quantization, for the quantized ones (scale 0 means float)."""
    return {name: TensorQuantization(*d["quantization"], d["dtype"])
            for name, d in details.items() if d["quantization"][0] != 0.0}
