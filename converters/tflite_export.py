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
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from reusevos_edge.errors import InputError, require

from .export_result import ExportResult

log = logging.getLogger(__name__)
TFLITE_NAME = "model.tflite"
_PARTITIONER_ENV = "LAYOUT_OPTIMIZE_PARTITIONER"


def export_tflite(subgraphs, out_dir: Path, *, precision: str = "fp32") -> ExportResult:
    """Write ``out_dir/model.tflite``; return the file and the signature name mapping."""
    if precision != "fp32":
        raise InputError(f"LiteRT export supports precision fp32 only, got {precision!r}")
    require("litert_torch", extra="tflite", purpose="LiteRT export")
    try:
        edge, partitioner = _convert(subgraphs, None), "default"
    except Exception as exc:  # litert-torch raises plain RuntimeErrors from its layout pass
        log.warning("tflite: default layout pass failed (%s); retrying with GREEDY", str(exc).splitlines()[0])
        edge, partitioner = _convert(subgraphs, "GREEDY"), "GREEDY"
    edge.export(str(out_dir / TFLITE_NAME))
    result = ExportResult(artifact=TFLITE_NAME, files=[TFLITE_NAME],
                          extra={"layout_partitioner": partitioner})
    for sg in subgraphs:
        result.io_names[sg.name] = signature_names(sg)
    result.op_inventory = _op_inventory(out_dir / TFLITE_NAME)
    return result


def signature_names(sg) -> dict[str, dict[str, str]]:
    """Contract name -> litert-torch signature name, for inputs and outputs."""
    return {
        "inputs": {name: f"args_{i}" for i, name in enumerate(sg.input_names)},
        "outputs": {name: f"output_{i}" for i, name in enumerate(sg.output_names)},
    }


def _convert(subgraphs, partitioner: str | None):
    """Chain ``.signature(name, module, args)`` for every subgraph and convert."""
    litert_torch = require("litert_torch", extra="tflite", purpose="LiteRT export")
    previous = os.environ.get(_PARTITIONER_ENV)
    if partitioner:
        os.environ[_PARTITIONER_ENV] = partitioner
    try:
        conv = litert_torch
        for sg in subgraphs:
            conv = conv.signature(sg.name, _without_expand(sg), sg.example_inputs())
        return conv.convert()
    finally:
        _restore_env(previous)


_EXPAND_OPS = (torch.ops.aten.expand.default, torch.ops.aten.expand_as.default)


def _without_expand(sg) -> torch.nn.Module:
    """The subgraph as a GraphModule whose ``aten.expand`` nodes are ``add(x, zeros(out_shape))``."""
    module = torch.export.export(sg.module.eval(), sg.example_inputs()).module()
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


def _restore_env(previous: str | None) -> None:
    if previous is None:
        os.environ.pop(_PARTITIONER_ENV, None)
    else:
        os.environ[_PARTITIONER_ENV] = previous


def _op_inventory(path: Path) -> dict[str, list[str]]:
    """Builtin operator names used by each signature, read from the flatbuffer."""
    schema = require("ai_edge_litert.schema_py_generated", extra="tflite", purpose="LiteRT inspection")
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}

    def op_name(op) -> str:
        code = model.operatorCodes[op.opcodeIndex]
        return names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")

    return {
        sig.signatureKey.decode(): sorted({op_name(op) for op in model.subgraphs[sig.subgraphIndex].operators})
        for sig in model.signatureDefs
    }
