"""int8 LiteRT (tiny model): the fake-quantized PyTorch programs (litert-torch's recipe) against the
int8 .tflite, per subgraph and in tracking, its int8 kernels and its mixed-precision manifest."""

from __future__ import annotations

import pytest

from reusevos_edge.quant.precision import INT8_SUBGRAPHS
from reusevos_edge.tracker.config import TrackerConfig

H, W = 64, 96
CONFIG = TrackerConfig(tau=0.0, keyframe_bound=2, update_every=2)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_calibration):
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_litert")
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.quant.ptq import quantize_subgraphs

    model, subgraphs, _, feeds = tiny_calibration
    int8_graphs = quantize_subgraphs(subgraphs, feeds, target="tflite")
    out = tmp_path_factory.mktemp("tflite_int8")
    opts = validate_options(target="tflite", model="tiny", height=H, width=W, precision="int8", out_dir=out)
    exported = export_bundle(opts, model=model, subgraphs=int8_graphs, tracker_config=CONFIG,
                             quantization={"method": "ptq"})
    return model, int8_graphs, feeds, exported


@pytest.mark.backend
def test_tflite_int8_bundle_runs_int8_kernels(bundle):
    from ai_edge_litert.schema_py_generated import BuiltinOperator, TensorType

    from reusevos_edge.converters.tflite_export import TFLITE_NAME, _read_model

    *_, exported = bundle
    manifest = exported.manifest
    assert exported.path.name == "tiny_64x96_int8_tflite" and manifest["precision"] == "int8"
    assert manifest["subgraph_precision"]["backbone_low"] == "int8"
    assert manifest["subgraph_precision"]["score_gen"] == "fp32"
    io = manifest["export"]["io_quantization"]
    assert io["backbone_low"]["outputs"]["f4"]["dtype"] == "int8" and "score_gen" not in io
    model = _read_model(exported.path / TFLITE_NAME)
    float_convs = {}
    for sig in model.signatureDefs:
        name = sig.signatureKey.decode()
        graph = model.subgraphs[sig.subgraphIndex]
        weights = [graph.tensors[op.inputs[1]].type for op in graph.operators
                   if model.operatorCodes[op.opcodeIndex].builtinCode == BuiltinOperator.CONV_2D]
        assert (TensorType.INT8 in weights) == (name in INT8_SUBGRAPHS), (name, weights)
        if name in INT8_SUBGRAPHS:
            float_convs[name] = weights.count(TensorType.FLOAT32)
    # the converter leaves one conv float: match_gate's delta conv (dequantize -> transpose -> pad -> conv)
    assert sum(float_convs.values()) <= 1, float_convs


@pytest.mark.backend
def test_tflite_int8_bundle_matches_its_fake_quant_programs(bundle, int8_parity):
    model, int8_graphs, feeds, exported = bundle
    worst = int8_parity(exported.path, model, int8_graphs, feeds, CONFIG)
    assert max(worst.values()) < 0.03, worst  # a few int8 steps at most (measured 0.014)


@pytest.mark.backend
def test_int8_stride2_same_pads_are_folded_into_their_convs(tmp_path):
    """litert-torch leaves an int8 'SAME' pad as TRANSPOSE -> PAD -> TRANSPOSE before the conv; the
    exporter folds it back into conv(padding=SAME), and the .tflite still computes the fake-quant block."""
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_litert")
    import torch
    from ai_edge_litert.interpreter import Interpreter

    from reusevos_edge.converters.tflite_export import TFLITE_NAME, export_tflite
    from conftest import stride2_block
    from reusevos_edge.quant.litert import litert_quantizer
    from reusevos_edge.quant.ptq import quantize_subgraph

    sg, feeds = stride2_block(32, 48)
    q = quantize_subgraph(sg, feeds, litert_quantizer())
    result = export_tflite([q], tmp_path, precision="int8")
    assert result.extra["folded_same_pads"] == 1
    # the conv weight's and its bias's per-channel zero points (equal arrays) are stored once
    assert result.extra["shared_vectors"] >= 1 and result.extra["rewrite_bytes_saved"] > 0
    assert "PAD" not in result.op_inventory["block"]
    runner = Interpreter(model_path=str(tmp_path / TFLITE_NAME)).get_signature_runner("block")
    quant = result.extra["io_quantization"]["block"]
    x = feeds[0]["x"]
    (got,) = runner(**{"args_0": _quantize(x, quant["inputs"]["x"])}).values()
    got = (got.astype("float32") - quant["outputs"]["y"]["zero_point"]) * quant["outputs"]["y"]["scale"]
    ref = q.module(torch.from_numpy(x))[0].numpy()
    assert abs(got - ref).max() <= 2 * quant["outputs"]["y"]["scale"]  # a rounding step or two


@pytest.mark.backend
def test_lite0_int8_backbone_low_takes_image_codes_bit_exactly(tmp_path, monkeypatch):
    """lite0's int8 ``backbone_low`` (64x96) begins SUB(image, 127/255) -> QUANTIZE: the rewrite makes its
    image int8 codes u - 128 (zero point 127 - 128) and drops the SUB; its outputs equal, bit for bit, those
    of the float-input program on u / 255. The tiny model's mean (0.5: 127.5 / 255) keeps a float input."""
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_litert")
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    import reusevos_edge.converters.tflite_rewrite as tflite_rewrite
    from reusevos_edge.converters.tflite_export import TFLITE_NAME, export_tflite
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.model.subgraphs import build_subgraphs
    from reusevos_edge.quant.ptq import quantize_subgraphs

    low = [sg for sg in build_subgraphs(build_model("lite0"), height=H, width=W) if sg.name == "backbone_low"]
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (1, 3, H, W)).astype(np.float32) / np.float32(255) for _ in range(3)]
    q = quantize_subgraphs(low, {"backbone_low": [{"image": f} for f in frames]}, target="tflite")
    (tmp_path / "codes").mkdir()
    codes = export_tflite(q, tmp_path / "codes", precision="int8")
    assert codes.input_dtypes == {"backbone_low": {"image": "int8"}}
    assert codes.extra["io_quantization"]["backbone_low"]["inputs"]["image"]["zero_point"] == -1
    monkeypatch.setattr(tflite_rewrite, "_take_image_codes", lambda model, schema: False)
    (tmp_path / "float").mkdir()
    plain = export_tflite(q, tmp_path / "float", precision="int8")
    assert plain.input_dtypes == {} and "SUB" in plain.op_inventory["backbone_low"]
    assert "SUB" not in codes.op_inventory["backbone_low"]
    u = rng.integers(0, 256, (1, 3, H, W), dtype=np.uint8)
    got = Interpreter(model_path=str(tmp_path / "codes" / TFLITE_NAME)).get_signature_runner("backbone_low")(
        args_0=(u.astype(np.int16) - 128).astype(np.int8))
    want = Interpreter(model_path=str(tmp_path / "float" / TFLITE_NAME)).get_signature_runner("backbone_low")(
        args_0=u.astype(np.float32) * np.float32(1 / 255))
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def _quantize(x, params):
    import numpy as np

    return np.clip(np.round(x / params["scale"]) + params["zero_point"], -128, 127).astype(np.int8)


def test_integer_memo_passes_an_outputs_integers_on_exactly():
    """An int8 output fed back as an int8 input: its integers, or their table-mapped requantization,
    equal what rounding the floats gives, for every int8 value and through the runner's reshape."""
    import numpy as np

    from reusevos_edge.runtime.tflite_backend import IntegerMemo, TensorQuantization

    out_q = TensorQuantization(0.3241206705570221, 9, np.int8)
    in_q = TensorQuantization(0.27395784854888916, -8, np.int8)
    memo = IntegerMemo()
    q = np.arange(256, dtype=np.uint8).view(np.int8).reshape(1, 4, 8, 8)
    x = memo.dequantize(q, out_q)
    assert not x.flags.writeable  # nobody can change the floats under the integers
    view = x.reshape(4, 64)  # what BundleRunner hands out is a view of the backend's array
    assert np.array_equal(memo.quantize(view, out_q), q.reshape(4, 64))
    mapped = memo.quantize(view, in_q)
    assert mapped.shape == (4, 64) and np.array_equal(mapped, in_q.quantize(out_q.dequantize(q)).reshape(4, 64))
    assert not np.array_equal(mapped, q.reshape(4, 64))  # the scales differ: the table did map them
    fresh = x.copy()  # a writeable array (or any other one) is quantized from its floats
    assert np.array_equal(memo.quantize(fresh, in_q), in_q.quantize(fresh))
    address = x.ctypes.data
    del x, view
    import gc

    gc.collect()
    assert address not in memo._memo  # the entry went with its array
