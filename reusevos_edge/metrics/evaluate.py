"""Track one DAVIS sequence and score it the official way (the body of ``reusevos-eval`` and the tau sweep)."""

from __future__ import annotations

import numpy as np

from ..data.clip import sequence_clip
from ..data.davis import Sequence
from ..data.masks_io import split_void
from ..errors import InputError
from ..tracker.run import TrackedClip, decision_counts, track_clip
from ..tracker.tracker import Tracker
from .jf import evaluate_sequence, jaccard
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


def gate_pairs(runner, config, seq) -> tuple[np.ndarray, np.ndarray]:
    """(the program's P_gate, IoU of the ground truth with the previous frame's) for every gated
    object-frame of ``seq``, tracked by ``runner`` with ``config`` at tau 1 and without a calibration map."""
    raw = Tracker(runner=runner, config=config.replace(tau=1.0, gate_calibration=None))
    gt, void = split_void(seq.load_masks())
    run = track_clip(raw, sequence_clip(seq), keep_labels=False)
    p, iou = [], []
    for t, record in enumerate(run.records):
        for obj_id, obj in record.objects.items():
            if obj.p_gate is None:
                continue
            p.append(obj.p_gate)
            iou.append(jaccard(gt[t] == obj_id, gt[t - 1] == obj_id, void=void[t] | void[t - 1]))
    return np.asarray(p), np.asarray(iou)
