"""Post-training int8 quantization of the contract's subgraphs (PT2E, torchao).

``quantize_subgraphs`` exports each int8 subgraph (``precision.INT8_SUBGRAPHS``) with
``torch.export``, inserts the observers of the target's quantizer (``prepare_pt2e``), runs the
calibration feeds through it and converts it (``convert_pt2e``). The result is a subgraph with the
same name, inputs and outputs whose module computes quantize/dequantize exactly where the target's
int8 kernels do: it is both the PyTorch reference for parity and what the exporter lowers.

Quantizer per target: ExecuTorch uses XNNPACK's (symmetric int8, per-channel weights), the layout
its int8 kernels run. LiteRT, Core ML and ONNX Runtime need their own recipes (LiteRT's PT2E
quantizer; Core ML W8A8; uint8 activations for ONNX Runtime's QLinearConv) and are not in the
target table's int8 row yet.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import torch

from ..errors import InputError, require
from ..model.subgraph import Subgraph
from .precision import subgraph_precision


def xnnpack_quantizer():
    """ExecuTorch/XNNPACK's quantizer: symmetric int8 activations, per-channel int8 weights."""
    module = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", extra="executorch",
                     purpose="int8 quantization for ExecuTorch")
    return module.XNNPACKQuantizer().set_global(module.get_symmetric_quantization_config(is_per_channel=True))


QUANTIZERS = {"executorch": xnnpack_quantizer}


def quantize_subgraph(sg: Subgraph, feeds: Sequence[Mapping], quantizer) -> Subgraph:
    """``sg`` with its module replaced by the PT2E-quantized one, calibrated on ``feeds`` (dicts of arrays)."""
    pt2e = require("torchao.quantization.pt2e.quantize_pt2e", extra="executorch", purpose="PT2E quantization")
    if not feeds:
        raise InputError(f"subgraph {sg.name!r}: no calibration feeds; the calibration clips never ran it")
    graph = torch.export.export(sg.module.eval(), sg.example_inputs()).module()
    prepared = pt2e.prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for feed in feeds:
            prepared(*(torch.from_numpy(feed[spec.name]) for spec in sg.inputs))
    converted = pt2e.convert_pt2e(prepared)
    return dataclasses.replace(sg, module=converted)


def quantize_subgraphs(subgraphs: Sequence[Subgraph], feeds: Mapping[str, Sequence[Mapping]], *,
                       target: str) -> list[Subgraph]:
    """Every subgraph the precision table marks int8 quantized for ``target``; the others unchanged."""
    if target not in QUANTIZERS:
        raise InputError(f"--precision int8 is not available for --target {target} yet; int8 targets: {sorted(QUANTIZERS)}")
    quantizer = QUANTIZERS[target]()
    return [quantize_subgraph(sg, feeds.get(sg.name, ()), quantizer)
            if subgraph_precision(sg.name, "int8") == "int8" else sg for sg in subgraphs]
