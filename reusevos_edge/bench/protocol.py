"""The measurement protocol of one bundle (or PyTorch eager), run inside the process it measures.

Anchors: ExecuTorch minibench and TFLite ``benchmark_model`` (load time, warm-up, then timed
iterations; trimmed mean) and MLPerf Mobile (cooldown between models). Here the iterations are the
frames of a real clip through the tracker, because what a reuse gate saves shows only there:

1. cooldown (sleep ``cooldown_s``: let clocks and temperature settle after the previous bundle);
2. load: open the bundle (verify the manifest, load every program) or build the PyTorch model: timed;
3. warm-up: the first ``warmup_frames`` frames through a tracker, untimed;
4. the clip from a reset tracker: every tracker step and every subgraph call timed, the process's
   CPU time and (where readable) the RAPL energy counter read before and after.

``measure`` returns a plain dict (``Measurement``) so a worker process can hand it back as JSON.
"""

from __future__ import annotations

import dataclasses
import itertools
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..tracker.config import TrackerConfig, bundle_tracker_config
from ..tracker.state import FrameRecord
from .clips import ClipSpec, open_clip
from .energy import RaplCounter
from .timing import TimingRunner

EAGER = "pytorch-eager"


@dataclass(frozen=True, kw_only=True)
class BenchPlan:
    """One row of the run: a bundle folder, or PyTorch eager (``bundle`` None) of ``model`` with
    ``checkpoint`` (None: the variant's bundled heads) at ``size``, with ``tracker`` options (a
    ``TrackerConfig.to_json()``; None: the weights' own); ``tau`` overrides the row's tau; ``native``: the
    path of ``reusevos-native-bench`` when the native tracker core measures the row (``bench.native``)."""

    name: str
    clip: ClipSpec
    bundle: str | None = None
    model: str = "lite0"
    checkpoint: str | None = None
    size: tuple[int, int] = (384, 672)
    threads: int = 1
    tracker: dict | None = None
    tau: float | None = None
    warmup_frames: int = 3
    cooldown_s: float = 2.0
    native: str | None = None

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "clip": self.clip.to_json()}

    @classmethod
    def from_json(cls, d: dict) -> "BenchPlan":
        return cls(**{**d, "clip": ClipSpec.from_json(d["clip"]), "size": tuple(d["size"])})


def open_runner(plan: BenchPlan):
    """(runner, tracker options, what it is: target, precision, bundle size in MB). The plan's thread count
    holds for the runtime and the tracker's host ops alike."""
    from ..tracker.frames import set_host_threads

    set_host_threads(plan.threads)
    if plan.bundle is not None:
        from ..runtime.bundle import load_bundle_runner
        from ..runtime.bundle_format import bundle_size_bytes

        runner = load_bundle_runner(plan.bundle, num_threads=plan.threads)
        config = bundle_tracker_config(runner.manifest, where=f"bundle {plan.bundle}")
        meta = {"target": runner.target.name, "precision": runner.manifest["precision"],
                "size_mb": bundle_size_bytes(Path(plan.bundle)) / 1e6}
    else:
        from ..model.registry import build_model
        from ..runtime.torch_runner import TorchRunner
        from ..tracker.config import tracker_defaults

        model = build_model(plan.model, checkpoint=plan.checkpoint)
        runner = TorchRunner(model=model, height=plan.size[0], width=plan.size[1], threads=plan.threads)
        config = (TrackerConfig.from_json(plan.tracker, where=f"{plan.name} tracker options") if plan.tracker
                  else tracker_defaults(model, checkpoint=plan.checkpoint))
        meta = {"target": "pytorch", "precision": "fp32", "size_mb": None}
    if plan.tau is not None:
        config = config.replace(tau=plan.tau)
    return runner, config, meta


def frame_kind(record: FrameRecord) -> str:
    """"init" if an object started, else "computed" / "reused" when all objects agree, else "mixed"."""
    decisions = {obj.decision for obj in record.objects.values()}
    if "init" in decisions or not decisions:
        return "init"
    if decisions == {"compute"}:
        return "computed"
    return "reused" if decisions == {"reuse"} else "mixed"


def measure(plan: BenchPlan) -> dict:
    """Run the protocol for ``plan`` in this process; see the module doc. Returns the measurement dict."""
    from ..tracker.run import decision_counts, reuse_rate, track_clip
    from ..tracker.tracker import Tracker

    time.sleep(plan.cooldown_s)
    start = time.perf_counter()
    runner, config, meta = open_runner(plan)
    load_ms = 1e3 * (time.perf_counter() - start)
    timing = TimingRunner(runner)
    tracker = Tracker(runner=timing, config=config)
    warm = open_clip(plan.clip)
    track_clip(tracker, dataclasses.replace(warm, frames=list(itertools.islice(warm.frames, plan.warmup_frames)),
                                            frame_count=min(plan.warmup_frames, warm.frame_count)), keep_labels=False)
    timing.clear()
    clip = open_clip(plan.clip)
    subgraph_ms = []  # per frame: time inside subgraph calls (the rest of the step is host code)
    rapl, cpu0 = RaplCounter.open(), _cpu_seconds()
    run = track_clip(tracker, clip, keep_labels=False, on_frame=lambda *_: subgraph_ms.append(timing.lap()))
    cpu, joules = _cpu_seconds() - cpu0, rapl.joules()
    counts = decision_counts(run.records)
    return {"name": plan.name, **meta, "bundle": plan.bundle, "load_ms": load_ms, "frames": clip.frame_count,
            "per_frame_ms": [1e3 * s for s in run.seconds], "per_frame_subgraph_ms": subgraph_ms,
            "per_frame_kind": [frame_kind(r) for r in run.records],
            "per_subgraph_ms": timing.mean_ms(), "calls": timing.calls(), "computed": counts["compute"],
            "reused": counts["reuse"], "reuse_rate": reuse_rate(counts),
            "cpu_seconds_per_frame": cpu / len(run.seconds), "peak_memory_mb": _peak_rss_mb(),
            "joules_per_frame": None if joules is None else joules / len(run.seconds), "energy_source": rapl.source,
            "tracker": config.to_json()}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """Peak resident set size of this process: VmHWM on Linux (the high-water mark of this process image;
    ru_maxrss also counts the parent's memory that fork copied before the worker started), else ru_maxrss
    (KiB on Linux, bytes on macOS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
