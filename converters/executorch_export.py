"""ExecuTorch: one ``model.pte`` with one method per subgraph, XNNPACK-delegated.

Methods take the contract inputs in contract order (NCHW float32) and return the outputs in
contract order. Operators XNNPACK does not take (e.g. a conv whose weight is a runtime input)
stay on the portable CPU kernels; they are listed per method in the manifest and the log.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from pathlib import Path

import torch

from reusevos_edge.errors import InputError, require
from reusevos_edge.quant.image_codes import CODE_DTYPE, IMAGE_PROGRAM, image_code_input

from .export_result import ExportResult

log = logging.getLogger(__name__)
PTE_NAME = "model.pte"
_BOOKKEEPING = {"executorch_call_delegate", "getitem"}


def export_executorch(subgraphs, out_dir: Path, *, precision: str = "fp32", image_codes: bool = True) -> ExportResult:
    """Write ``out_dir/model.pte``; return the file and the undelegated ops per method.

    int8: the subgraphs come already PT2E-quantized (``reusevos_edge.quant``); XNNPACK takes their
    quantize/dequantize pairs and runs the ops between them with int8 kernels. ``backbone_low`` takes the
    frame as int8 codes (:mod:`reusevos_edge.quant.image_codes`) unless ``image_codes`` is False.
    """
    if precision not in ("fp32", "int8"):
        raise InputError(f"ExecuTorch export supports precision fp32 and int8, got {precision!r}")
    exir = require("executorch.exir", extra="executorch", purpose="ExecuTorch export")
    xnn = require("executorch.backends.xnnpack.partition.xnnpack_partitioner", extra="executorch",
                  purpose="ExecuTorch XNNPACK delegation")
    result = ExportResult(artifact=PTE_NAME, files=[PTE_NAME])
    if precision == "int8" and image_codes and any(sg.name == IMAGE_PROGRAM for sg in subgraphs):
        subgraphs = image_code_input(subgraphs)
        result.input_dtypes[IMAGE_PROGRAM] = {"image": CODE_DTYPE}
    programs = {sg.name: torch.export.export(_lowerable(sg.module), sg.example_inputs()) for sg in subgraphs}
    edge = exir.to_edge_transform_and_lower(programs, partitioner=[xnn.XnnpackPartitioner()])
    for sg in subgraphs:
        ops = _undelegated_ops(edge.exported_program(sg.name))
        result.undelegated_ops[sg.name] = sorted(ops)
        result.op_inventory[sg.name] = _op_counts(edge.exported_program(sg.name))
        if ops:
            log.warning("executorch: %s: ops left outside XNNPACK: %s", sg.name, dict(ops))
    with open(out_dir / PTE_NAME, "wb") as handle:
        edge.to_executorch().write_to_file(handle)
    return result


def _lowerable(module):
    """``module`` in eval mode, or for a converted int8 program (made by torch.export, no train mode) a
    copy whose identity requantizations after zero pads are gone, so XNNPACK runs each pad inside its
    conv (:func:`reusevos_edge.quant.xnnpack.fold_pad_requantize`; same numbers)."""
    try:
        return module.eval()
    except NotImplementedError:
        from reusevos_edge.quant.xnnpack import fold_pad_requantize

        module = copy.deepcopy(module)
        fold_pad_requantize(module)
        return module


def _node_op_name(node) -> str:
    """``aten.convolution.default`` style name of a call_function node."""
    target = node.target
    if hasattr(target, "name") and callable(target.name):
        return target.name().replace("::", ".")
    return getattr(target, "__name__", str(target))


def _undelegated_ops(program) -> Counter:
    """Count of call_function ops outside any delegate (bookkeeping nodes excluded)."""
    ops = Counter()
    for node in program.graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = _node_op_name(node)
        if not any(b in name for b in _BOOKKEEPING):
            ops[name] += 1
    return ops


def _op_counts(program) -> list[str]:
    """Delegate calls and portable ops of one method, e.g. ``['executorch_call_delegate x2']``."""
    counts = Counter(_node_op_name(n) for n in program.graph_module.graph.nodes
                     if n.op == "call_function" and "getitem" not in _node_op_name(n))
    return [f"{name} x{count}" for name, count in sorted(counts.items())]
