"""Frames enter an int8 program as 8-bit codes: ``backbone_low`` takes the resized RGB bytes, not floats.

The contract's ``image`` is RGB in [0, 1], float32 (a pixel byte u is u / 255). A program whose first
step quantizes that float anyway can take the byte itself: int8 code q = u - 128 (the byte with its top
bit flipped) stands for (q + 128) / 255 = u / 255 exactly, on the int8 grid scale 1 / 255, zero point
-128. The program dequantizes the codes as its first op (XNNPACK runs it as one int8 -> float convert,
no extra rounding: the features are bit for bit those of the float input) and computes on as before.

What it buys: the host writes 1 byte per value instead of 4 (0.77 MB instead of 3.1 MB per 384x672
frame) and the float scaling pass goes away, in Python and in the native core alike. The exporter that
made the program records it (``ExportResult.input_dtypes``), the manifest as the input's dtype
(``"int8"``), and every runner writes what the manifest asks for
(:func:`reusevos_edge.tracker.frames.frame_to_input`, ``native/src/image_ops.cpp``).

Targets: ExecuTorch int8 wraps ``backbone_low`` (:func:`image_code_input`; a uint8 input, codes equal to
the bytes, is not used: XNNPACK leaves a uint8 dequantize to the portable kernels, which the runtime does
not link). LiteRT int8 rewrites its converted graph instead (``converters/tflite_rewrite.py``: litert-torch
refuses a dequantize of a plain int8 input). ONNX and Core ML take float32 (not measured worth it: ONNX
Runtime's host share is below 5 % already; Core ML's image input is its own question).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from ..model.subgraph import Subgraph, TensorSpec

CODE_DTYPE = "int8"
CODE_SCALE = 1.0 / 255.0
CODE_ZERO_POINT = -128
IMAGE_PROGRAM = "backbone_low"


def _from_codes(program):
    """codes 1x3xHxW int8 (u - 128) -> ``program``(image 1x3xHxW float32 u / 255), as an nn.Module."""
    import torch

    class FromCodes(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.program = program

        def forward(self, codes: torch.Tensor):
            image = torch.ops.quantized_decomposed.dequantize_per_tensor.default(
                codes, CODE_SCALE, CODE_ZERO_POINT, -128, 127, torch.int8)
            return self.program(image)
    return FromCodes()


def image_code_input(subgraphs: Sequence[Subgraph]) -> list[Subgraph]:
    """``subgraphs`` with ``backbone_low`` taking its image as int8 codes (see the module doc); its
    program is re-exported (a GraphModule, as the other converted programs are)."""
    import torch

    out = []
    for sg in subgraphs:
        if sg.name == IMAGE_PROGRAM:
            image = sg.inputs[0]
            codes = TensorSpec(image.name, image.shape, CODE_DTYPE)
            example = torch.randint(-128, 128, image.shape, dtype=torch.int8)
            module = torch.export.export(_from_codes(sg.module), (example,)).module()
            sg = dataclasses.replace(sg, module=module, inputs=(codes, *sg.inputs[1:]))
        out.append(sg)
    return out


def image_to_codes(image: np.ndarray) -> np.ndarray:
    """float32 image u / 255 (any shape) -> its int8 codes u - 128."""
    return (np.rint(np.asarray(image, np.float32) * np.float32(255.0)) + CODE_ZERO_POINT).astype(np.int8)


def feeds_for(graph: Subgraph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``feeds`` made for the float contract (a reference run's recorded inputs), as ``graph`` takes them:
    a float image becomes its codes where ``graph`` takes codes; everything else as it is. For running one
    set of feeds through an fp32 reference and an int8 bundle alike (parity drift, mixed-bundle diagnostics)."""
    out = dict(feeds)
    for spec in graph.inputs:
        value = out.get(spec.name)
        if spec.dtype == CODE_DTYPE and value is not None and np.asarray(value).dtype != np.int8:
            out[spec.name] = image_to_codes(value)
    return out
