"""Core ML int8 (W8A8) bundles of the tiny model, checked statically (Core ML runs only on Apple
platforms): the int8 functions store int8 weights and quantize their activations, the score
generator stays float32, the contract's inputs and outputs hold, and int8 weights weigh less than fp16."""

from __future__ import annotations

import pytest

from reusevos_edge.quant.precision import FLOAT_SUBGRAPHS, INT8_SUBGRAPHS
from reusevos_edge.tracker.config import TrackerConfig

H, W = 64, 96
CONFIG = TrackerConfig(tau=0.0, keyframe_bound=2, update_every=2)
# the op dequantizing an int8 weight when the model loads: iOS 18 (multifunction), iOS 17 (per subgraph)
CONSTEXPR = {"multifunction": "constexpr_blockwise_shift_scale", "per_subgraph": "constexpr_affine_dequantize"}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, tiny_calibration):
    """(precision, layout) -> BundleResult: int8 in both layouts, fp16 multifunction for size."""
    pytest.importorskip("coremltools")
    pytest.importorskip("executorch.backends.apple.coreml.quantizer")
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.quant.ptq import quantize_subgraphs

    model, subgraphs, _, feeds = tiny_calibration
    int8_graphs = quantize_subgraphs(subgraphs, feeds, target="coreml")
    out, result = tmp_path_factory.mktemp("coreml_int8"), {}
    for precision, layout in (("int8", "multifunction"), ("int8", "per_subgraph"), ("fp16", "multifunction")):
        opts = validate_options(target="coreml", model="tiny", height=H, width=W, precision=precision,
                                layout=layout, out_dir=out / layout)
        opts.out_dir.mkdir(exist_ok=True)
        int8 = precision == "int8"
        result[precision, layout] = export_bundle(
            opts, model=model, subgraphs=int8_graphs if int8 else subgraphs, tracker_config=CONFIG,
            quantization={"method": "ptq"} if int8 else None)
    return result


def _functions(bundle, layout):
    """subgraph name -> its mlProgram function, read back from the saved package(s)."""
    import coremltools as ct

    if layout == "multifunction":
        spec = ct.utils.load_spec(str(bundle.path / "model.mlpackage"))
        return dict(spec.mlProgram.functions)
    names = [e["name"] for e in bundle.manifest["subgraphs"]]
    return {n: ct.utils.load_spec(str(bundle.path / f"{n}.mlpackage")).mlProgram.functions["main"] for n in names}


@pytest.mark.backend
@pytest.mark.parametrize("layout", ["multifunction", "per_subgraph"])
def test_int8_functions_store_int8_weights_and_quantize_activations(bundles, layout):
    from reusevos_edge.converters.coreml_export import function_inventory, verify_coreml

    bundle = bundles["int8", layout]
    manifest = bundle.manifest
    assert bundle.path.name == "tiny_64x96_int8_coreml" and manifest["quantization"] == {"method": "ptq"}
    precision, compute = manifest["subgraph_precision"], manifest["export"]["compute_precision"]
    assert {(precision[n], compute[n]) for n in INT8_SUBGRAPHS} == {("int8", "FLOAT16")}
    assert {(precision[n], compute[n]) for n in FLOAT_SUBGRAPHS} == {("fp32", "FLOAT32")}
    verify_coreml(bundle.path, manifest["subgraphs"], layout=layout)  # contract names, shapes, float32 io
    functions = _functions(bundle, layout)
    assert set(functions) == set(INT8_SUBGRAPHS + FLOAT_SUBGRAPHS)
    for entry in manifest["subgraphs"]:
        inventory = function_inventory(functions[entry["name"]])
        assert [i[:2] for i in inventory["inputs"]] == [(e["name"], e["shape"]) for e in entry["inputs"]]
        assert [o[:2] for o in inventory["outputs"]] == [(e["name"], e["shape"]) for e in entry["outputs"]]
        ops = {op.rsplit(" x", 1)[0]: int(op.rsplit(" x", 1)[1]) for op in inventory["ops"]}
        quantized = {op for op in ops if op.startswith(("quantize", "constexpr_"))}
        if entry["name"] in FLOAT_SUBGRAPHS:
            assert not quantized and "dequantize" not in ops, (entry["name"], quantized)
            continue
        assert ops.get(f"{CONSTEXPR[layout]}:INT8", 0) >= ops["conv"], (entry["name"], ops)  # all conv weights
        # uint8 constants: constant operands of quantized ops (backbone_low's baked normalisation)
        allowed = {f"{CONSTEXPR[layout]}:INT8", f"{CONSTEXPR[layout]}:UINT8", "quantize:INT8", "quantize:UINT8"}
        assert quantized <= allowed, (entry["name"], quantized)
        assert quantized & {"quantize:INT8", "quantize:UINT8"} and ops["dequantize"] > 0, (entry["name"], ops)


@pytest.mark.backend
def test_int8_weights_take_little_more_than_half_of_fp16(bundles):
    """int8 weights, fp16 biases and per-channel scales: 57 % of fp16's weight file for the tiny model.
    Its whole package is not smaller: the program text (~0.8 MB, more ops in int8) outweighs its ~70 kB
    of fp16 weights; lite0's weights (MBs) dominate its package."""
    def weight_bytes(bundle):
        return sum(p.stat().st_size for p in (bundle.path / "model.mlpackage").rglob("weight.bin"))

    int8, fp16 = weight_bytes(bundles["int8", "multifunction"]), weight_bytes(bundles["fp16", "multifunction"])
    assert int8 < 0.6 * fp16, (int8, fp16)
