"""LiteRT's int8 recipe: litert-torch's PT2E quantizer (asymmetric int8 activations from histogram
observers, per-channel symmetric int8 weights), completed where it misses ops, with conv + ReLU6
quantized once.

In numbers it is XNNPACK's recipe; it differs in where quantize/dequantize pairs go, which must be
where litert-torch's converter (static Q/DQ mode) runs TFLite int8 kernels: softmax/logistic outputs
get the fixed parameters TFLite's int8 kernels require (scale 1/256, zero point -128), and it comes
with the ``tflite`` extra, without ExecuTorch. Two rewrites follow its annotation:

- :func:`annotate_missed_ops`: litert-torch finds add, concatenation and pooling ops by source
  partitions, which a non-strict ``torch.export`` graph does not record, so it leaves them float;
  the converter still runs them int8 on parameters it propagates itself (a bilinear resize clamped
  to a concatenation's range), and the .tflite then parts from the fake-quantized reference;
- :func:`.xnnpack.fuse_conv_relu6_annotations`: ReLU6 quantized after the clamp, not on the conv's
  full range (the converter then fuses the clamp into the int8 conv);
- :func:`.xnnpack.share_pad_quantization`: a conv after a zero pad reads it on the pad input's scale
  (no requantization between them), so the exporter can fold the pad into the conv
  (:func:`reusevos_edge.converters.tflite_rewrite.rewrite`).
"""

from __future__ import annotations

from ..errors import require
from .xnnpack import fuse_conv_relu6_annotations, share_pad_quantization

_PURPOSE = "int8 quantization for LiteRT"
# Ops whose TFLite int8 kernel keeps its input's scale and zero point.
_SAME_SCALE = ("aten.max_pool2d.default", "aten.avg_pool2d.default", "aten.adaptive_avg_pool2d.default",
               "aten.upsample_bilinear2d.vec")


def litert_quantizer(*, qat: bool = False):
    """litert-torch's static int8 quantizer (per-channel weights), with the ops it misses annotated and
    conv + ReLU6 quantized as one op. ``qat``: fake-quantize modules with moving-average observers
    (trainable), else histogram observers."""
    module = require("litert_torch.quantize.pt2e_quantizer", extra="tflite", purpose=_PURPOSE)
    utils = require("litert_torch.quantize.pt2e_quantizer_utils", extra="tflite", purpose=_PURPOSE)
    config = module.get_symmetric_quantization_config(is_per_channel=True, is_qat=qat)

    class CompletedPT2EQuantizer(module.PT2EQuantizer):
        def annotate(self, model):
            model = super().annotate(model)
            annotate_missed_ops(model, config.input_activation)
            utils.propagate_annotation(model)  # views / means after the newly annotated ops
            fuse_conv_relu6_annotations(model, config.output_activation)
            share_pad_quantization(model)
            return model

    return CompletedPT2EQuantizer().set_global(config)


def annotate_missed_ops(model, act_qspec) -> int:
    """Annotate, by aten target, the adds, concatenations, pools and bilinear resizes left without one.

    add: both inputs and the output quantized; cat: every input and the output share the first
    input's parameters (litert-torch's own cat rule); pools and resizes: input quantized, output
    sharing it. Returns how many nodes were annotated.
    """
    from torch.fx import Node
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    key = "quantization_annotation"
    count = 0
    for node in model.graph.nodes:
        if node.op != "call_function" or key in node.meta:
            continue
        target = str(node.target)
        if target == "aten.add.Tensor" and all(isinstance(a, Node) for a in node.args[:2]):
            inputs, output = dict.fromkeys(node.args[:2], act_qspec), act_qspec
        elif target == "aten.cat.default":
            first, *rest = node.args[0]
            output = SharedQuantizationSpec((first, node))
            inputs = {first: act_qspec, **{a: output for a in rest if a is not first}}
        elif target in _SAME_SCALE:
            output = SharedQuantizationSpec((node.args[0], node))
            inputs = {node.args[0]: act_qspec}
        else:
            continue
        node.meta[key] = QuantizationAnnotation(input_qspec_map=inputs, output_qspec=output, _annotated=True)
        count += 1
    return count
