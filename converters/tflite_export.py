"""LiteRT: one ``model.tflite`` with one signature per subgraph (litert-torch).

litert-torch names signature inputs ``args_0, args_1, ...`` (contract order) and outputs
``output_0, output_1, ...``; the mapping to contract names is written into the manifest
(``program_inputs`` / ``program_outputs``). Tensors stay NCHW float32 at the signature boundary
(litert-torch inserts the layout transposes inside the program).

litert-torch's default (min-cut) layout pass mis-handles a conv whose weight is computed in the
graph (the unrolled conjugate-gradient fit); when conversion fails that way we convert again with
the greedy layout partitioner and record which one was used. Its layout pass also gets the
shape of ``aten.expand`` wrong (``tfl.add`` broadcast error), so every subgraph is first exported
with torch.export and each ``expand``/``expand_as`` is rewritten as ``add(x, zeros(shape))`` (same values).

int8: the int8 subgraphs come PT2E-converted (``reusevos_edge.quant``; PTQ uses ``quant.litert``) and
the float ones unchanged, all in one ``.tflite``. Converting with a static ``QuantConfig`` makes the
converter fold each dequantize -> op -> quantize group into a TFLite int8 kernel. It expects every
weight as ``quantize(float constant)`` (``convert_pt2e(fold_quantize=False)``), so the int8 constants
that ``convert_pt2e`` folds are unfolded first (exactly: same scale, same integers). A signature
tensor at a quantize/dequantize boundary becomes int8; its scale and zero point are listed in the
manifest (``export.io_quantization``), and the runtime quantizes and dequantizes there. The
converter leaves each int8 stride-2 'SAME' pad as a transposed copy before its conv;
:func:`.tflite_rewrite.rewrite` folds it back into the conv (exact; count in the manifest), lets the int8
``backbone_low`` take the frame as int8 codes (its float mean subtraction folded into the input's zero
point; :mod:`reusevos_edge.quant.image_codes`) and stores equal vectors once (the per-channel zero points:
0.35 MB of the lite0 int8 model).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from reusevos_edge.errors import InputError, require
from reusevos_edge.quant.image_codes import CODE_DTYPE, IMAGE_PROGRAM

from .export_result import ExportResult
from .tflite_rewrite import builtin_names, op_name, rewrite

log = logging.getLogger(__name__)
TFLITE_NAME = "model.tflite"
_PARTITIONER_ENV = "LAYOUT_OPTIMIZE_PARTITIONER"


def export_tflite(subgraphs, out_dir: Path, *, precision: str = "fp32") -> ExportResult:
    """Write ``out_dir/model.tflite``; return the file, the signature name mapping and (int8) the
    quantization parameters of the signatures' int8 inputs and outputs."""
    if precision not in ("fp32", "int8"):
        raise InputError(f"LiteRT export supports precision fp32 and int8, got {precision!r}")
    require("litert_torch", extra="tflite", purpose="LiteRT export")
    quant_config = _static_int8_config() if precision == "int8" else None
    try:
        edge, partitioner = _convert(subgraphs, None, quant_config), "default"
    except Exception as exc:  # litert-torch raises plain RuntimeErrors from its layout pass
        log.warning("tflite: default layout pass failed (%s); retrying with GREEDY", str(exc).splitlines()[0])
        edge, partitioner = _convert(subgraphs, "GREEDY", quant_config), "GREEDY"
    edge.export(str(out_dir / TFLITE_NAME))
    rewritten = rewrite(out_dir / TFLITE_NAME)
    model = _read_model(out_dir / TFLITE_NAME)
    result = ExportResult(artifact=TFLITE_NAME, files=[TFLITE_NAME],
                          extra={"layout_partitioner": partitioner, "folded_same_pads": rewritten.folded_same_pads,
                                 "shared_vectors": rewritten.shared_vectors,
                                 "rewrite_bytes_saved": rewritten.bytes_before - rewritten.bytes_after})
    for sg in subgraphs:
        result.io_names[sg.name] = signature_names(sg)
    result.op_inventory = _op_inventory(model)
    if precision == "int8":
        result.extra["io_quantization"] = _io_quantization(model, subgraphs)
    if rewritten.image_codes:
        result.input_dtypes[IMAGE_PROGRAM] = {"image": CODE_DTYPE}
    return result


def signature_names(sg) -> dict[str, dict[str, str]]:
    """Contract name -> litert-torch signature name, for inputs and outputs."""
    return {
        "inputs": {name: f"args_{i}" for i, name in enumerate(sg.input_names)},
        "outputs": {name: f"output_{i}" for i, name in enumerate(sg.output_names)},
    }


def _static_int8_config():
    """litert-torch's QuantConfig for static int8: Q/DQ groups become int8 kernels (STATIC Q/DQ mode)."""
    quant_config = require("litert_torch.quantize.quant_config", extra="tflite", purpose="LiteRT int8 export")
    from reusevos_edge.quant.litert import litert_quantizer

    return quant_config.QuantConfig(pt2e_quantizer=litert_quantizer())


def _convert(subgraphs, partitioner: str | None, quant_config):
    """Chain ``.signature(name, module, args)`` for every subgraph and convert."""
    litert_torch = require("litert_torch", extra="tflite", purpose="LiteRT export")
    previous = os.environ.get(_PARTITIONER_ENV)
    if partitioner:
        os.environ[_PARTITIONER_ENV] = partitioner
    try:
        conv = litert_torch
        for sg in subgraphs:
            conv = conv.signature(sg.name, _unfold_quantized_constants(_without_expand(sg)), sg.example_inputs())
        return conv.convert(quant_config=quant_config)
    finally:
        _restore_env(previous)


_EXPAND_OPS = (torch.ops.aten.expand.default, torch.ops.aten.expand_as.default)


def _without_expand(sg) -> torch.nn.Module:
    """The subgraph as a GraphModule whose ``aten.expand`` nodes are ``add(x, zeros(out_shape))``."""
    module = torch.export.export(_eval(sg.module), sg.example_inputs()).module()
    graph = module.graph
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in _EXPAND_OPS:
            continue
        out = node.meta["val"]
        with graph.inserting_before(node):
            zeros = graph.call_function(torch.ops.aten.zeros.default, (list(out.shape),), {"dtype": out.dtype})
            added = graph.call_function(torch.ops.aten.add.Tensor, (node.args[0], zeros))
        added.meta = dict(node.meta)
        node.replace_all_uses_with(added)
        graph.erase_node(node)
    module.recompile()
    return module


_DEQUANTIZE = ("quantized_decomposed.dequantize_per_tensor.default",
               "quantized_decomposed.dequantize_per_channel.default")


def _unfold_quantized_constants(module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Each ``dequantize(int8 constant)`` as ``dequantize(quantize(float constant))`` with the same arguments.

    The float constant is the dequantized one, so quantizing it gives back the same integers. A float
    subgraph has no such constant and comes back unchanged.
    """
    graph = module.graph
    for node in list(graph.nodes):
        constant = node.args[0] if node.op == "call_function" and str(node.target) in _DEQUANTIZE else None
        if getattr(constant, "op", None) != "get_attr":
            continue
        args = [getattr(module, a.target) if isinstance(a, torch.fx.Node) else a for a in node.args]
        setattr(module, constant.target, node.target(*args))
        quantize = getattr(torch.ops.quantized_decomposed, node.target.__name__.split(".")[0].removeprefix("de"))
        with graph.inserting_before(node):
            quantized = graph.call_function(quantize.default, tuple(node.args))
        node.replace_input_with(constant, quantized)
    module.recompile()
    return module


def _eval(module):
    """``module`` in eval mode; a module made by torch.export (a quantized subgraph) has no train mode."""
    try:
        return module.eval()
    except NotImplementedError:
        return module


def _restore_env(previous: str | None) -> None:
    if previous is None:
        os.environ.pop(_PARTITIONER_ENV, None)
    else:
        os.environ[_PARTITIONER_ENV] = previous


def _schema():
    """ai-edge-litert's generated flatbuffer schema module."""
    return require("ai_edge_litert.schema_py_generated", extra="tflite", purpose="LiteRT inspection")


def _read_model(path: Path):
    """The ``.tflite`` flatbuffer as an object tree (``schema.ModelT``)."""
    return _schema().ModelT.InitFromPackedBuf(path.read_bytes(), 0)


def _op_inventory(model) -> dict[str, list[str]]:
    """Builtin operator names used by each signature."""
    names = builtin_names(_schema())
    return {
        sig.signatureKey.decode(): sorted({op_name(model, op, names) for op in model.subgraphs[sig.subgraphIndex].operators})
        for sig in model.signatureDefs
    }


def _io_quantization(model, subgraphs) -> dict[str, dict[str, dict]]:
    """Per subgraph, its quantized signature inputs/outputs by contract name: dtype, scale, zero_point."""
    types = {v: k.lower() for k, v in vars(_schema().TensorType).items() if not k.startswith("_")}
    signatures = {sig.signatureKey.decode(): sig for sig in model.signatureDefs}
    out = {}
    for sg in subgraphs:
        sig, names = signatures[sg.name], signature_names(sg)
        tensors = model.subgraphs[sig.subgraphIndex].tensors
        entry = {}
        for side, tensor_maps in (("inputs", sig.inputs), ("outputs", sig.outputs)):
            contract = {program: name for name, program in names[side].items()}
            for tensor_map in tensor_maps:
                tensor = tensors[tensor_map.tensorIndex]
                q = tensor.quantization
                if q is not None and q.scale is not None and len(q.scale):
                    entry.setdefault(side, {})[contract[tensor_map.name.decode()]] = {
                        "dtype": types[tensor.type], "scale": float(q.scale[0]), "zero_point": int(q.zeroPoint[0])}
        if entry:
            out[sg.name] = entry
    return out
