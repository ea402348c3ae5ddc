"""ONNX: one simplified ``<subgraph>.onnx`` per subgraph (opset 20, dynamo exporter + onnxslim).

torch's ONNX optimizer is skipped (over 14 min on lite0's score_init at 384x672). Its constant folding
is what made the graph fast, so :func:`resolve_castlike` does the one part onnxslim cannot: the
unoptimized export gives every bias-less Conv a bias ``Expand(CastLike(0, <conv input>), Shape(W))``.
That CastLike reads the activation only for its dtype, yet it keeps the bias off the initializers
(no Conv+BatchNormalization / Conv+Clip fusion, no NCHWc layout in ONNX Runtime) and keeps alive the
explicit ``Pad`` in front of every padded conv (a full-size copy). Once it is a ``Cast`` of a constant,
onnxslim folds the bias into an initializer, merges the BatchNormalization and drops the dead Pad
(lite0 backbone_low at 384x672 in ONNX Runtime, 1 thread: 86 -> 18 ms).

int8: the int8 subgraphs come already PT2E-converted for ONNX Runtime (``reusevos_edge.quant.onnx_qdq``:
uint8 activations, per-channel int8 weights, int32 biases); the dynamo exporter writes their
quantize/dequantize pairs as QuantizeLinear/DequantizeLinear (QDQ ONNX), which onnxslim keeps and
ONNX Runtime fuses into QLinearConv (and QLinearAdd, QLinearConcat, ...) when it loads the file. The
float subgraphs (``quant.precision``) export as in fp32. resolve_castlike matters here too: the
bounds of every ReLU6 ``Clip`` are ``CastLike(constant, <conv output>)``; once constant, ONNX Runtime
drops the Clip that the following QuantizeLinear makes redundant, and only then fuses the conv.
:func:`fold_quantized_pads` moves each stride-2 'SAME' pad into its QLinearConv (lite0 int8
``backbone_low`` 24.6 -> 13.1 ms, ``backbone_high`` 9.2 -> 7.7 ms at 384x672, 1 thread, same outputs).

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
    """Write ``out_dir/<name>.onnx`` for every subgraph; return files and op inventory.

    int8: the int8 subgraphs come PT2E-converted (``reusevos_edge.quant``) and are written as QDQ ONNX.
    """
    if precision not in ("fp32", "int8"):
        raise InputError(f"ONNX export supports precision fp32 and int8, got {precision!r}")
    onnx = require("onnx", extra="onnx", purpose="ONNX export")
    result = ExportResult(artifact="<subgraph>.onnx")
    for sg in subgraphs:
        path = out_dir / f"{sg.name}.onnx"
        model = _export_one(sg)
        if precision == "int8":
            activations_to_uint8(model)
            result.extra.setdefault("folded_quantized_pads", {})[sg.name] = fold_quantized_pads(model)
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
            _traceable(sg), sg.example_inputs(), str(raw), dynamo=True, opset_version=OPSET,
            input_names=sg.input_names, output_names=sg.output_names, external_data=True,
            optimize=False,  # torch's optimizer took > 14 min on lite0's score_init at 384x672; onnxslim follows
        )
        model = onnx.load(str(raw), load_external_data=True)
    resolve_castlike(model)
    return fix_reshape_shapes(onnxslim.slim(model))


def _traceable(sg):
    """What the exporter traces: the module in eval mode, or for a PT2E-converted subgraph (a
    GraphModule made by torch.export, which refuses ``eval()``) its exported program."""
    if isinstance(sg.module, torch.fx.GraphModule):
        return torch.export.export(sg.module, sg.example_inputs())
    return sg.module.eval()


def activations_to_uint8(model) -> int:
    """Move int8 activation QDQ pairs to uint8, in place, with identical values; returns how many moved.

    A program quantized with another target's recipe (a QAT checkpoint carries XNNPACK's: affine int8
    activations) would leave convs in float in ONNX Runtime, which fuses QLinearConv reliably only for
    uint8 activations. Affine int8 and uint8 are the same grid shifted by 128: ``QuantizeLinear`` with
    zero point z + 128 into uint8 gives q + 128, and ``DequantizeLinear`` with z + 128 gives back
    exactly (q - z) x scale. Weight ``DequantizeLinear`` (constant int8 input, symmetric) stays int8.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    inits = {init.name: init for init in model.graph.initializer}
    shifted: dict[str, str] = {}

    def shift(zp_name: str) -> str | None:
        if zp_name not in shifted and zp_name in inits:
            zp = numpy_helper.to_array(inits[zp_name])
            if zp.dtype != np.int8:
                return None
            shifted[zp_name] = zp_name + "_u8"
            model.graph.initializer.append(numpy_helper.from_array((zp.astype(np.int16) + 128).astype(np.uint8),
                                                                   shifted[zp_name]))
        return shifted.get(zp_name)

    quantized = set()
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear" and len(node.input) == 3 and shift(node.input[2]):
            node.input[2] = shifted[node.input[2]]
            quantized.add(node.output[0])
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in quantized and shift(node.input[2]):
            node.input[2] = shifted[node.input[2]]
    for info in model.graph.value_info:
        if info.name in quantized:
            info.type.tensor_type.elem_type = onnx.TensorProto.UINT8
    return len(quantized)


def fold_quantized_pads(model) -> int:
    """Fold, in place, every zero ``Pad`` between a conv and the quantized tensor it reads into the conv's
    own (asymmetric) ``pads``; returns how many were folded.

    A stride-2 'SAME' conv of EfficientNet-Lite pads explicitly (``StaticSamePadConv2d``). In QDQ form
    that is ``DequantizeLinear(a) -> Pad -> QuantizeLinear(b) -> DequantizeLinear(b) -> Conv``: ONNX
    Runtime fuses the conv into QLinearConv but leaves the pad as a float pad between layout transposes
    (three full copies of the widest activations of ``backbone_low``). When b's scale and zero point
    equal a's, the Q/DQ pair after the pad is the identity and padding with real zero is what the
    conv's ``pads`` do (QLinearConv pads with the input's zero point): the same numbers.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}

    def only(name: str, op_type: str):
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type and name not in outputs else None

    def same_quantization(a, b) -> bool:
        return all(x in inits and y in inits and np.array_equal(inits[x], inits[y])
                   for x, y in zip(a.input[1:3], b.input[1:3])) and len(a.input) == len(b.input) == 3

    dropped = []
    for pad in [n for n in graph.node if n.op_type == "Pad"]:
        source = producer.get(pad.input[0])
        quant = only(pad.output[0], "QuantizeLinear")
        dequant = only(quant.output[0], "DequantizeLinear") if quant is not None else None
        conv = only(dequant.output[0], "Conv") if dequant is not None else None
        amounts = inits.get(pad.input[1]) if len(pad.input) > 1 else None
        if (conv is None or source is None or source.op_type != "DequantizeLinear" or amounts is None
                or len(amounts) != 8 or amounts[[0, 1, 4, 5]].any() or (amounts < 0).any()
                or (len(pad.input) > 2 and pad.input[2] and (pad.input[2] not in inits or inits[pad.input[2]].any()))
                or any(a.name == "mode" and a.s not in (b"", b"constant") for a in pad.attribute)
                or (len(pad.input) > 3 and pad.input[3])  # an axes input: amounts for some axes only
                or not same_quantization(source, quant) or not same_quantization(quant, dequant)
                or conv.input[0] != dequant.output[0]):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID") or any(attrs.get("pads", [0] * 4)):
            continue
        conv.input[0] = pad.input[0]
        kept = [a for a in conv.attribute if a.name not in ("pads", "auto_pad")]
        del conv.attribute[:]
        conv.attribute.extend(kept + [helper.make_attribute("pads", [int(v) for v in amounts[[2, 3, 6, 7]]])])
        dropped += [pad, quant, dequant]
    for node in dropped:
        graph.node.remove(node)
    return len(dropped) // 3


def resolve_castlike(model) -> int:
    """Rewrite, in place, every ``CastLike(x, like)`` whose ``like`` has a known element type into
    ``Cast(x, to=<that type>)``: same result, but no longer reading ``like``, so a constant ``x``
    folds and ``like``'s producer may become dead. Returns how many were rewritten."""
    from onnx import helper

    graph = model.graph
    types = {i.name: i.data_type for i in graph.initializer}
    for vi in (*graph.input, *graph.value_info, *graph.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = attr.t.data_type
    rewritten = 0
    for node in graph.node:
        if (node.op_type == "CastLike" and node.domain in ("", "ai.onnx") and len(node.input) == 2
                and types.get(node.input[1])):
            cast = helper.make_node("Cast", [node.input[0]], list(node.output), name=node.name,
                                    to=types[node.input[1]])
            cast.attribute.extend(a for a in node.attribute if a.name == "saturate")
            node.CopyFrom(cast)
            rewritten += 1
    return rewritten


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
