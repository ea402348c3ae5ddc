"""Track one DAVIS sequence and score it the official way (the body of ``reusevos-eval`` and the tau sweep)."""

from __future__ import annotations

import numpy as np

from ..data.clip import sequence_clip
from ..data.davis import Sequence
from ..data.masks_io import split_void
from ..errors import InputError
from ..tracker.run import TrackedClip, decision_counts, track_clip
from .jf import evaluate_sequence
from .report import ObjectResult, SequenceResult


def evaluate_one(tracker, seq: Sequence, *, progress: bool = True) -> SequenceResult:
    """Track and score one sequence (void pixels, id 255, left out of J and F)."""
    return track_and_score(tracker, seq, progress=progress)[0]


def track_and_score(tracker, seq: Sequence, *, progress: bool = True) -> tuple[SequenceResult, TrackedClip]:
    """:func:`evaluate_one`, also returning the run itself (per-frame records and step times)."""
    raw = seq.load_masks()
    gt, void = split_void(raw)
    tracked = track_clip(tracker, sequence_clip(seq, gt=raw), progress=progress)
    labels = np.stack(tracked.labels)
    if labels.shape != gt.shape:
        raise InputError(f"sequence {seq.name}: frames are {labels.shape[1:]} but annotations {gt.shape[1:]}")
    scores = evaluate_sequence(labels, gt, void=void if void.any() else None)
    counts = decision_counts(tracked.records)
    result = SequenceResult(
        name=seq.name, objects=tuple(ObjectResult.from_scores(s) for s in scores), num_frames=len(seq),
        seconds=tracked.total_seconds, reused=counts["reuse"], gated=counts["reuse"] + counts["compute"],
        first_seconds=tracked.seconds[0] if tracked.seconds else 0.0,
    )
    return result, tracked
