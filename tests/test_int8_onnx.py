"""int8 ONNX (tiny model): the fake-quantized PyTorch programs for ONNX Runtime against the QDQ ONNX
bundle, per subgraph and through the tracker, and what ONNX Runtime makes of the int8 graphs (every
conv fused into QLinearConv)."""

from __future__ import annotations

from collections import Counter

import pytest

from reusevos_edge.quant.precision import FLOAT_SUBGRAPHS, INT8_SUBGRAPHS
from reusevos_edge.tracker.config import TrackerConfig

H, W = 64, 96
CONFIG = TrackerConfig(tau=0.0, keyframe_bound=2, update_every=2)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_calibration):
    """(model, fake-quantized subgraphs, calibration feeds, int8 ONNX bundle)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxslim")
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.quant.ptq import quantize_subgraphs

    model, subgraphs, _, feeds = tiny_calibration
    int8_graphs = quantize_subgraphs(subgraphs, feeds, target="onnx")
    opts = validate_options(target="onnx", model="tiny", height=H, width=W, precision="int8",
                            out_dir=tmp_path_factory.mktemp("int8_onnx"))
    exported = export_bundle(opts, model=model, subgraphs=int8_graphs, tracker_config=CONFIG,
                             quantization={"method": "ptq"})
    return model, int8_graphs, feeds, exported


@pytest.mark.backend
def test_onnx_int8_bundle_matches_its_fake_quant_programs(bundle, int8_parity):
    model, int8_graphs, feeds, exported = bundle
    assert exported.path.name == "tiny_64x96_int8_onnx" and exported.manifest["precision"] == "int8"
    table = exported.manifest["subgraph_precision"]
    assert {n for n, p in table.items() if p == "int8"} == set(INT8_SUBGRAPHS)
    assert {n for n, p in table.items() if p == "fp32"} == set(FLOAT_SUBGRAPHS)
    worst = int8_parity(exported.path, model, int8_graphs, feeds, CONFIG)
    assert set(worst) == set(INT8_SUBGRAPHS + FLOAT_SUBGRAPHS)
    assert max(worst.values()) < 0.02, worst  # a few uint8 steps at most


@pytest.mark.backend
def test_onnx_runtime_fuses_every_int8_conv_into_qlinearconv(bundle, tmp_path):
    """The QDQ files hold uint8 activations and int8 per-channel weights; ONNX Runtime's optimized graph
    (CPU provider, default optimizations) runs every conv as QLinearConv, none as a float Conv."""
    import onnx
    import onnxruntime as ort

    exported = bundle[3]
    for name in INT8_SUBGRAPHS:
        model = onnx.load(str(exported.path / f"{name}.onnx"))
        initializers = {i.name: i for i in model.graph.initializer}
        producers = {out: n for n in model.graph.node for out in n.output}
        zero_points = {initializers[n.input[2]].data_type for n in model.graph.node if n.op_type == "QuantizeLinear"}
        assert zero_points == {onnx.TensorProto.UINT8}, name
        for conv in (n for n in model.graph.node if n.op_type == "Conv"):
            weight, scale, _ = (initializers[i] for i in producers[conv.input[1]].input)
            assert weight.data_type == onnx.TensorProto.INT8 and list(scale.dims) == weight.dims[:1], name
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / f"{name}.optimized.onnx")
        options.log_severity_level = 3  # the NCHWc layout warning when saving the optimized graph
        ort.InferenceSession(str(exported.path / f"{name}.onnx"), options, providers=["CPUExecutionProvider"])
        ops = Counter(n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node)
        convs = sum(n.op_type == "Conv" for n in model.graph.node)
        assert convs and ops["QLinearConv"] == convs and ops["Conv"] == 0, (name, dict(ops))


@pytest.mark.backend
def test_int8_stride2_same_pads_fold_into_their_qlinearconv(tmp_path):
    """The QDQ export of a stride-2 'SAME' block moves its explicit pad into the conv's pads (no Pad left,
    none for ONNX Runtime to run between layout transposes) and still computes the fake-quant block."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxslim")
    import numpy as np
    import onnxruntime as ort
    import torch

    from conftest import stride2_block
    from reusevos_edge.converters.onnx_export import export_onnx
    from reusevos_edge.quant.onnx_qdq import onnx_quantizer
    from reusevos_edge.quant.ptq import quantize_subgraph

    sg, feeds = stride2_block(32, 48)
    q = quantize_subgraph(sg, feeds, onnx_quantizer())
    result = export_onnx([q], tmp_path, precision="int8")
    assert result.extra["folded_quantized_pads"] == {"block": 1}
    assert "Pad" not in result.op_inventory["block"]
    session = ort.InferenceSession(str(tmp_path / "block.onnx"), providers=["CPUExecutionProvider"])
    x = feeds[0]["x"]
    (got,) = session.run(None, {"x": x})
    ref = q.module(torch.from_numpy(x))[0].numpy()
    step = np.min(np.diff(np.unique(ref)))
    assert np.abs(got - ref).max() <= 2 * step + 1e-6  # a rounding step or two
