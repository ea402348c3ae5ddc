"""Per-object tracker state and per-frame records, as dataclasses (numpy arrays, NCHW float32)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SampleMemory:
    """Fixed slots for the score-generator update: the first ``num_init`` hold the first frame's copies and are never replaced.

    feats MxPxhxw, labels Mx1xhxw, weights M (0 = empty slot).
    """

    feats: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    num_init: int

    @classmethod
    def from_init(cls, *, feats: np.ndarray, labels: np.ndarray, slots: int) -> "SampleMemory":
        a = feats.shape[0]
        if slots <= a:
            raise ValueError(f"memory_slots={slots} must exceed the {a} first-frame copies")
        mem = cls(feats=np.zeros((slots, *feats.shape[1:]), np.float32), labels=np.zeros((slots, *labels.shape[1:]), np.float32),
                  weights=np.zeros(slots, np.float32), num_init=a)
        mem.feats[:a], mem.labels[:a], mem.weights[:a] = feats, labels, 1.0 / a
        return mem

    def add(self, *, feat: np.ndarray, label: np.ndarray, learning_rate: float) -> int:
        """Decay the non-initial weights, put the sample in the lowest-weight replaceable slot; returns the slot."""
        rest = self.weights[self.num_init:]
        rest *= 1.0 - learning_rate
        slot = self.num_init + int(np.argmin(rest))
        self.feats[slot], self.labels[slot], self.weights[slot] = feat[0], label[0], learning_rate
        return slot


@dataclass
class ObjectState:
    """Everything the tracker keeps for one object between frames.

    template 1xTxT; score (S, last computed frame) 1x1xh16xw16; refined (R) 1xCxh16xw16;
    proj_w PxC16x1x1 and filter_w 1xPx3x3 (its score generator); memory of past samples;
    last_mask16 1x1xh16xw16 the coverage of the last frame's mask (for the locality window).
    """

    obj_id: int
    template: np.ndarray
    score: np.ndarray
    refined: np.ndarray
    proj_w: np.ndarray
    filter_w: np.ndarray
    memory: SampleMemory
    first_frame: int
    last_mask16: np.ndarray | None = None
    consecutive_reuse: int = 0
    computed_frames: int = 0
    reused_frames: int = 0


@dataclass(frozen=True)
class ObjectRecord:
    """One object's outcome on one frame: decision is 'init', 'compute' or 'reuse'.

    forced: what made a frame computed although the gate said reuse ("keyframe_bound"), else None.
    """

    p_gate: float | None
    decision: str
    forced: str | None = None

    def to_json(self) -> dict:
        return {"p_gate": self.p_gate, "decision": self.decision, "forced": self.forced}


@dataclass
class FrameRecord:
    """What happened on one frame: per-object gate and decision, and the subgraphs that ran, in order."""

    index: int
    objects: dict[int, ObjectRecord] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"frame": self.index, "objects": {str(k): v.to_json() for k, v in sorted(self.objects.items())},
                "ran": list(self.ran)}


@dataclass
class FrameResult:
    """labels: HxW uint8 object ids at the input frame size; probs: per object HxW float32 in [0, 1]."""

    labels: np.ndarray
    probs: dict[int, np.ndarray]
    record: FrameRecord
