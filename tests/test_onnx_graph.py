"""Structure of the exported ONNX graphs: nothing that keeps ONNX Runtime off its fast conv path.

The dynamo export without torch's optimizer gives every bias-less Conv a bias computed at run time,
``Expand(CastLike(0, <conv input>), Shape(W))``. That keeps the bias off the initializers, so ONNX
Runtime neither fuses the following BatchNormalization / Clip nor uses its NCHWc convs, and it keeps
the explicit Pad of a 'SAME' conv alive (a full-size copy): lite0 backbone_low at 384x672 ran 86 ms
instead of 18 ms. These tests fail on that graph.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reusevos_edge.model.subgraph import Subgraph, TensorSpec

pytestmark = pytest.mark.backend

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxslim")

H, W = 64, 96


def _slow_patterns(graph) -> list[str]:
    """What in ``graph`` blocks ONNX Runtime's constant folding and Conv fusions."""
    inits = {i.name for i in graph.initializer}
    problems = [f"{n.op_type} {n.name}" for n in graph.node if n.op_type in ("CastLike", "BatchNormalization")]
    for n in graph.node:
        if n.op_type == "Conv":
            problems += [f"Conv {n.name}: input {i!r} is not an initializer" for i in n.input[1:] if i and i not in inits]
    return problems


def _export_and_run(sg, tmp_path):
    from reusevos_edge.converters.onnx_export import export_onnx

    export_onnx([sg], tmp_path)
    model = onnx.load(str(tmp_path / f"{sg.name}.onnx"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(tmp_path / f"{sg.name}.onnx"), opts, providers=["CPUExecutionProvider"])
    xs = sg.example_inputs()
    wanted = {i.name for i in sess.get_inputs()}
    got = sess.run(None, {n: x.numpy() for n, x in zip(sg.input_names, xs) if n in wanted})
    with torch.no_grad():
        ref = sg.module(*xs)
    return model, got, ref


class _Lite0Stem(nn.Module):
    """lite0's first layers: normalise, 'SAME'-padded bias-less stem conv + BN + ReLU6, one strided MBConv."""

    def __init__(self) -> None:
        super().__init__()
        from reusevos_edge.model.backbone_lite0 import BN_EPS, LITE0_MEAN, LITE0_STD, BlockSpec, MBConv
        from reusevos_edge.model.layers import ImageNormalize, StaticSamePadConv2d

        torch.manual_seed(0)
        self.norm = ImageNormalize(mean=LITE0_MEAN, std=LITE0_STD)
        self.conv = StaticSamePadConv2d(3, 16, 3, stride=2)
        self.bn = nn.BatchNorm2d(16, eps=BN_EPS)
        self.block = MBConv(spec=BlockSpec(5, 2, 6, 16, 24))
        for bn in (m for m in self.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)

    def forward(self, image):
        return (self.block(torch.clamp(self.bn(self.conv(self.norm(image))), 0.0, 6.0)),)


def test_bias_less_same_padded_conv_bn_becomes_one_fused_conv(tmp_path):
    sg = Subgraph(name="lite0_stem", module=_Lite0Stem().eval(), inputs=(TensorSpec("image", (1, 3, H, W)),),
                  outputs=(TensorSpec("feat", (1, 24, H // 4, W // 4)),))
    model, got, ref = _export_and_run(sg, tmp_path)
    assert _slow_patterns(model.graph) == []
    ops = [n.op_type for n in model.graph.node]
    assert "Pad" not in ops and "Expand" not in ops, ops  # the 'SAME' pads live in the Conv's pads attribute
    np.testing.assert_allclose(got[0], ref[0].numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["backbone_low", "match_gate", "score_update"])
def test_tiny_model_graphs_have_constant_conv_inputs_and_no_castlike(name, tmp_path):
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.model.subgraphs import build_subgraphs

    sg = {s.name: s for s in build_subgraphs(build_model("tiny"), height=H, width=W)}[name]
    model, got, ref = _export_and_run(sg, tmp_path)
    assert _slow_patterns(model.graph) == []
    assert [o.name for o in model.graph.output] == sg.output_names
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r.numpy(), atol=1e-4, rtol=1e-3)


def test_resolve_castlike_uses_the_known_dtype_and_leaves_unknown_ones():
    from onnx import TensorProto, helper, numpy_helper

    from reusevos_edge.converters.onnx_export import resolve_castlike

    zero = numpy_helper.from_array(np.zeros((), np.float64), name="zero")
    graph = helper.make_graph(
        [helper.make_node("CastLike", ["zero", "x"], ["known"]), helper.make_node("CastLike", ["zero", "t"], ["unknown"]),
         helper.make_node("Shape", ["x"], ["t"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2])],
        [helper.make_tensor_value_info("known", TensorProto.FLOAT16, []),
         helper.make_tensor_value_info("unknown", TensorProto.INT64, [])], [zero])
    model = helper.make_model(graph)
    assert resolve_castlike(model) == 1
    first, second, _ = model.graph.node
    assert first.op_type == "Cast" and helper.get_attribute_value(first.attribute[0]) == TensorProto.FLOAT16
    assert second.op_type == "CastLike"
