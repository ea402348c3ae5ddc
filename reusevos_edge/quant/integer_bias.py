"""Biases as the int8 kernels hold them: int32 multiples of (input scale x weight scale).

Every int8 runtime (XNNPACK under ExecuTorch and LiteRT, ONNX Runtime's QLinearConv) stores a conv's
bias as int32 at scale ``s_x * s_w[c]`` and adds it to the integer accumulator. PT2E's converted
graph keeps the bias float, so the PyTorch reference added a value the kernels never see: up to half
a bias step off, which moves an output across a rounding boundary now and then (lite0's int8 stem
conv: 23 % of ``backbone_low``'s f4 values differed from XNNPACK's by a step or more, 0.4 % once the
bias is rounded; f8 51 % -> 8 %). :func:`convert` rounds every such bias to its int32 grid, so the
reference computes what the kernels compute, and every runtime then reads the same integers: a bias
on the grid quantizes to its own multiple whichever way a converter computes it. The rounding is done
in float32 as ExecuTorch's XNNPACK lowering does it (``round(b * (1 / step))``), so ExecuTorch
programs are byte-identical to those of unrounded biases (float64 moved a few halfway biases of lite0's
``backbone_high`` by one). LiteRT's converter rounds in float64: its lite0 programs now hold a few
halfway biases one int32 unit (about 1/1000 of an output step) away from the ones it would have chosen.
"""

from __future__ import annotations

import torch

_BIASED = ("aten.conv2d.default", "aten.linear.default")


def convert(prepared: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """``convert_pt2e(prepared)`` (PT2E's quantize/dequantize graph) with :func:`round_biases` applied."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    program = convert_pt2e(prepared)
    round_biases(program)
    return program


def round_biases(program: torch.fx.GraphModule) -> int:
    """Round, in place, every float bias of a conv / linear whose input and weight are dequantized int8
    to the nearest multiple of ``input scale * weight scale`` (per output channel). Returns how many."""
    qd = torch.ops.quantized_decomposed
    count = 0
    for node in program.graph.nodes:
        if node.op != "call_function" or str(node.target) not in _BIASED or len(node.args) < 3:
            continue
        x, w, b = node.args[:3]
        if getattr(x, "target", None) != qd.dequantize_per_tensor.default or getattr(b, "op", None) != "get_attr":
            continue
        if getattr(w, "target", None) == qd.dequantize_per_channel.default:
            w_scale = attr_tensor(program, w.args[1]).float()
        elif getattr(w, "target", None) == qd.dequantize_per_tensor.default:
            w_scale = torch.tensor([float(w.args[1])], dtype=torch.float32)
        else:
            continue
        # float32, as ExecuTorch's XNNPACK lowering quantizes it (round(b * (1 / step))): a bias halfway
        # between two steps then lands on the integer the lowering picks, and the program stays the same
        step = w_scale * float(x.args[1])
        bias = attr_tensor(program, b)
        with torch.no_grad():
            bias.copy_(torch.round(bias.float() * (1.0 / step)) * step)
        count += 1
    return count


def attr_tensor(program: torch.fx.GraphModule, node) -> torch.Tensor:
    """The tensor a ``get_attr`` node reads (dotted names of nested modules included)."""
    if getattr(node, "op", None) != "get_attr":
        raise ValueError(f"{node} is not a get_attr node")
    owner, _, name = str(node.target).rpartition(".")
    return getattr(program.get_submodule(owner) if owner else program, name)
