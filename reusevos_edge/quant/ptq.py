"""Post-training int8 quantization (PTQ): calibrate the int8 subgraphs on real feeds and convert them.

The PTQ baseline beside quantization-aware training (``reusevos-train --qat``): the same programs
(:class:`~reusevos_edge.quant.programs.QuantizedPrograms`) with observers only, calibrated once.
The result is a contract with the same names, inputs and outputs whose int8 modules compute
quantize/dequantize exactly where the target's int8 kernels do: the PyTorch reference for parity
and what the exporter lowers. The target table (``Target.quantizer``) names each target's quantizer.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import torch

from ..model.subgraph import Subgraph
from . import integer_bias
from .programs import QuantizedPrograms, prepare_program


def quantize_subgraph(sg: Subgraph, feeds: Sequence[Mapping], quantizer) -> Subgraph:
    """``sg`` with its module replaced by the PT2E-quantized one, calibrated on ``feeds`` (dicts of arrays)."""
    prepared = prepare_program(sg, quantizer, qat=False)
    with torch.no_grad():
        for feed in feeds:
            prepared(*(torch.from_numpy(feed[spec.name]) for spec in sg.inputs))
    return dataclasses.replace(sg, module=integer_bias.convert(prepared))


def quantize_subgraphs(subgraphs: Sequence[Subgraph], feeds: Mapping[str, Sequence[Mapping]], *,
                       target: str) -> list[Subgraph]:
    """Every subgraph the precision table marks int8 calibrated on ``feeds`` and converted for ``target``."""
    return QuantizedPrograms.prepare(subgraphs, target=target).calibrate(feeds).convert()
