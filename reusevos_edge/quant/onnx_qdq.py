"""ONNX Runtime's int8 recipe: uint8 affine activations, per-channel symmetric int8 weights, int32 biases.

It differs from XNNPACK's recipe (``quant.xnnpack``: affine int8 activations, float biases) because
ONNX Runtime's CPU provider fuses a ``DequantizeLinear -> Conv -> QuantizeLinear`` group into
QLinearConv reliably only with uint8 activations: with int8 ones some convs stay float (2 of 7 in a
lite0-shaped stem + two MBConv blocks: a 1x1 projection and the next 1x1 expansion). Conv biases
are quantized to int32 at input_scale x weight_scale (zero point 0): ONNX Runtime would otherwise
quantize a float bias itself when it loads the model, and the PyTorch program, the parity reference,
would no longer compute what ONNX Runtime computes (6e-3 relative drift on that net; 0 with int32).
Conv + ReLU6 keeps XNNPACK's fused annotation (:func:`fuse_conv_relu6_annotations`): the clamp's
output is quantized from 0, so ONNX Runtime drops the Clip as redundant and still fuses the conv. A
conv after a zero pad reads it on the pad input's scale (:func:`share_pad_quantization`), so the
exporter can fold the pad into the conv's own pads
(:func:`reusevos_edge.converters.onnx_export.fold_quantized_pads`).
"""

from __future__ import annotations

import dataclasses

import torch

from ..errors import require
from .xnnpack import _CONV, fuse_conv_relu6_annotations, share_pad_quantization

_PURPOSE = "int8 quantization for ONNX Runtime"


def onnx_quantizer():
    """A PT2E quantizer for ONNX Runtime's QDQ kernels: XNNPACK's annotation rules with uint8 activations,
    per-channel int8 weights, int32 conv biases, conv + ReLU6 quantized once and a padded conv's input on
    its pad's input scale."""
    module = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", extra="executorch", purpose=_PURPOSE)
    utils = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer_utils", extra="executorch",
                    purpose=_PURPOSE)
    int8 = module.get_symmetric_quantization_config(is_per_channel=True)
    activations = dataclasses.replace(int8.input_activation, dtype=torch.uint8, quant_min=0, quant_max=255)
    config = dataclasses.replace(int8, input_activation=activations, output_activation=activations)

    class OnnxRuntimeQuantizer(module.XNNPACKQuantizer):
        def annotate(self, model):
            model = super().annotate(model)
            fuse_conv_relu6_annotations(model, utils.get_output_act_qspec(config))
            share_pad_quantization(model)
            quantize_conv_biases(model)
            return model

    return OnnxRuntimeQuantizer().set_global(config)


def quantize_conv_biases(model) -> None:
    """Give every annotated conv's bias an int32 spec derived from its input's and weight's scales
    (scale = input_scale x weight_scale per output channel, zero point 0)."""
    from torchao.quantization.pt2e.quantizer import DerivedQuantizationSpec

    for conv in model.graph.nodes:
        annotation = conv.meta.get("quantization_annotation")
        if conv.op != "call_function" or str(conv.target) not in _CONV or annotation is None or len(conv.args) < 3:
            continue
        act, weight, bias = conv.args[:3]
        if not isinstance(bias, torch.fx.Node) or not {act, weight} <= annotation.input_qspec_map.keys():
            continue
        annotation.input_qspec_map[bias] = DerivedQuantizationSpec(
            derived_from=[(act, conv), (weight, conv)], derive_qparams_fn=_bias_qparams, dtype=torch.int32,
            quant_min=torch.iinfo(torch.int32).min, quant_max=torch.iinfo(torch.int32).max,
            qscheme=torch.per_channel_symmetric, ch_axis=0)


def _bias_qparams(observers):
    """(scale, zero point) of a conv bias from its (input, weight) observers: the int32 accumulator's scale."""
    (act_scale, _), (weight_scale, _) = (obs.calculate_qparams() for obs in observers)
    scale = (act_scale * weight_scale).to(torch.float32)
    return scale, torch.zeros_like(scale, dtype=torch.int32)
