"""Tau calibrated to the device: sweep tau and the keyframe bound on training sequences with the bundle
on the runtime being benchmarked, pick the setting that meets a reuse target or a latency budget with
the best J&F, and write it into the bundle's manifest (checksums renewed).

The sweep uses training sequences only (default ``train-holdout``): the val sequences are for the
final report. Latency here is the steady per-frame latency: the mean tracker step over the frames
after each sequence's first (whose first-frame fit is paid once per object, not per frame), as
``reusevos-bench`` and ``reusevos-eval``'s ``ms_per_frame`` count it, on this host's runtime; on a
phone the same sweep would have to run in the app.

A setting's latency is not its own pass's clock: settings run minutes apart and a shared machine
drifts by more than what separates them (seen here: tau 1 measured 48 ms/frame in one sweep and
63 in the next). The reuse decisions are deterministic; the cost of a frame is a property of the
machine. So every steady frame of every setting feeds one least-squares cost model, frame seconds =
base + computed objects x c + reused objects x u (:class:`FrameCosts`), and each setting's latency
is that model over its own frames; the raw per-pass mean is reported beside it.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import InputError
from ..tracker.config import TrackerConfig

DEFAULT_TAUS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
DEFAULT_KEYFRAME_BOUNDS = (1, 2)


@dataclass(frozen=True)
class Target:
    """What the user asked for: a reuse rate to reach (``reuse``) or a ms/frame budget (``latency_ms``)."""

    reuse: float | None = None
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        if (self.reuse is None) == (self.latency_ms is None):
            raise InputError("--calibrate-tau needs exactly one of --reuse-target R and --latency-budget-ms X")
        if self.reuse is not None and not 0.0 < self.reuse < 1.0:
            raise InputError(f"--reuse-target {self.reuse}: expected a share in (0, 1)")
        if self.latency_ms is not None and self.latency_ms <= 0:
            raise InputError(f"--latency-budget-ms {self.latency_ms}: expected a positive number of ms")

    def met_by(self, row: "SweepRow") -> bool:
        return row.reuse_rate >= self.reuse if self.reuse is not None else row.ms_per_frame <= self.latency_ms

    def describe(self) -> str:
        return f"reuse rate >= {self.reuse}" if self.reuse is not None else f"<= {self.latency_ms} ms/frame"


@dataclass(frozen=True)
class SweepRow:
    """One setting over the calibration sequences: mean J&F (x100), reuse rate, steady ms/frame from the
    sweep's cost model (what a target is checked against) and as this setting's own pass measured it."""

    tau: float
    keyframe_bound: int | None
    jf: float
    reuse_rate: float
    ms_per_frame: float
    measured_ms_per_frame: float


@dataclass(frozen=True)
class FrameCosts:
    """Seconds of a steady frame as ``base + computed * per_computed + reused * per_reused`` (object counts),
    fitted by least squares over every steady frame of a sweep (frames where an object starts are left out
    of the fit and counted as measured)."""

    coefficients: tuple[float, float, float]

    @classmethod
    def fit(cls, frames: list[tuple[int, int, float]]) -> "FrameCosts":
        """``frames``: (computed objects, reused objects, seconds) of each steady frame without an init."""
        a = np.array([[1.0, c, r] for c, r, _ in frames])
        b = np.array([t for _, _, t in frames])
        coef = np.linalg.lstsq(a, b, rcond=None)[0] if len(frames) else np.zeros(3)
        return cls(tuple(float(x) for x in coef))

    def seconds(self, computed: int, reused: int) -> float:
        base, per_computed, per_reused = self.coefficients
        return base + computed * per_computed + reused * per_reused


def steady_frames(tracked) -> list[tuple[int, int, bool, float]]:
    """(computed objects, reused objects, whether an object started, seconds) per frame after the first."""
    out = []
    for record, seconds in zip(tracked.records[1:], tracked.seconds[1:]):
        decisions = [obj.decision for obj in record.objects.values()]
        out.append((decisions.count("compute"), decisions.count("reuse"), "init" in decisions, seconds))
    return out


def sweep(runner, base: TrackerConfig, sequences, *, taus, keyframe_bounds, progress: bool = True) -> list[SweepRow]:
    """Track every sequence at every (tau, keyframe bound); tau 1 (never reuse) is measured once. Latency
    from one cost model over all settings' frames (see the module doc)."""
    from ..metrics.evaluate import track_and_score
    from ..metrics.report import steady_ms_per_frame
    from ..tracker.tracker import Tracker

    settings = [(1.0, base.keyframe_bound)] if 1.0 in taus else []
    settings += [(t, k) for t, k in itertools.product(taus, keyframe_bounds) if t != 1.0]
    passes = []
    for tau, bound in tqdm(settings, desc="calibrating tau", unit="setting", disable=not progress):
        tracker = Tracker(runner=runner, config=base.replace(tau=tau, keyframe_bound=bound))
        runs = [track_and_score(tracker, seq, progress=False) for seq in sequences]
        passes.append((tau, bound, [r for r, _ in runs], [f for _, t in runs for f in steady_frames(t)]))
    costs = FrameCosts.fit([(c, r, t) for *_, frames in passes for c, r, init, t in frames if not init])
    rows = []
    for tau, bound, results, frames in passes:
        modelled = [t if init else costs.seconds(c, r) for c, r, init, t in frames]
        gated = sum(r.gated for r in results)
        rows.append(SweepRow(tau=tau, keyframe_bound=bound, jf=100 * sum(r.jf for r in results) / len(results),
                             reuse_rate=sum(r.reused for r in results) / gated if gated else 0.0,
                             ms_per_frame=1e3 * float(np.mean(modelled)) if modelled else float("nan"),
                             measured_ms_per_frame=steady_ms_per_frame(results)))
    return rows


def choose(rows: list[SweepRow], target: Target) -> SweepRow:
    """The best J&F among the settings that meet ``target``; InputError naming the closest one if none does."""
    meeting = [r for r in rows if target.met_by(r)]
    if meeting:
        return max(meeting, key=lambda r: (r.jf, -r.reuse_rate if target.reuse is not None else -r.ms_per_frame))
    closest = max(rows, key=lambda r: r.reuse_rate) if target.reuse is not None else min(rows, key=lambda r: r.ms_per_frame)
    raise InputError(f"no swept setting reaches {target.describe()}: the closest is tau {closest.tau}, keyframe bound "
                     f"{closest.keyframe_bound} (reuse {closest.reuse_rate:.3f}, {closest.ms_per_frame:.1f} ms/frame); "
                     "widen --taus / --keyframe-bounds or relax the target")


def write_choice(bundle: Path, manifest: dict, base: TrackerConfig, choice: SweepRow, *, target: Target,
                 rows: list[SweepRow], sequences: list[str], device: str) -> dict:
    """Store ``base`` with the chosen tau and keyframe bound as the bundle's tracker section, with a record
    of the sweep (``tracker_calibration``), and renew the manifest's checksums. Returns the new section."""
    from ..runtime.bundle_format import write_manifest

    tracker = base.replace(tau=choice.tau, keyframe_bound=choice.keyframe_bound).to_json()
    record = {"target": dataclasses.asdict(target), "chosen": dataclasses.asdict(choice), "device": device,
              "sequences": sequences, "sweep": [dataclasses.asdict(r) for r in rows],
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    keep = {k: v for k, v in manifest.items() if k not in ("files", "manifest_sha256", "format_version", "tool_versions")}
    write_manifest(bundle, {**keep, "tracker": tracker, "tracker_calibration": record})
    return tracker


def table(rows: list[SweepRow], choice: SweepRow) -> str:
    lines = ["| tau | keyframe bound | J&F | reuse rate | ms/frame | measured | |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        mark = "**chosen**" if r == choice else ""
        lines.append(f"| {r.tau:g} | {r.keyframe_bound if r.keyframe_bound is not None else 'none'} | {r.jf:.1f} | "
                     f"{r.reuse_rate:.3f} | {r.ms_per_frame:.1f} | {r.measured_ms_per_frame:.1f} | {mark} |")
    return "\n".join(lines) + "\n"
