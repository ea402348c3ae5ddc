"""The tracker's options, and where their defaults come from: the weights they were tuned for.

A checkpoint's JSON (``<name>.json`` beside ``<name>.safetensors``) and a bundle's manifest carry a
``tracker`` section; :func:`tracker_defaults` reads it, so the bundled model, a user's own checkpoint
and an exported bundle each run with the options they were tuned with. Where none is recorded, the
paper's tracker applies (no keyframe bound, no locality window, full delta) with the variant's
score-generator schedule.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..metrics.calibration import logit_affine


@dataclass(frozen=True)
class TrackerConfig:
    """tau: reuse when P_gate > tau (tau <= 0 reuses every frame after an object's first, tau >= 1 never).

    keyframe_bound: at most this many consecutive reuse frames per object, then a computed frame
    (a drift guard the paper lacks); None = unbounded.
    locality_radius: on computed frames, zero the score outside the object's previous mask dilated by
    this many 1/16 cells (a host-side motion prior the paper lacks); None = off.
    delta_scale: the delta map is multiplied by this before it edits S and R on reuse frames (1 = the paper).
    update_every: refit the score generator's filter every this many computed frames of an object.
    learning_rate: weight of a new sample in the score generator's memory.
    gate_calibration: (a, b) with a > 0: the host reads P_gate as sigmoid(a * logit(P) + b) of the program's
    P, the map fitted so that P_gate matches the IoU of consecutive masks (``benchmarks/gate_calibration.py``);
    monotone, so it moves no decision that tau cannot; None = P as the program outputs it.
    """

    tau: float = 0.5
    keyframe_bound: int | None = None
    locality_radius: int | None = None
    delta_scale: float = 1.0
    update_every: int = 8
    learning_rate: float = 0.1
    gate_calibration: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not _number(self.tau) or not 0.0 <= self.tau <= 1.0:
            raise InputError(f"tau={self.tau!r}: expected a probability in [0, 1]")
        for name in ("keyframe_bound", "locality_radius"):
            value = getattr(self, name)
            if value is not None and (not _integer(value) or value < 0):
                raise InputError(f"{name}={value!r}: expected a non-negative integer or None")
        if not _number(self.delta_scale) or not 0.0 <= self.delta_scale <= 1.0:
            raise InputError(f"delta_scale={self.delta_scale!r}: expected a number in [0, 1]")
        if not _integer(self.update_every) or self.update_every < 1:
            raise InputError(f"update_every={self.update_every!r}: expected an integer >= 1")
        if not _number(self.learning_rate) or not 0.0 < self.learning_rate <= 1.0:
            raise InputError(f"learning_rate={self.learning_rate!r}: expected a number in (0, 1]")
        if self.gate_calibration is not None:
            cal = self.gate_calibration
            if (not isinstance(cal, (tuple, list)) or len(cal) != 2 or not all(map(_number, cal)) or cal[0] <= 0):
                raise InputError(f"gate_calibration={cal!r}: expected [a, b], two finite numbers with a > 0")
            object.__setattr__(self, "gate_calibration", (float(cal[0]), float(cal[1])))

    def gate_probability(self, p: float) -> float:
        """P_gate as the host reads the program's ``p`` (``gate_calibration`` applied)."""
        if self.gate_calibration is None:
            return p
        return logit_affine(p, *self.gate_calibration)

    def to_json(self) -> dict:
        """The options as a JSON object; ``gate_calibration`` only when set (earlier records lack the key)."""
        data = dataclasses.asdict(self)
        if data["gate_calibration"] is None:
            del data["gate_calibration"]
        else:
            data["gate_calibration"] = list(data["gate_calibration"])
        return data

    @classmethod
    def from_json(cls, data: dict, *, where: str) -> "TrackerConfig":
        """A config from a ``tracker`` JSON section; InputError names ``where`` for unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{where}: unknown tracker options {unknown}; known: {sorted(known)}")
        return cls(**data)

    def replace(self, **changes) -> "TrackerConfig":
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def bundle_tracker_config(manifest: dict, *, where: str) -> TrackerConfig:
    """The options a bundle's manifest carries (its ``tracker`` section; the paper's tracker without one)."""
    return TrackerConfig.from_json(manifest.get("tracker") or {}, where=where)


def tracker_defaults(model, *, checkpoint: str | Path | None = None, use_bundled: bool = True) -> TrackerConfig:
    """The options ``model``'s weights were tuned with: the ``tracker`` section of the checkpoint's JSON
    (``checkpoint``, else with ``use_bundled`` the variant's bundled checkpoint), else the paper's tracker
    with the variant's score-generator schedule."""
    from ..model.checkpoint import read_checkpoint_info
    from ..model.registry import default_checkpoint

    path = Path(checkpoint) if checkpoint is not None else None
    if path is None and use_bundled:
        path = default_checkpoint(model.config.name)
    section = read_checkpoint_info(path).get("tracker") if path is not None else None
    if section is not None:
        return TrackerConfig.from_json(section, where=f"checkpoint {path.with_suffix('.json')}")
    fit = model.config.fit
    return TrackerConfig(update_every=fit.update_every, learning_rate=fit.learning_rate)
