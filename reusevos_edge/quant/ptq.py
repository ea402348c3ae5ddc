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
    """ExecuTorch/XNNPACK's quantizer (symmetric int8 activations, per-channel int8 weights), with
    conv + ReLU6 quantized as one op (:func:`fuse_conv_relu6_annotations`)."""
    module = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", extra="executorch",
                     purpose="int8 quantization for ExecuTorch")
    utils = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer_utils", extra="executorch",
                    purpose="int8 quantization for ExecuTorch")
    config = module.get_symmetric_quantization_config(is_per_channel=True)

    class ConvReLU6XNNPACKQuantizer(module.XNNPACKQuantizer):
        def annotate(self, model):
            model = super().annotate(model)
            fuse_conv_relu6_annotations(model, utils.get_output_act_qspec(config))
            return model

    return ConvReLU6XNNPACKQuantizer().set_global(config)


_HARDTANH = ("aten.hardtanh.default", "aten.hardtanh_.default")
_CONV = ("aten.conv2d.default", "aten.convolution.default")


def fuse_conv_relu6_annotations(model, output_qspec) -> int:
    """Quantize conv -> ReLU6 (hardtanh 0..6) once, after the clamp, as XNNPACK computes it.

    XNNPACK's quantizer fuses conv + ReLU but not conv + ReLU6: it quantizes the conv's output on the
    conv's full range and lets the clamp share it, so the 0..6 of every ReLU6 output gets a handful of
    int8 levels; through lite0's 15 backbone convs the features drift by ~40 %. Here the conv's output
    is left unquantized and the clamp's output gets its own observer (XNNPACK then runs the clamp
    inside the int8 conv). Returns how many pairs were rewritten.
    """
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    key = "quantization_annotation"
    fused = 0
    for node in model.graph.nodes:
        if node.op != "call_function" or str(node.target) not in _HARDTANH:
            continue
        conv = node.args[0]
        if (getattr(conv, "op", None) != "call_function" or str(conv.target) not in _CONV or len(conv.users) != 1
                or key not in conv.meta or tuple(node.args[1:3]) not in ((0.0, 6.0), (0, 6))):
            continue
        conv.meta[key].output_qspec = None
        node.meta[key] = QuantizationAnnotation(input_qspec_map={}, output_qspec=output_qspec, _annotated=True)
        fused += 1
    return fused


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
