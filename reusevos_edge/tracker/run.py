"""The one tracking loop: a :class:`~reusevos_edge.data.clip.Clip` through a tracker, frame by frame.

``track_clip`` resets the tracker, adds each object on the frame it starts, times every step and
hands each result to an optional callback (the CLI writes PNGs and the overlay there). Decision
counts and the reuse rate come from the frame records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
from tqdm import tqdm

from ..data.clip import Clip
from ..errors import InputError
from .state import FrameRecord, FrameResult
from .tracker import Tracker


@dataclass
class TrackedClip:
    """labels: per frame HxW uint8 ids (empty unless kept); records: per frame; seconds: per tracker step."""

    labels: list[np.ndarray] = field(default_factory=list)
    records: list[FrameRecord] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.seconds))

    @property
    def fps(self) -> float | None:
        total = self.total_seconds
        return len(self.records) / total if total > 0 else None


def track_clip(tracker: Tracker, clip: Clip, *, keep_labels: bool = True, progress: bool = False,
               on_frame: Callable[[int, np.ndarray, FrameResult], None] | None = None) -> TrackedClip:
    """Track every frame of ``clip`` from a reset tracker; ``on_frame(index, frame, result)`` after each step."""
    tracker.reset()
    out = TrackedClip()
    frames = tqdm(clip.frames, total=clip.frame_count, desc=clip.name, unit="frame", leave=False,
                  disable=not progress)
    for index, frame in enumerate(frames):
        start = time.perf_counter()
        result = tracker.step(frame, new_masks=clip.starts.get(index))
        out.seconds.append(time.perf_counter() - start)
        out.records.append(result.record)
        if keep_labels:
            out.labels.append(result.labels)
        if on_frame is not None:
            on_frame(index, frame, result)
    if len(out.records) != clip.frame_count:
        raise InputError(f"{clip.source or clip.name}: {clip.frame_count} frames expected, {len(out.records)} read")
    return out


DECISIONS = ("init", "compute", "reuse")


def decision_counts(records: Iterable[FrameRecord]) -> dict[str, int]:
    """How many object-frames were 'init', 'compute' and 'reuse', and how many computes the keyframe bound forced."""
    counts = dict.fromkeys((*DECISIONS, "forced"), 0)
    for record in records:
        for obj in record.objects.values():
            counts[obj.decision] += 1
            counts["forced"] += obj.forced is not None
    return counts


def reuse_rate(counts: dict[str, int]) -> float | None:
    """Share of gate decisions (object-frames after an object's first) that reused; None without any."""
    gated = counts["reuse"] + counts["compute"]
    return counts["reuse"] / gated if gated else None
