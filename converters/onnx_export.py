"""ONNX: one simplified ``<subgraph>.onnx`` per subgraph (opset 20, dynamo exporter + onnxslim).

Inputs and outputs carry the contract names (NCHW float32, fixed shapes). Weights stay inside
each file while it is below ``EMBED_LIMIT_BYTES``; larger graphs keep them in
``<subgraph>.onnx.data`` next to it (always that name, always one file).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import torch

from reusevos_edge.errors import InputError, require

from .export_result import ExportResult

log = logging.getLogger(__name__)
OPSET = 20
EMBED_LIMIT_BYTES = 1_500_000_000  # protobuf refuses files over 2 GiB


def export_onnx(subgraphs, out_dir: Path, *, precision: str = "fp32") -> ExportResult:
    """Write ``out_dir/<name>.onnx`` for every subgraph; return files and op inventory."""
    if precision != "fp32":
        raise InputError(f"ONNX export supports precision fp32 only, got {precision!r}")
    onnx = require("onnx", extra="onnx", purpose="ONNX export")
    result = ExportResult(artifact="<subgraph>.onnx")
    for sg in subgraphs:
        path = out_dir / f"{sg.name}.onnx"
        model = _export_one(sg)
        _save(onnx, model, path)
        _check_names(onnx.load(str(path), load_external_data=False), sg)
        result.files.append(path.name)
        result.op_inventory[sg.name] = sorted({n.op_type for n in model.graph.node})
        log.info("onnx: %s -> %s (%d nodes)", sg.name, path.name, len(model.graph.node))
    return result


def _export_one(sg):
    """Export one subgraph with the dynamo exporter and simplify it with onnxslim."""
    onnx = require("onnx", extra="onnx", purpose="ONNX export")
    onnxslim = require("onnxslim", extra="onnx", purpose="ONNX simplification")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        torch.onnx.export(
            sg.module.eval(), sg.example_inputs(), str(raw), dynamo=True, opset_version=OPSET,
            input_names=sg.input_names, output_names=sg.output_names, external_data=True,
            optimize=False,  # torch's optimizer took > 14 min on lite0's score_init at 384x672; onnxslim follows
        )
        model = onnx.load(str(raw), load_external_data=True)
    return fix_reshape_shapes(onnxslim.slim(model))


def fix_reshape_shapes(model):
    """Cast constant ``Reshape`` shapes to int64 in place (the unoptimized dynamo export writes the empty
    shape of a view-to-scalar as float64, which ONNX Runtime rejects); returns the model."""
    from onnx import TensorProto, numpy_helper

    shapes = {node.input[1] for node in model.graph.node if node.op_type == "Reshape" and len(node.input) > 1}
    for i, init in enumerate(model.graph.initializer):
        if init.name in shapes and init.data_type != TensorProto.INT64:
            fixed = numpy_helper.from_array(numpy_helper.to_array(init).astype("int64"), name=init.name)
            model.graph.initializer[i].CopyFrom(fixed)
    return model


def _save(onnx, model, path: Path) -> None:
    """Embed weights when small, else one external ``<name>.onnx.data``."""
    external = model.ByteSize() > EMBED_LIMIT_BYTES
    onnx.save_model(model, str(path), save_as_external_data=external,
                    all_tensors_to_one_file=True, location=f"{path.name}.data")


def _check_names(model, sg) -> None:
    """The exported graph must declare exactly the contract's input and output names."""
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    if outputs != sg.output_names or not set(inputs) <= set(sg.input_names):
        raise RuntimeError(f"ONNX export of {sg.name!r}: graph inputs {inputs} / outputs {outputs} "
                           f"differ from the contract {sg.input_names} / {sg.output_names}")
