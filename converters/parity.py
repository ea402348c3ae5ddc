"""Parity of an exported bundle with PyTorch eager, measured through the real tracker.

Both runners track the same clip (``reusevos_edge.data.clip.parity_clip``) with the same tracker
options. Pass when the mean mask IoU against the eager masks is at least ``MIN_MEAN_IOU`` and the
per-object decisions agree on at least ``MIN_GATE_AGREEMENT`` of the (object, frame) pairs. On
failure every subgraph is run by both runners on the same feeds (recorded from the eager run) and
the drift (max abs / max relative error per output) says which subgraph diverged.

A bundle compared with a PyTorch model must hold that model's weights: the manifest's
``weights_sha256`` is checked first and a mismatch raises WeightsMismatchError (comparing other
weights would measure nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from reusevos_edge.bench.schema import trimmed_mean
from reusevos_edge.data.clip import Clip
from reusevos_edge.metrics.jf import jaccard
from reusevos_edge.quant.image_codes import feeds_for
from reusevos_edge.runtime.base import RecordingRunner
from reusevos_edge.tracker.run import TrackedClip, decision_counts, track_clip
from reusevos_edge.tracker.tracker import Tracker

MIN_MEAN_IOU = 0.99
MIN_GATE_AGREEMENT = 0.99


@dataclass(frozen=True)
class Floors:
    """The pass marks: mean mask IoU and gate agreement against the reference."""

    mean_iou: float
    gate_agreement: float


FP32_FLOORS = Floors(MIN_MEAN_IOU, MIN_GATE_AGREEMENT)
INT8_FLOORS = Floors(0.98, 0.98)  # an int8 bundle against its fake-quantized PyTorch programs
# Below this mean IoU against a clip's own masks the reference's masks are too uncertain for a failed
# parity to say much about the conversion: a failure then says so (the bundled lite0 fp32 tracks the
# synthetic parity clip at 0.73, DAVIS blackswan's first 20 frames at 0.86).
UNCERTAIN_REFERENCE_IOU = 0.8


class ParityError(RuntimeError):
    """A bundle's tracking results differ from PyTorch eager beyond the named floors."""


def mean_iou(got: TrackedClip, ref: TrackedClip) -> float:
    """Mean over frames and object ids of the IoU between the two runs' label maps."""
    iou = _labels_iou(got.labels, ref.labels)
    return 1.0 if iou is None else iou


def truth_iou(run: TrackedClip, truth: np.ndarray | None) -> float | None:
    """:func:`mean_iou` of ``run``'s label maps against ``truth`` (NxHxW ids), None without truth."""
    return None if truth is None else _labels_iou(run.labels, truth)


def _labels_iou(got, ref) -> float | None:
    """Mean over paired label maps and the object ids either shows of their IoU; None with no object."""
    ious = [jaccard(g == obj, r == obj) for g, r in zip(got, ref)
            for obj in (set(np.unique(r).tolist()) | set(np.unique(g).tolist())) - {0}]
    return float(np.mean(ious)) if ious else None


def gate_agreement(got: TrackedClip, ref: TrackedClip) -> float:
    """Share of (frame, object) pairs with the same decision ('init' frames included)."""
    pairs = [(g.objects.get(k), v) for g, r in zip(got.records, ref.records) for k, v in r.objects.items()]
    return float(np.mean([a is not None and a.decision == b.decision for a, b in pairs])) if pairs else 1.0


def max_p_gate_diff(got: TrackedClip, ref: TrackedClip) -> float:
    """Largest |P_gate| difference over (frame, object) pairs where both runs evaluated the gate."""
    diffs = [abs(g.objects[k].p_gate - v.p_gate) for g, r in zip(got.records, ref.records)
             for k, v in r.objects.items() if v.p_gate is not None and k in g.objects and g.objects[k].p_gate is not None]
    return float(max(diffs)) if diffs else 0.0


@dataclass
class SubgraphDrift:
    """Largest difference of one output between two runners on the same feeds."""

    subgraph: str
    output: str
    max_abs: float
    max_rel: float


@dataclass
class ParityReport:
    """Tracking parity of a bundle against eager, with timings (ms per frame, init frame excluded)."""

    clip: str
    frames: int
    mean_iou: float
    gate_agreement: float
    ms_per_frame: float
    reference_ms_per_frame: float
    max_p_gate_diff: float = 0.0
    decisions: dict[str, int] = field(default_factory=dict)
    drift: list[SubgraphDrift] = field(default_factory=list)
    floors: Floors = FP32_FLOORS
    reference_truth_iou: float | None = None  # the reference run against the clip's own masks, where known

    @property
    def passed(self) -> bool:
        return self.mean_iou >= self.floors.mean_iou and self.gate_agreement >= self.floors.gate_agreement

    def summary(self) -> str:
        text = (f"{self.clip} ({self.frames} frames): mean IoU {self.mean_iou:.4f} (min {self.floors.mean_iou}), "
                f"gate agreement {self.gate_agreement:.4f} (min {self.floors.gate_agreement}), "
                f"max |P_gate diff| {self.max_p_gate_diff:.1e}, eager decisions {self.decisions}")
        worst = sorted(self.drift, key=lambda d: d.max_rel, reverse=True)[:5]
        if worst:
            text += "; largest drift: " + ", ".join(
                f"{d.subgraph}.{d.output} abs {d.max_abs:.2e} rel {d.max_rel:.2e}" for d in worst)
        if self.reference_truth_iou is not None and self.reference_truth_iou < UNCERTAIN_REFERENCE_IOU:
            text += (f"; the PyTorch reference itself tracks this clip's objects at mean IoU "
                     f"{self.reference_truth_iou:.2f} against the clip's own masks: where its masks are that "
                     "uncertain, small numeric differences move them (a real clip: --davis ROOT)")
        return text

    def to_json(self) -> dict:
        return {"clip": self.clip, "frames": self.frames, "mean_iou": self.mean_iou,
                "gate_agreement": self.gate_agreement, "passed": self.passed,
                "max_p_gate_diff": self.max_p_gate_diff, "decisions": self.decisions,
                "ms_per_frame": self.ms_per_frame, "reference_ms_per_frame": self.reference_ms_per_frame,
                "drift": [vars(d) for d in self.drift], "floors": vars(self.floors),
                "reference_truth_iou": self.reference_truth_iou}


def compare_subgraphs(runner, reference, feeds: Mapping[str, Mapping[str, np.ndarray]]) -> list[SubgraphDrift]:
    """Run every recorded subgraph through both runners on the same feeds; drift per output."""
    drift = []
    for name, inputs in feeds.items():
        got, ref = runner.run(name, feeds_for(runner.subgraphs[name], inputs)), reference.run(name, inputs)
        for out, expected in ref.items():
            err = np.abs(got[out].astype(np.float64) - expected)
            scale = max(float(np.abs(expected).max()), 1e-12)
            drift.append(SubgraphDrift(name, out, float(err.max()), float(err.max()) / scale))
    return drift


def check_same_weights(runner, reference, *, checkpoint: str | Path | None = None) -> None:
    """Raise WeightsMismatchError when ``runner`` is a bundle and ``reference`` a PyTorch model with other weights.

    ``checkpoint``: where the reference's weights came from, for the message. Runners without a
    manifest (eager, test doubles) or references without a model are not checked.
    """
    from reusevos_edge.model.fingerprint import check_bundle_weights

    manifest, model = getattr(runner, "manifest", None), getattr(reference, "model", None)
    if manifest is None or model is None:
        return
    check_bundle_weights(manifest, model, bundle=getattr(runner, "bundle_dir", None), checkpoint=checkpoint,
                         missing_ok=True)


def measure_parity(runner, reference, clip: Clip, config, *, checkpoint: str | Path | None = None,
                   floors: Floors = FP32_FLOORS) -> ParityReport:
    """Track ``clip`` (its frames listed, so both runs see them) with both runners; on failure attach drift.

    Raises WeightsMismatchError first if the bundle's manifest fingerprint is not the reference
    model's (``checkpoint`` names where the reference's weights came from).
    """
    check_same_weights(runner, reference, checkpoint=checkpoint)
    recorder = RecordingRunner(reference)
    ref_run = track_clip(Tracker(runner=recorder, config=config), clip)
    got_run = track_clip(Tracker(runner=runner, config=config), clip)
    report = ParityReport(clip.name, clip.frame_count, mean_iou(got_run, ref_run), gate_agreement(got_run, ref_run),
                          1e3 * trimmed_mean(got_run.seconds[1:]), 1e3 * trimmed_mean(ref_run.seconds[1:]),
                          max_p_gate_diff(got_run, ref_run), decision_counts(ref_run.records), floors=floors,
                          reference_truth_iou=truth_iou(ref_run, clip.truth))
    if not report.passed:
        report.drift = compare_subgraphs(runner, reference, recorder.feeds)
    return report


def check_parity(runner, reference, clip: Clip, config, *, checkpoint: str | Path | None = None) -> ParityReport:
    """:func:`measure_parity`, raising ParityError (naming the drifting subgraphs) on failure."""
    report = measure_parity(runner, reference, clip, config, checkpoint=checkpoint)
    if not report.passed:
        raise ParityError(f"bundle does not match PyTorch eager: {report.summary()}")
    return report
