"""ExecuTorch's int8 recipe: XNNPACK's PT2E quantizer (symmetric int8 activations, per-channel
symmetric int8 weights), the layout XNNPACK's int8 kernels run, with conv + ReLU6 quantized once
and a conv after a zero pad reading the pad's input scale (so XNNPACK runs the pad inside the conv).
"""

from __future__ import annotations

import torch

from ..errors import require


def xnnpack_quantizer(*, qat: bool = False):
    """ExecuTorch/XNNPACK's quantizer (symmetric int8 activations, per-channel int8 weights), with
    conv + ReLU6 quantized as one op (:func:`fuse_conv_relu6_annotations`) and a padded conv's input on
    its pad's input scale (:func:`share_pad_quantization`). ``qat``: fake-quantize
    modules with moving-average observers (trainable), else histogram observers (calibration only)."""
    module = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", extra="executorch",
                     purpose="int8 quantization for ExecuTorch")
    utils = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer_utils", extra="executorch",
                    purpose="int8 quantization for ExecuTorch")
    config = module.get_symmetric_quantization_config(is_per_channel=True, is_qat=qat)

    class ConvReLU6XNNPACKQuantizer(module.XNNPACKQuantizer):
        def annotate(self, model):
            model = super().annotate(model)
            fuse_conv_relu6_annotations(model, utils.get_output_act_qspec(config))
            share_pad_quantization(model)
            return model

    return ConvReLU6XNNPACKQuantizer().set_global(config)


_HARDTANH = ("aten.hardtanh.default", "aten.hardtanh_.default")
_PAD = ("aten.pad.default", "aten.constant_pad_nd.default")
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


def _zero_pad(node) -> bool:
    """``node`` pads with zeros: ``F.pad`` (constant mode, value 0 or None) or ``constant_pad_nd`` (value 0)."""
    if getattr(node, "op", None) != "call_function" or str(node.target) not in _PAD:
        return False
    if str(node.target) == "aten.constant_pad_nd.default":
        return not (node.args[2] if len(node.args) > 2 else node.kwargs.get("value", 0.0))
    mode = node.args[2] if len(node.args) > 2 else node.kwargs.get("mode", "constant")
    value = node.args[3] if len(node.args) > 3 else node.kwargs.get("value")
    return mode == "constant" and not value


def share_pad_quantization(model) -> int:
    """A conv fed by a zero pad reads the pad's output on the scale of the pad's input.

    The stride-2 convs of EfficientNet-Lite pad asymmetrically ('SAME'), an explicit pad before the
    conv. XNNPACK runs such a pad inside the conv (no copy) only when no requantization sits between
    them; with its own observer the conv's input gets a scale of its own and ExecuTorch lowers a
    separate quantized pad, which made int8 stride-2 blocks slower than fp32 (lite0 384x672, one
    thread: the second MBConv block 7.4 ms int8 vs 6.9 fp32; shared: 3.3 ms). With the scale shared, the
    requantization is an identity that :func:`fold_pad_requantize` removes before lowering.
    Returns how many convs were rewritten.
    """
    from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

    key = "quantization_annotation"
    shared = 0
    for pad in model.graph.nodes:
        if not _zero_pad(pad) or len(pad.users) != 1:
            continue
        (conv,) = pad.users
        source = pad.args[0]
        if (str(conv.target) not in _CONV or key not in conv.meta or pad not in conv.meta[key].input_qspec_map
                or key not in source.meta or source.meta[key].output_qspec is None):
            continue
        conv.meta[key].input_qspec_map[pad] = SharedQuantizationSpec(source)
        shared += 1
    return shared


def fold_pad_requantize(program) -> int:
    """Remove the quantize/dequantize pair between a zero pad and its consumers when it repeats the
    pad input's own parameters (:func:`share_pad_quantization`): an exact identity, since zero is
    exactly representable, whose absence lets XNNPACK take the pad into the conv.

    ``program``: a converted PT2E ``GraphModule`` (changed in place, recompiled). Returns how many
    pads were folded.
    """
    qd = torch.ops.quantized_decomposed
    graph, folded = program.graph, 0
    for pad in list(graph.nodes):
        if not _zero_pad(pad) or len(pad.users) != 1:
            continue
        source, (quant,) = pad.args[0], pad.users
        if (getattr(source, "target", None) != qd.dequantize_per_tensor.default
                or quant.target != qd.quantize_per_tensor.default or tuple(quant.args[1:]) != tuple(source.args[1:])
                or any(user.target != qd.dequantize_per_tensor.default for user in quant.users)):
            continue
        for dequant in list(quant.users):
            dequant.replace_all_uses_with(pad)
            graph.erase_node(dequant)
        graph.erase_node(quant)
        folded += 1
    if folded:
        graph.lint()
        program.recompile()
    return folded
