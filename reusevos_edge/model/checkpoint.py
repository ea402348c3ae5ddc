"""Strict checkpoint loading and saving (safetensors + a JSON config next to it)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import InputError
from ..fileio import atomic_write, write_json
from .config import HeadConfig
from .reusevos import BACKBONE_PREFIXES, ReuseVOS

RECORDED_HEAD_FIELDS = ("residual_bound", "gate", "gate_window")  # head fields a checkpoint's JSON sets


QUANT_PREFIX = "quant."  # int8 quantization state (``reusevos_edge.quant.programs``) in a QAT checkpoint


def save_checkpoint(model: ReuseVOS, path: str | Path, *, include_backbone: bool = False, extra: dict | None = None,
                    quantization: dict[str, torch.Tensor] | None = None) -> None:
    """Write ``path`` (.safetensors) and ``path.with_suffix('.json')`` (config + ``extra``) atomically.

    ``extra`` may hold ``tracker``: the tracker options these weights run with (``TrackerConfig.to_json()``).
    ``quantization``: int8 quantization state (``quant.<subgraph>.<buffer>``) stored beside the weights: a
    QAT checkpoint, which only an int8 export reads.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = model.state_dict() if include_backbone else model.head_state_dict()
    tensors = {k: v.detach().contiguous().clone() for k, v in state.items() if v.dtype != torch.long}
    tensors.update({k: v.contiguous() for k, v in (quantization or {}).items()})
    meta = {"variant": model.config.name, "quantized": "int8" if quantization else "no"}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))
    write_json(path.with_suffix(".json"), {"variant": model.config.name, "config": model.config.to_json(), **(extra or {})})


def read_checkpoint_info(path: str | Path) -> dict:
    """The JSON written beside checkpoint ``path`` (``<name>.json``); {} when there is none."""
    info_path = Path(path).with_suffix(".json")
    if not info_path.is_file():
        return {}
    try:
        info = json.loads(info_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"checkpoint info {info_path}: not valid JSON ({exc})") from None
    if not isinstance(info, dict):
        raise InputError(f"checkpoint info {info_path}: expected a JSON object")
    return info


def checkpoint_extra(path: str | Path | None) -> dict:
    """What ``save_checkpoint`` wrote beside ``path`` as ``extra`` (its JSON less ``variant`` and ``config``, which
    a new save writes afresh): the training record a derived checkpoint carries on; {} for None or no JSON."""
    if path is None:
        return {}
    return {k: v for k, v in read_checkpoint_info(path).items() if k not in ("variant", "config")}


def _read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    if not path.is_file():
        raise InputError(f"checkpoint {path}: no such file")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}
    except Exception as exc:  # safetensors raises several types for a corrupt header
        if path.suffix == ".safetensors":
            raise InputError(f"checkpoint {path}: not a readable safetensors file ({exc})") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"checkpoint {path}: not a safetensors or torch state-dict file ({exc})") from exc
    if not isinstance(state, dict):
        raise InputError(f"checkpoint {path}: expected a state dict of tensors, got {type(state).__name__}")
    return state, {}


def load_checkpoint(model: ReuseVOS, path: str | Path, *, quantized: bool = False) -> dict[str, torch.Tensor]:
    """Load ``path`` into ``model`` strictly; return its int8 quantization state ({} for a float checkpoint).

    Every head tensor must be present with the right shape and nothing unexpected may appear.
    Backbone tensors are all-or-nothing: absent keeps the backbone as built (ImageNet for lite0).
    A QAT checkpoint (quantization state inside) loads only with ``quantized`` (int8 export and training).
    The head fields recorded in its JSON are applied too: the decoder's reach (``config.head.residual_bound``)
    and the gate it was trained with (``config.head.gate``, ``gate_window``; built before the tensors load).
    """
    path = Path(path)
    tensors, meta = _read_tensors(path)
    head = _recorded_head(path)
    quant = {k: v for k, v in tensors.items() if k.startswith(QUANT_PREFIX)}
    if quant and not quantized:
        raise InputError(f"checkpoint {path} is an int8 QAT checkpoint (reusevos-train --qat): it is exported with "
                         "--precision int8 only; for fp32/fp16 pass the float checkpoint it was trained from (--init)")
    tensors = {k: v for k, v in tensors.items() if not k.startswith(QUANT_PREFIX)}
    # integer buffers (BatchNorm's num_batches_tracked) are neither saved nor required; a plain
    # torch.save(model.state_dict()) carries them, so drop them instead of calling them unexpected
    tensors = {k: v for k, v in tensors.items()
               if not (k.endswith("num_batches_tracked") and isinstance(v, torch.Tensor) and v.dtype == torch.long)}
    variant = meta.get("variant")
    if variant and variant != model.config.name:
        raise InputError(f"checkpoint {path}: made for model '{variant}', not '{model.config.name}'")
    if "gate" in head:
        model.set_gate(head["gate"], window=head.get("gate_window", HeadConfig.gate_window))
    expected = {k: v for k, v in model.state_dict().items() if v.dtype != torch.long}
    backbone = {k for k in expected if k.startswith(BACKBONE_PREFIXES)}
    required = set(expected) - backbone if not backbone & set(tensors) else set(expected)
    missing = sorted(required - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [f"{k}: {tuple(tensors[k].shape)} != {tuple(expected[k].shape)}"
             for k in required & set(tensors) if tensors[k].shape != expected[k].shape]
    broken = sorted(k for k in required & set(tensors)
                    if tensors[k].is_floating_point() and not bool(torch.isfinite(tensors[k]).all()))
    if broken:
        raise InputError(f"checkpoint {path}: tensors hold NaN or infinite values: {broken[:6]}; "
                         "the file is corrupt or training diverged")
    if missing or unexpected or wrong:
        parts = [f"missing keys {missing[:6]}" * bool(missing), f"unexpected keys {unexpected[:6]}" * bool(unexpected),
                 f"wrong shapes {wrong[:6]}" * bool(wrong)]
        raise InputError(f"checkpoint {path} does not fit model '{model.config.name}': " + "; ".join(p for p in parts if p))
    with torch.no_grad():
        for k in required:
            expected[k].copy_(tensors[k])
    if "residual_bound" in head:
        model.set_residual_bound(float(head["residual_bound"]))
    return quant


def _recorded_head(path: Path) -> dict:
    """The head fields a checkpoint's JSON may set (``config.head``: residual_bound, gate, gate_window),
    validated by HeadConfig's own rules; {} for a checkpoint that records none."""
    recorded = (read_checkpoint_info(path).get("config") or {}).get("head") or {}
    fields = {k: recorded[k] for k in RECORDED_HEAD_FIELDS if k in recorded}
    try:
        HeadConfig(**fields)
    except (ValueError, TypeError) as exc:
        raise InputError(f"checkpoint info {path.with_suffix('.json')}: config.head.{exc}") from None
    return fields


def read_quantization(path: str | Path) -> dict[str, torch.Tensor]:
    """The int8 quantization state stored in checkpoint ``path`` ({} for a float checkpoint)."""
    tensors, _ = _read_tensors(Path(path))
    return {k: v for k, v in tensors.items() if k.startswith(QUANT_PREFIX)}


def is_quantized(path: str | Path) -> bool:
    """Whether checkpoint ``path`` is a QAT checkpoint (holds int8 quantization state); reads the header only."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return False
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return any(k.startswith(QUANT_PREFIX) for k in f.keys())
    except Exception as exc:
        raise InputError(f"checkpoint {path}: not a readable safetensors file ({exc})") from exc
