"""Post-training int8 quantization of the contract's subgraphs (PT2E, torchao).

``quantize_subgraphs`` exports each int8 subgraph (``precision.INT8_SUBGRAPHS``) with
``torch.export``, inserts the observers of the target's quantizer (``prepare_pt2e``), runs the
calibration feeds through it and converts it (``convert_pt2e``). The result is a subgraph with the
same name, inputs and outputs whose module computes quantize/dequantize exactly where the target's
int8 kernels do: it is both the PyTorch reference for parity and what the exporter lowers.

Quantizer per target: the target table (``reusevos_edge.targets``, ``Target.quantizer``) names it;
each lives in its own module of this package with the reason it differs from the others.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import torch

from ..errors import InputError, require
from ..model.subgraph import Subgraph
from ..targets import get_target
from .precision import subgraph_precision


def quantize_subgraph(sg: Subgraph, feeds: Sequence[Mapping], quantizer) -> Subgraph:
    """``sg`` with its module replaced by the PT2E-quantized one, calibrated on ``feeds`` (dicts of arrays)."""
    pt2e = require("torchao.quantization.pt2e.quantize_pt2e", extra="executorch", purpose="PT2E quantization")
    if not feeds:
        raise InputError(f"subgraph {sg.name!r}: no calibration feeds; the calibration clips never ran it")
    graph = torch.export.export(sg.module.eval(), sg.example_inputs()).module()
    prepared = pt2e.prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for feed in feeds:
            prepared(*(torch.from_numpy(feed[spec.name]) for spec in sg.inputs))
    converted = pt2e.convert_pt2e(prepared)
    return dataclasses.replace(sg, module=converted)


def quantize_subgraphs(subgraphs: Sequence[Subgraph], feeds: Mapping[str, Sequence[Mapping]], *,
                       target: str) -> list[Subgraph]:
    """Every subgraph the precision table marks int8 quantized for ``target``; the others unchanged."""
    quantizer = get_target(target).load_quantizer()
    return [quantize_subgraph(sg, feeds.get(sg.name, ()), quantizer)
            if subgraph_precision(sg.name, "int8") == "int8" else sg for sg in subgraphs]
