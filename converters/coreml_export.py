"""Core ML: one multifunction ``model.mlpackage`` (iOS 18), or one ``<subgraph>.mlpackage`` each (iOS 17).

Each function takes the contract inputs by contract name (NCHW float32 multiarrays, fixed
shapes) and returns the outputs by contract name. fp32 converts with compute precision FLOAT32,
fp16 with FLOAT16 (inputs and outputs stay float32; Core ML casts inside). Prediction runs only
on Apple platforms, so on Linux :func:`verify_coreml` checks the saved packages statically.

int8 (W8A8) bundles are mixed (``reusevos_edge.quant.precision``). The int8 subgraphs arrive
PT2E-converted (``reusevos_edge.quant.coreml``): coremltools stores their weights as int8 constants
(``constexpr_blockwise_shift_scale`` on iOS 18, ``constexpr_affine_dequantize`` on iOS 17) and turns
their activation quantize/dequantize pairs into Core ML ``quantize``/``dequantize`` (int8 / uint8).
The float ops between those pairs compute in FLOAT16: the Neural Engine, where int8 pays off, runs
nothing in float32, and fp16 rounding (~5e-4) is far below one int8 step. The float subgraphs (the
score generator) convert as in fp32, with FLOAT32: the table keeps them float32 for their numerics.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from reusevos_edge.errors import require
from reusevos_edge.quant.precision import subgraph_precision

from .export_result import ExportResult

log = logging.getLogger(__name__)
MULTIFUNCTION_NAME = "model.mlpackage"
_IO_DTYPES = {"float32": "FLOAT32", "float16": "FLOAT16"}
_COMPUTE_PRECISION = {"fp32": "FLOAT32", "fp16": "FLOAT16", "int8": "FLOAT16"}  # per subgraph precision


def export_coreml(subgraphs, out_dir: Path, *, precision: str = "fp32",
                  layout: str = "multifunction") -> ExportResult:
    """Write the package(s) into ``out_dir``; return files, op inventory, layout and compute precision
    (for int8, per subgraph)."""
    ct = require("coremltools", extra="coreml", purpose="Core ML export")
    multifunction = layout == "multifunction"
    target = ct.target.iOS18 if multifunction else ct.target.iOS17
    compute = {sg.name: _COMPUTE_PRECISION[subgraph_precision(sg.name, precision)] for sg in subgraphs}
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) if multifunction else out_dir
        paths = {sg.name: _convert_one(ct, sg, stage, target, compute[sg.name]) for sg in subgraphs}
        if multifunction:
            _save_multifunction(ct, paths, out_dir / MULTIFUNCTION_NAME, default=subgraphs[0].name)
    artifact = MULTIFUNCTION_NAME if multifunction else "<subgraph>.mlpackage"
    result = ExportResult(artifact=artifact, extra={
        "coreml_layout": layout, "minimum_deployment_target": "iOS18" if multifunction else "iOS17",
        "compute_precision": compute if precision == "int8" else _COMPUTE_PRECISION[precision]})
    result.files = [MULTIFUNCTION_NAME] if multifunction else [f"{sg.name}.mlpackage" for sg in subgraphs]
    result.op_inventory = verify_coreml(out_dir, [sg.to_json() for sg in subgraphs], layout=layout)
    return result


def _convert_one(ct, sg, stage: Path, target, compute: str) -> Path:
    """Convert one subgraph (``compute``: FLOAT32 or FLOAT16), rename its features to the contract
    names, save a package. A PT2E-converted subgraph is a GraphModule made by torch.export: it has
    no train mode to leave."""
    module = sg.module if isinstance(sg.module, torch.fx.GraphModule) else sg.module.eval()
    program = torch.export.export(module, sg.example_inputs()).run_decompositions({})
    try:
        model = _ct_convert(ct, program, sg, target, compute, ct.PassPipeline.DEFAULT)
    except KeyError as exc:  # coremltools 9.0 reduce_transposes: full reductions have no 'axes'
        log.warning("coreml: %s: default pass pipeline failed (%r); retrying without "
                    "common::reduce_transposes", sg.name, exc)
        pipeline = ct.PassPipeline.DEFAULT
        pipeline.remove_passes({"common::reduce_transposes"})
        model = _ct_convert(ct, program, sg, target, compute, pipeline)
    spec = model.get_spec()
    _rename(ct, spec, [i.name for i in spec.description.input], sg.input_names)
    _rename(ct, spec, [o.name for o in spec.description.output], sg.output_names)
    renamed = ct.models.MLModel(spec, weights_dir=model.weights_dir, skip_model_load=True)
    path = stage / f"{sg.name}.mlpackage"
    renamed.save(str(path))
    log.info("coreml: %s -> %s", sg.name, path.name)
    return path


def _ct_convert(ct, program, sg, target, compute: str, pipeline):
    """mlprogram with float32 outputs whatever the compute precision (the contract is float32)."""
    outputs = [ct.TensorType(dtype=np.float32) for _ in sg.outputs]
    return ct.convert(
        program, outputs=outputs, convert_to="mlprogram", minimum_deployment_target=target,
        pass_pipeline=pipeline, compute_precision=getattr(ct.precision, compute), skip_model_load=True,
    )


def _rename(ct, spec, current: list[str], wanted: list[str]) -> None:
    """Rename features positionally (through temporary names, so swaps cannot collide)."""
    if len(current) != len(wanted):
        raise RuntimeError(f"Core ML conversion produced features {current}, contract expects {wanted}")
    for i, old in enumerate(current):
        ct.utils.rename_feature(spec, old, f"__tmp_{i}_{old}", rename_inputs=True, rename_outputs=True)
    for i, (old, new) in enumerate(zip(current, wanted)):
        ct.utils.rename_feature(spec, f"__tmp_{i}_{old}", new, rename_inputs=True, rename_outputs=True)


def _save_multifunction(ct, paths: dict[str, Path], out: Path, *, default: str) -> None:
    """Merge single-function packages into one multifunction package (weights deduplicated)."""
    desc = ct.utils.MultiFunctionDescriptor()
    for name, path in paths.items():
        desc.add_function(str(path), src_function_name="main", target_function_name=name)
    desc.default_function_name = default
    ct.utils.save_multifunction(desc, str(out))


def verify_coreml(bundle_dir: Path, subgraphs_json: list[dict], *, layout: str) -> dict[str, list[str]]:
    """Statically check packages against the contract; return op types per function
    (:func:`function_inventory`).

    Raises RuntimeError naming the function and the feature whose name, shape or dtype differs.
    """
    ct = require("coremltools", extra="coreml", purpose="Core ML verification")
    inventory = {}
    for entry in subgraphs_json:
        name = entry["name"]
        if layout == "multifunction":
            spec = ct.utils.load_spec(str(bundle_dir / MULTIFUNCTION_NAME))
            desc = next((f for f in spec.description.functions if f.name == name), None)
            if desc is None:
                raise RuntimeError(f"Core ML package has no function {name!r}")
            function = spec.mlProgram.functions[name]
        else:
            spec = ct.utils.load_spec(str(bundle_dir / f"{name}.mlpackage"))
            desc, function = spec.description, spec.mlProgram.functions["main"]
        _check_features(name, "input", desc.input, entry["inputs"])
        _check_features(name, "output", desc.output, entry["outputs"])
        inventory[name] = function_inventory(function)["ops"]
    return inventory


def _check_features(function: str, kind: str, features, expected: list[dict]) -> None:
    got = [(f.name, list(f.type.multiArrayType.shape), _dtype_name(f)) for f in features]
    want = [(e["name"], list(e["shape"]), _IO_DTYPES[e["dtype"]]) for e in expected]
    if got != want:
        raise RuntimeError(f"Core ML function {function!r} {kind}s {got} differ from the contract {want}")


def _dtype_name(feature) -> str:
    from coremltools.proto import FeatureTypes_pb2

    return FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(feature.type.multiArrayType.dataType)


def function_inventory(function) -> dict:
    """What one ``spec.mlProgram.functions`` entry holds: ``inputs`` and ``outputs`` as
    ``(name, shape, dtype)`` and ``ops`` as ``['conv x12', ...]`` over all its block specialisations.

    int8 shows in the op names: ``quantize:INT8`` / ``quantize:UINT8`` (the activation dtype it
    quantizes to) and ``constexpr_*:INT8`` (the dtype a weight is stored in, dequantized at load).
    """
    counts, types, outputs = Counter(), {}, []
    for block in function.block_specializations.values():
        for op in block.operations:
            counts[_op_name(op)] += 1
            types.update((out.name, out.type) for out in op.outputs)
        outputs = [_typed(name, types[name]) for name in block.outputs]
    return {"inputs": [_typed(value.name, value.type) for value in function.inputs], "outputs": outputs,
            "ops": [f"{op} x{n}" for op, n in sorted(counts.items())]}


def _op_name(op) -> str:
    """The op's type; for int8 evidence with the dtype it quantizes to or stores its weight in."""
    if op.type == "quantize":
        return f"quantize:{_mil_dtype(op.outputs[0].type)}"
    if op.type.startswith("constexpr_"):  # the weight: its largest constant (inputs on iOS 18, attributes before)
        values = [arg.value for inp in op.inputs.values() for arg in inp.arguments if arg.HasField("value")]
        values += [value for key, value in op.attributes.items() if key != "name"]
        stored = max(values, key=lambda v: math.prod(d.constant.size for d in v.type.tensorType.dimensions))
        return f"{op.type}:{_mil_dtype(stored.type)}"
    return op.type


def _typed(name: str, value_type) -> tuple[str, list[int], str]:
    return name, [d.constant.size for d in value_type.tensorType.dimensions], _mil_dtype(value_type)


def _mil_dtype(value_type) -> str:
    from coremltools.proto import MIL_pb2

    return MIL_pb2.DataType.Name(value_type.tensorType.dataType)
