"""The quantization-aware wrapper: every int8 subgraph of the contract as a PT2E-prepared program.

``QuantizedPrograms.prepare`` exports each subgraph the precision table marks int8 with
``torch.export`` and inserts the target quantizer's observers (torchao PT2E):

- the backbone (``backbone_low``, ``backbone_high``) with post-training observers (histograms),
  calibrated on real feeds and then frozen: it is never trained;
- the heads (``template_build``, ``match_gate``, ``refine_deep``, ``refine_translate``,
  ``refine_shallow``) with fake-quantize modules (``prepare_qat_pt2e``) when ``qat``; their weights are
  the float model's own parameters (shared, not copied), so training the prepared programs trains the
  model, and gradients pass the rounding straight through. Their BatchNorm layers run with frozen
  statistics (as in float training, ``TrainConfig.freeze_bn``) and are simulated folded into the
  preceding conv (PT2E's conv-bn QAT pattern), as ``convert_pt2e`` later folds them.

``convert`` turns every prepared program into the quantize/dequantize graph the target's int8 kernels
compute (biases on their int32 grid, :mod:`.integer_bias`): the PyTorch reference for parity and what
the exporters lower. ``state_dict`` holds only the quantization state (observer ranges, scales, zero
points), keyed ``quant.<subgraph>.<buffer>``; with the float model's weights it rebuilds the same
programs (:meth:`load_state_dict`), which is how a QAT checkpoint is exported without calibration data.
"""

from __future__ import annotations

import copy
import hashlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch

from ..errors import InputError, require
from ..model.checkpoint import QUANT_PREFIX as KEY_PREFIX
from ..model.subgraph import Subgraph
from ..targets import get_target
from . import integer_bias
from .precision import INT8_SUBGRAPHS, subgraph_precision

BACKBONE = ("backbone_low", "backbone_high")
QAT_HEADS = tuple(n for n in INT8_SUBGRAPHS if n not in BACKBONE)
STATE_MARK = "activation_post_process"  # PT2E names every observer / fake-quantize module so


def _pt2e():
    return require("torchao.quantization.pt2e.quantize_pt2e", extra="executorch", purpose="PT2E quantization")


@dataclass
class QuantizedPrograms:
    """Prepared (observed / fake-quantized) int8 programs of one contract, for one target's recipe.

    subgraphs: the float contract (all of it, float ones included); prepared: subgraph name ->
    prepared GraphModule (int8 subgraphs only); qat: whether the heads carry trainable fake quantization.
    """

    target: str
    subgraphs: list[Subgraph]
    prepared: dict[str, torch.fx.GraphModule]
    qat: bool

    @classmethod
    def prepare(cls, subgraphs: Sequence[Subgraph], *, target: str, qat: bool = False) -> "QuantizedPrograms":
        """Export and instrument every int8 subgraph with ``target``'s quantizer (see the module doc)."""
        tgt = get_target(target)
        prepared = {}
        for sg in subgraphs:
            if subgraph_precision(sg.name, "int8") != "int8":
                continue
            head_qat = qat and sg.name in QAT_HEADS
            prepared[sg.name] = prepare_program(sg, tgt.load_quantizer(qat=head_qat), qat=head_qat)
        return cls(target=target, subgraphs=list(subgraphs), prepared=prepared, qat=qat)

    def calibrate(self, feeds: Mapping[str, Sequence[Mapping]]) -> "QuantizedPrograms":
        """Run every program on its calibration feeds (dicts of arrays by input name) to set its ranges."""
        by_name = {sg.name: sg for sg in self.subgraphs}
        with torch.no_grad():
            for name, program in self.prepared.items():
                if not feeds.get(name):
                    raise InputError(f"subgraph {name!r}: no calibration feeds; the calibration clips never ran it")
                for feed in feeds[name]:
                    program(*(torch.from_numpy(feed[spec.name]) for spec in by_name[name].inputs))
        return self

    def head_parameters(self) -> list[torch.nn.Parameter]:
        """The trainable weights of the fake-quantized heads (the float model's own parameters)."""
        seen, params = set(), []
        for name in QAT_HEADS:
            for p in self.prepared[name].parameters():
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def heads(self) -> dict[str, Callable]:
        """subgraph name -> callable(*inputs) -> tuple of outputs, for the training unroll."""
        return {name: self.prepared[name] for name in QAT_HEADS}

    def backbone(self, *, lowered_in: Path | None = None) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
        """The converted int8 backbone as a feature extractor: Bx3xHxW -> (f4, f8, f16, f32), one frame
        at a time (the programs have the contract's batch of 1); the backbone's observers freeze first
        (the heads' keep following their ranges until :meth:`freeze_observers`).

        lowered_in: a folder: the converted programs are lowered there with the ExecuTorch exporter
        and run by ExecuTorch's runtime (XNNPACK's int8 kernels take the ops of its own recipe, the one
        QAT uses; the portable kernels run anything else, with the same numbers): caching
        the 30 DAVIS train sequences for lite0 QAT then takes minutes, not the ~50 min of PyTorch
        running their quantize/dequantize graph; the features are the ones the exported bundle
        computes, not their PyTorch reference (within the bundle parity floors). Default: PyTorch
        runs the converted programs.
        """
        self.freeze_observers(names=BACKBONE)
        low, high = (integer_bias.convert(copy.deepcopy(self.prepared[n])) for n in BACKBONE)
        if lowered_in is not None:
            low, high = _lowered(self, low, high, Path(lowered_in))

        def run(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            frames = []
            for i in range(x.shape[0]):
                f4, f8 = low(x[i : i + 1])
                frames.append((f4, f8, *high(f8)))
            return tuple(torch.cat(parts) for parts in zip(*frames))
        return run

    def backbone_tag(self, *, lowered: bool = False) -> str:
        """A digest of the backbone's quantization state (names cached int8 features); ``lowered``: of
        features computed by the lowered programs (:meth:`backbone` ``lowered_in``)."""
        h = hashlib.sha256(self.target.encode() + (b"-lowered" if lowered else b""))
        for key, value in sorted(self.state_dict().items()):
            if key.startswith(tuple(f"{KEY_PREFIX}{n}." for n in BACKBONE)):
                h.update(key.encode())
                h.update(value.float().contiguous().numpy().tobytes())
        return "int8-" + h.hexdigest()[:12]

    def freeze_observers(self, *, names: Sequence[str] | None = None) -> None:
        """Stop range updates of programs ``names`` (default all): their scales and zero points stay as they are."""
        disable = require("torchao.quantization.pt2e", extra="executorch", purpose="PT2E quantization").disable_observer
        for name in names or self.prepared:
            self.prepared[name].apply(disable)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The quantization state of every program, ``quant.<subgraph>.<buffer>`` (weights excluded)."""
        return {f"{KEY_PREFIX}{name}.{key}": value.detach().clone()
                for name, program in self.prepared.items()
                for key, value in program.state_dict().items() if STATE_MARK in key}

    def load_state_dict(self, tensors: Mapping[str, torch.Tensor], *, source: str) -> None:
        """Load :meth:`state_dict` output; every program's state must be there, nothing else."""
        expected = self.state_dict()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(k for k in tensors if k.startswith(KEY_PREFIX) and k not in expected)
        if missing or unexpected:
            raise InputError(f"{source}: its quantization parameters do not fit the {self.target} int8 recipe of this "
                             f"model (missing {missing[:3]}, unexpected {unexpected[:3]})")
        for name, program in self.prepared.items():
            prefix = f"{KEY_PREFIX}{name}."
            state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            program.load_state_dict(state, strict=False)  # resizes the per-channel buffers
            with torch.no_grad():  # and some observers' loaders skip ``eps``: copy every buffer as saved
                for key, value in state.items():
                    program.get_buffer(key).copy_(value)

    def convert(self) -> list[Subgraph]:
        """The contract with every int8 subgraph converted (quantize/dequantize graph); observers frozen."""
        self.freeze_observers()
        out = []
        for sg in self.subgraphs:
            if sg.name in self.prepared:
                module = integer_bias.convert(copy.deepcopy(self.prepared[sg.name]))
                sg = dataclasses.replace(sg, module=module)
            out.append(sg)
        return out

    def activation_scales(self) -> dict[str, dict[str, list[float]]]:
        """Per program, the per-tensor activation (scale, zero point) pairs: the JSON record of a checkpoint."""
        record = {}
        for name, program in self.prepared.items():
            pairs = {}
            for key, module in program.named_children():
                if STATE_MARK not in key:
                    continue
                scale, zero_point = _qparams(module)
                if scale is not None and scale.numel() == 1:
                    pairs[key] = [round(float(scale), 9), int(zero_point)]
            record[name] = pairs
        return record


def _lowered(programs: QuantizedPrograms, low, high, folder: Path) -> tuple[Callable, Callable]:
    """``low`` and ``high`` (converted backbone programs) as ExecuTorch methods of ``folder/model.pte``."""
    runtime = require("executorch.runtime", extra="executorch", purpose="running the int8 backbone")
    from ..converters.executorch_export import PTE_NAME, export_executorch

    by_name = {sg.name: sg for sg in programs.subgraphs}
    folder.mkdir(parents=True, exist_ok=True)
    export_executorch([dataclasses.replace(by_name[n], module=m) for n, m in zip(BACKBONE, (low, high))], folder,
                      precision="int8", image_codes=False)  # fed the training cache's float frames
    program = runtime.Runtime.get().load_program(folder / PTE_NAME)
    methods = [program.load_method(n) for n in BACKBONE]
    return tuple((lambda *xs, m=m: tuple(t.clone() for t in m.execute(list(xs)))) for m in methods)


def _qparams(module) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(scale, zero_point) of an observer or fake-quantize module; (None, None) before any data."""
    if hasattr(module, "scale") and hasattr(module, "zero_point"):
        return module.scale, module.zero_point
    try:
        return module.calculate_qparams()
    except Exception:  # an observer that saw nothing
        return None, None


def prepare_program(sg: Subgraph, quantizer, *, qat: bool) -> torch.fx.GraphModule:
    """``sg`` exported and instrumented by ``quantizer`` (fake quantization when ``qat``), its BatchNorm /
    dropout ops in eval mode (frozen statistics); observers update until they are disabled."""
    pt2e = _pt2e()
    graph = torch.export.export(sg.module.eval(), sg.example_inputs()).module()
    program = (pt2e.prepare_qat_pt2e if qat else pt2e.prepare_pt2e)(graph, quantizer)
    require("torchao.quantization.pt2e", extra="executorch", purpose="PT2E quantization").move_exported_model_to_eval(
        program)
    return program
