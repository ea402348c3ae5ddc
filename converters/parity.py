"""Parity of an exported bundle with PyTorch eager, measured through the real tracker.

Both runners track the same clip with the same tau and keyframe bound. Pass when the mean mask
IoU against the eager masks is at least ``MIN_MEAN_IOU`` and the per-object reuse decisions
agree on at least ``MIN_GATE_AGREEMENT`` of the tracked (object, frame) pairs. On failure every
subgraph is run by both runners on the same feeds (recorded from the eager run) and the drift
(max abs / max relative error per output) says which subgraph diverged.

The clip is a DAVIS 2016 480p val sequence (``../shared/data/davis2016`` next to the repo, resized
to the bundle frame size) when that data exists, else a synthetic clip.

A bundle compared with a PyTorch model must hold that model's weights: the manifest's
``weights_sha256`` is checked first and a mismatch raises WeightsMismatchError (comparing other
weights would measure nothing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

MIN_MEAN_IOU = 0.99
MIN_GATE_AGREEMENT = 0.99
DEFAULT_SEQUENCE = "blackswan"
DEFAULT_FRAMES = 20
DAVIS_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "davis2016"


class ParityError(RuntimeError):
    """A bundle's tracking results differ from PyTorch eager beyond the named floors."""


@dataclass
class Clip:
    """frames: list of HxWx3 uint8 RGB; first_mask: HxW bool (object id 1 on frame 0)."""

    name: str
    frames: list[np.ndarray]
    first_mask: np.ndarray


def load_clip(*, height: int, width: int, num_frames: int = DEFAULT_FRAMES,
              sequence: str = DEFAULT_SEQUENCE, davis_root: Path | None = DAVIS_ROOT) -> Clip:
    """The DAVIS sequence resized to ``height`` x ``width`` if present, else a synthetic clip."""
    if davis_root is not None and (Path(davis_root) / "JPEGImages" / "480p" / sequence).is_dir():
        from reusevos_edge.data.davis import DavisDataset

        seq = DavisDataset(root=davis_root, res="480p").sequence(sequence)
        count = min(num_frames, len(seq))
        frames = [cv2.resize(seq.load_frame(i), (width, height), interpolation=cv2.INTER_AREA) for i in range(count)]
        mask = cv2.resize(seq.load_mask(0).astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        return Clip(f"davis2016/{sequence}", frames, mask > 0)
    from reusevos_edge.data.synthetic import make_clip

    frames, masks = make_clip(num_frames=num_frames, height=height, width=width, num_objects=1, seed=0)
    return Clip("synthetic", list(frames), masks[0] == 1)


class RecordingRunner:
    """Delegates to ``inner`` and keeps the first feeds seen by each subgraph."""

    def __init__(self, inner) -> None:
        self.inner, self.subgraphs = inner, inner.subgraphs
        self.update_every, self.learning_rate = inner.update_every, inner.learning_rate
        self.feeds: dict[str, dict[str, np.ndarray]] = {}

    def run(self, name: str, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.feeds.setdefault(name, {k: np.array(v, copy=True) for k, v in feeds.items()})
        return self.inner.run(name, feeds)


@dataclass
class TrackRun:
    """Per frame: labels HxW uint8, decisions {obj: 'init'|'compute'|'reuse'}, p_gate, seconds."""

    labels: list[np.ndarray] = field(default_factory=list)
    decisions: list[dict[int, str]] = field(default_factory=list)
    p_gates: list[dict[int, float | None]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def track(runner, clip: Clip, config) -> TrackRun:
    """Run the tracker over ``clip`` (object 1 initialised on frame 0), timing every step."""
    from reusevos_edge.tracker.tracker import Tracker

    tracker, run = Tracker(runner=runner, config=config), TrackRun()
    for index, frame in enumerate(clip.frames):
        start = time.perf_counter()
        result = tracker.step(frame, {1: clip.first_mask} if index == 0 else None)
        run.seconds.append(time.perf_counter() - start)
        run.labels.append(result.labels)
        run.decisions.append({k: o.decision for k, o in result.record.objects.items()})
        run.p_gates.append({k: o.p_gate for k, o in result.record.objects.items()})
    return run


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks; 1.0 when both are empty."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def mean_iou(got: TrackRun, ref: TrackRun) -> float:
    """Mean over frames and object ids of the IoU between the two runs' label maps."""
    ious = [mask_iou(g == obj, r == obj) for g, r in zip(got.labels, ref.labels)
            for obj in (set(np.unique(r).tolist()) | set(np.unique(g).tolist())) - {0}]
    return float(np.mean(ious)) if ious else 1.0


def gate_agreement(got: TrackRun, ref: TrackRun) -> float:
    """Share of (frame, object) pairs with the same decision ('init' frames included)."""
    pairs = [(g.get(k), v) for g, r in zip(got.decisions, ref.decisions) for k, v in r.items()]
    return float(np.mean([a == b for a, b in pairs])) if pairs else 1.0


def max_p_gate_diff(got: TrackRun, ref: TrackRun) -> float:
    """Largest |P_gate| difference over (frame, object) pairs where both runs evaluated the gate."""
    diffs = [abs(g[k] - v) for g, r in zip(got.p_gates, ref.p_gates) for k, v in r.items()
             if v is not None and g.get(k) is not None]
    return float(max(diffs)) if diffs else 0.0


def decision_counts(run: TrackRun) -> dict[str, int]:
    """How many (frame, object) pairs were 'init', 'compute' and 'reuse'."""
    counts: dict[str, int] = {}
    for frame in run.decisions:
        for decision in frame.values():
            counts[decision] = counts.get(decision, 0) + 1
    return counts


def trimmed_mean(values, *, keep: float = 0.8) -> float:
    """Mean of the middle ``keep`` share of ``values`` (ExecuTorch minibench's trimmed mean)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    cut = int(len(ordered) * (1.0 - keep) / 2)
    return float(ordered[cut:len(ordered) - cut].mean()) if len(ordered) else float("nan")


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

    @property
    def passed(self) -> bool:
        return self.mean_iou >= MIN_MEAN_IOU and self.gate_agreement >= MIN_GATE_AGREEMENT

    def summary(self) -> str:
        text = (f"{self.clip} ({self.frames} frames): mean IoU {self.mean_iou:.4f} (min {MIN_MEAN_IOU}), "
                f"gate agreement {self.gate_agreement:.4f} (min {MIN_GATE_AGREEMENT}), "
                f"max |P_gate diff| {self.max_p_gate_diff:.1e}, eager decisions {self.decisions}")
        worst = sorted(self.drift, key=lambda d: d.max_rel, reverse=True)[:5]
        if worst:
            text += "; largest drift: " + ", ".join(
                f"{d.subgraph}.{d.output} abs {d.max_abs:.2e} rel {d.max_rel:.2e}" for d in worst)
        return text

    def to_json(self) -> dict:
        return {"clip": self.clip, "frames": self.frames, "mean_iou": self.mean_iou,
                "gate_agreement": self.gate_agreement, "passed": self.passed,
                "max_p_gate_diff": self.max_p_gate_diff, "decisions": self.decisions,
                "ms_per_frame": self.ms_per_frame, "reference_ms_per_frame": self.reference_ms_per_frame,
                "drift": [vars(d) for d in self.drift]}


def compare_subgraphs(runner, reference, feeds: Mapping[str, Mapping[str, np.ndarray]]) -> list[SubgraphDrift]:
    """Run every recorded subgraph through both runners on the same feeds; drift per output."""
    drift = []
    for name, inputs in feeds.items():
        got, ref = runner.run(name, inputs), reference.run(name, inputs)
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


def measure_parity(runner, reference, clip: Clip, config, *, checkpoint: str | Path | None = None) -> ParityReport:
    """Track ``clip`` with both runners; on failure attach per-subgraph drift.

    Raises WeightsMismatchError first if the bundle's manifest fingerprint is not the reference
    model's (``checkpoint`` names where the reference's weights came from).
    """
    check_same_weights(runner, reference, checkpoint=checkpoint)
    recorder = RecordingRunner(reference)
    ref_run, got_run = track(recorder, clip, config), track(runner, clip, config)
    report = ParityReport(clip.name, len(clip.frames), mean_iou(got_run, ref_run), gate_agreement(got_run, ref_run),
                          1e3 * trimmed_mean(got_run.seconds[1:]), 1e3 * trimmed_mean(ref_run.seconds[1:]),
                          max_p_gate_diff(got_run, ref_run), decision_counts(ref_run))
    if not report.passed:
        report.drift = compare_subgraphs(runner, reference, recorder.feeds)
    return report


def check_parity(runner, reference, clip: Clip, config, *, checkpoint: str | Path | None = None) -> ParityReport:
    """:func:`measure_parity`, raising ParityError (naming the drifting subgraphs) on failure."""
    report = measure_parity(runner, reference, clip, config, checkpoint=checkpoint)
    if not report.passed:
        raise ParityError(f"bundle does not match PyTorch eager: {report.summary()}")
    return report
