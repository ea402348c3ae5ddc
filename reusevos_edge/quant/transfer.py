"""One recipe's quantization parameters carried over to another recipe's programs.

A QAT checkpoint holds the scales of the recipe it was trained with (ExecuTorch/XNNPACK's). LiteRT's
converter needs its own recipe (:mod:`.litert`: equal scales across resizes and concatenations,
fixed ones on sigmoid outputs), so the same trained weights are prepared again with LiteRT's
quantizer and every activation observer of that graph is fixed to the parameters the QAT programs
learned for the same tensor:

- the same tensor: an observer of the same node of the exported graph (both recipes export the same
  module, so node names agree), else one feeding the same consumers (a conv whose BatchNorm the QAT
  graph still simulates);
- an observer reading another observer's output (a sigmoid's fixed output range, then a consumer's
  input): the first one's parameters, so the requantization between them is an identity;
- weights: observed from the weights themselves (per-channel, as the QAT conversion computes them);
- the rest, tensors the QAT recipe leaves float (the score map LiteRT quantizes before resizing it):
  parameters recorded with the checkpoint (:func:`record_missing`, from calibration feeds of DAVIS
  *train* frames). Without them :func:`transfer` raises, naming the tensors.

Both recipes quantize activations to int8 [-128, 127], per tensor, affine: the parameters carry over
unchanged (checked).
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping

import torch

from ..errors import InputError, require
from .integer_bias import attr_tensor
from .programs import STATE_MARK, QuantizedPrograms, _qparams

QParams = tuple[float, int]


@dataclass
class TransferReport:
    """How every activation observer of the target recipe got its parameters, counted per way."""

    same_tensor: int = 0
    same_consumers: int = 0
    shared: int = 0
    chained: int = 0
    recorded: int = 0
    weights: int = 0
    fixed: int = 0
    missing: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "missing"}


def transfer(source: QuantizedPrograms, target: QuantizedPrograms, *, recorded: Mapping[str, QParams],
             strict: bool = True) -> TransferReport:
    """Fix every observer of ``target``'s programs to ``source``'s parameters (see the module doc).

    source: the checkpoint's programs, parameters loaded; target: the same subgraphs prepared with
    another recipe (post-training observers), changed in place; recorded: ``"<subgraph>/<node>"`` ->
    (scale, zero point) for tensors ``source`` leaves float. ``strict``: raise InputError naming the
    tensors no way covers; else they stay observers (reported in ``missing``).
    """
    report = TransferReport()
    for name, program in target.prepared.items():
        _transfer_program(name, source.prepared[name], program, recorded, report)
    if strict and report.missing:
        raise InputError(f"the QAT parameters do not cover {len(report.missing)} tensors of the {target.target} "
                         f"int8 recipe ({', '.join(report.missing[:4])}); pass --calibrate DAVIS_ROOT")
    return report


def record_missing(source: QuantizedPrograms, calibrated: QuantizedPrograms) -> dict[str, list]:
    """The parameters :func:`transfer` cannot take from ``source``, read from ``calibrated`` (the target
    recipe's programs calibrated on real feeds): ``"<subgraph>/<node>"`` -> [scale, zero point], to
    record with the checkpoint."""
    probe = QuantizedPrograms(target=calibrated.target, subgraphs=calibrated.subgraphs,
                              prepared={n: copy.deepcopy(p) for n, p in calibrated.prepared.items()}, qat=False)
    missing = transfer(source, probe, recorded={}, strict=False).missing
    out = {}
    for key in missing:
        sg, _, node = key.partition("/")
        observer = _observer_of(calibrated.prepared[sg], node)
        scale, zero_point = _qparams(observer)
        out[key] = [float(scale), int(zero_point)]
    return out


def record_for_checkpoint(source: QuantizedPrograms, model, clips, *, config, height: int, width: int) -> dict:
    """For every int8 target whose own recipe takes a QAT checkpoint's parameters (``Target.lowers_qat``
    false), what :func:`transfer` needs recorded with the checkpoint: ``{target: {"<subgraph>/<node>":
    [scale, zero point]}}``, calibrated on the feeds the float tracker produces over ``clips`` (DAVIS
    *train* frames). A target whose extra is not installed is left out (its int8 export then needs
    ``--calibrate``)."""
    from ..errors import MissingExtraError
    from ..targets import TARGETS
    from .calibration import calibrated_programs

    out = {}
    for target in TARGETS.values():
        if target.lowers_qat or target.quantizer is None:
            continue
        try:
            calibrated = calibrated_programs(model, clips, height=height, width=width, config=config,
                                             target=target.name, qat=False)
        except MissingExtraError:  # the CLI says which targets were recorded
            continue
        out[target.name] = record_missing(source, calibrated)
    return out


def _observer_of(program, source_name: str):
    for node in program.graph.nodes:
        if _is_observer(node) and node.args[0].name == source_name:
            return program.get_submodule(node.target)
    raise KeyError(source_name)


def _is_observer(node) -> bool:
    return node.op == "call_module" and STATE_MARK in str(node.target)


def _source_index(program) -> tuple[dict[str, QParams], dict[frozenset, QParams]]:
    """Parameters of ``program``'s per-tensor activation observers, by observed node and by consumers."""
    by_node, by_users, seen = {}, {}, Counter()
    for node in program.graph.nodes:
        if not _is_observer(node) or node.args[0].op == "get_attr":
            continue
        users = frozenset(u.name for u in node.users)
        seen[users] += 1  # the input observers of one op share their consumers: ambiguous, left out
        scale, zero_point = _qparams(program.get_submodule(node.target))
        if scale is None or scale.numel() != 1:
            continue
        q = (float(scale), int(zero_point))
        by_node[node.args[0].name] = q
        by_users[users] = q
    return by_node, {users: q for users, q in by_users.items() if seen[users] == 1}


def _transfer_program(name: str, source, program, recorded: Mapping[str, QParams], report: TransferReport) -> None:
    """Fix ``program``'s observers in place (graph order, so a chained observer finds its source's)."""
    fixed_qparams = require("torchao.quantization.pt2e", extra="executorch", purpose="PT2E quantization")
    by_node, by_users = _source_index(source)
    done: dict[int, QParams] = {}  # id(observer module) -> parameters: shared observers are one module
    for node in program.graph.nodes:
        if not _is_observer(node):
            continue
        module = program.get_submodule(node.target)
        src = node.args[0]
        if id(module) in done:  # one observer shared by several tensors (a resize's input and output)
            report.shared += 1
            continue
        if isinstance(module, fixed_qparams.FixedQParamsObserver):  # the recipe's own (sigmoid outputs)
            report.fixed += 1
            done[id(module)] = (float(module.scale), int(module.zero_point))
            continue
        if src.op == "get_attr":  # a weight: its own values set its (per-channel) parameters
            with torch.no_grad():
                module(attr_tensor(program, src))
            report.weights += 1
            continue
        _check_int8(module, f"{name}/{src.name}")
        q, way = _find(name, node, src, program, by_node, by_users, recorded, done)
        if q is None:
            report.missing.append(f"{name}/{src.name}")
            continue
        setattr(report, way, getattr(report, way) + 1)
        done[id(_replace(program, module, q, fixed_qparams.FixedQParamsObserver))] = q


def _find(name, node, src, program, by_node, by_users, recorded, done) -> tuple[QParams | None, str]:
    if _is_observer(src) and id(program.get_submodule(src.target)) in done:
        return done[id(program.get_submodule(src.target))], "chained"
    if src.name in by_node:
        return by_node[src.name], "same_tensor"
    users = frozenset(u.name for u in node.users)
    if users in by_users:
        return by_users[users], "same_consumers"
    key = f"{name}/{src.name}"
    if key in recorded:
        return tuple(recorded[key]), "recorded"
    return None, ""


def _check_int8(module, where: str) -> None:
    if (getattr(module, "dtype", None), getattr(module, "quant_min", None), getattr(module, "quant_max", None)) != \
            (torch.int8, -128, 127) or getattr(module, "qscheme", None) != torch.per_tensor_affine:
        raise InputError(f"{where}: the target recipe's observer is not int8 [-128, 127] per-tensor affine; "
                         "parameters cannot carry over")


def _replace(program, module, q: QParams, fixed_cls):
    """Every attribute of ``program`` holding ``module`` (a shared observer) becomes one fixed observer
    (returned)."""
    fixed = fixed_cls(scale=q[0], zero_point=q[1], dtype=torch.int8, qscheme=torch.per_tensor_affine,
                      quant_min=-128, quant_max=127)
    for key, child in list(program.named_children()):
        if child is module:
            setattr(program, key, fixed)
    return fixed
