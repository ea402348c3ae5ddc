"""The result schema of ``reusevos-bench``, the same for the host, Android and iOS (versioned).

A run is one device, one clip and several bundles measured one after the other::

    {"schema": "reusevos-bench/1", "created": ISO-8601 UTC, "device": DeviceInfo,
     "clip": {...}, "protocol": {...}, "results": [BundleResult, ...]}

Every number says what it is: latencies in ms per frame (the tracker's whole step), proxies of
energy labelled as proxies, and readings a device does not offer are ``None`` with a note, never
made up. ``check_run`` validates a result that came back from a device before anything uses it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

SCHEMA = "reusevos-bench/1"


@dataclass(frozen=True)
class Latency:
    """Per-frame latency statistics in ms (frames after the init frame), and FPS from the trimmed mean."""

    mean_ms: float
    trimmed_mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    fps: float

    @classmethod
    def from_ms(cls, samples_ms) -> "Latency":
        """Statistics of per-frame samples (ms); the trimmed mean keeps the middle 80 %."""
        values = np.sort(np.asarray(samples_ms, dtype=np.float64))
        if values.size == 0:
            raise InputError("latency: no timed frames (the clip needs at least 2 frames)")
        trimmed = trimmed_mean(values)
        p50, p90, p99 = (float(np.percentile(values, q)) for q in (50, 90, 99))
        return cls(mean_ms=float(values.mean()), trimmed_mean_ms=trimmed, p50_ms=p50, p90_ms=p90, p99_ms=p99,
                   fps=1e3 / trimmed if trimmed > 0 else float("inf"))


def trimmed_mean(samples) -> float:
    """Mean of the middle 80 % of ``samples`` (the lowest and highest tenth dropped, counted in whole
    samples: 10 samples drop one at each end); NaN when empty."""
    values = np.sort(np.asarray(samples, dtype=np.float64))
    cut = values.size // 10
    return float(values[cut:values.size - cut].mean()) if values.size else float("nan")


@dataclass(frozen=True)
class Memory:
    """Peak memory of the process that ran the bundle: ``kind`` says which reading (host peak RSS,
    Android PSS, iOS peak physical footprint)."""

    peak_mb: float | None
    kind: str


@dataclass(frozen=True)
class Energy:
    """Energy proxies per frame, each what its name says.

    cpu_seconds_per_frame: user + system CPU time of the process over the timed frames / frames
    (counts every thread); macs_per_frame: multiply-accumulates of the subgraphs that actually ran
    (the MAC table x the frame records); weight_bytes_per_frame: bytes of the weights those
    subgraphs read (parameter count x bytes per element of each subgraph's precision);
    measured_joules_per_frame: a real energy counter (RAPL on a host, the battery on a phone) or
    None, with ``measured_source`` saying which, or why there is none.
    """

    cpu_seconds_per_frame: float | None
    macs_per_frame: float | None
    weight_bytes_per_frame: float | None
    measured_joules_per_frame: float | None
    measured_source: str


@dataclass(frozen=True)
class BundleResult:
    """One bundle (or PyTorch eager) through the protocol.

    per_frame_ms / per_frame_kind: every frame's tracker step ("init", "computed", "reused" or
    "mixed" when objects of one frame disagree); per_subgraph_ms: mean ms per call; calls: calls per
    subgraph over the timed frames; computed/reused: object-frames; reuse_cost: mean ms of a reused
    frame / mean ms of a computed frame (None without both); host_share: the share of the frame time
    (frames after the first) spent in host code between subgraph calls; tracker: the options it ran.
    """

    name: str
    target: str
    precision: str
    bundle: str | None
    size_mb: float | None
    load_ms: float
    frames: int
    latency: Latency
    per_frame_ms: list[float]
    per_frame_kind: list[str]
    per_subgraph_ms: dict[str, float]
    calls: dict[str, int]
    computed: int
    reused: int
    reuse_rate: float | None
    reuse_cost: float | None
    host_share: float
    tracker: dict
    memory: Memory
    energy: Energy
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeviceInfo:
    """What ran it: kind (host/android/ios), model, OS, CPU, core count, thermal state and CPU frequencies
    where readable (None otherwise)."""

    kind: str
    model: str
    os: str
    cpu: str
    cpu_count: int | None
    thermal: str | None
    cpu_freq_mhz: list[float] | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BenchRun:
    schema: str
    created: str
    device: DeviceInfo
    clip: dict
    protocol: dict
    results: list[BundleResult]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def bundle_result_from_json(d: dict) -> BundleResult:
    return BundleResult(**{**d, "latency": Latency(**d["latency"]), "memory": Memory(**d["memory"]),
                           "energy": Energy(**d["energy"])})


def check_run(d: dict, *, where: str) -> BenchRun:
    """A result JSON (from this host or pulled from a phone) as a BenchRun; InputError naming ``where``
    and the first thing wrong (schema version, a missing or unexpected key)."""
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        got = d.get("schema") if isinstance(d, dict) else type(d).__name__
        raise InputError(f"{where}: expected a {SCHEMA} result, got schema {got!r}")
    try:
        return BenchRun(schema=d["schema"], created=d["created"], device=DeviceInfo(**d["device"]),
                        clip=dict(d["clip"]), protocol=dict(d["protocol"]),
                        results=[bundle_result_from_json(r) for r in d["results"]])
    except (KeyError, TypeError) as exc:
        raise InputError(f"{where}: not a valid {SCHEMA} result ({exc})") from None
