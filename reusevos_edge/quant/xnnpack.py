"""ExecuTorch's int8 recipe: XNNPACK's PT2E quantizer (symmetric int8 activations, per-channel
symmetric int8 weights), the layout XNNPACK's int8 kernels run, with conv + ReLU6 quantized once.
"""

from __future__ import annotations

from ..errors import require


def xnnpack_quantizer(*, qat: bool = False):
    """ExecuTorch/XNNPACK's quantizer (symmetric int8 activations, per-channel int8 weights), with
    conv + ReLU6 quantized as one op (:func:`fuse_conv_relu6_annotations`). ``qat``: fake-quantize
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
