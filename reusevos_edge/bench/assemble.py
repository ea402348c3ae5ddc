"""A device's raw measurement (the worker's or the app's JSON) -> a :class:`BundleResult`.

The device reports what it timed and counted; the energy proxies that need the model's MAC and
weight tables (``Tables``) are added here, the same way for every device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .energy import frame_proxies, weight_bytes
from .schema import BundleResult, Energy, Latency, Memory

MEASUREMENT_KEYS = ("name", "target", "precision", "bundle", "size_mb", "load_ms", "frames", "per_frame_ms",
                    "per_frame_subgraph_ms", "per_frame_kind", "tracker", "per_subgraph_ms", "calls", "computed", "reused", "reuse_rate",
                    "cpu_seconds_per_frame", "peak_memory_mb", "joules_per_frame", "energy_source")


@dataclass(frozen=True)
class Tables:
    """MACs per call of each subgraph, and its weight bytes per precision ("fp32", "int8", ...)."""

    macs: dict[str, int]
    weight_bytes: dict[str, dict[str, int]]

    @classmethod
    def of(cls, graphs) -> "Tables":
        from ..model.macs import count_macs

        names = [g.name for g in graphs]
        return cls(macs={g.name: count_macs(g) for g in graphs},
                   weight_bytes={p: weight_bytes(graphs, dict.fromkeys(names, p)) for p in ("fp32", "fp16", "int8")})

    def weights_for(self, precision: dict[str, str]) -> dict[str, int]:
        """Weight bytes per subgraph at ``precision`` (per subgraph; fp32 where it names none)."""
        return {name: self.weight_bytes.get(precision.get(name, "fp32"), self.weight_bytes["fp32"])[name]
                for name in self.macs}


def bundle_result(m: dict, *, tables: Tables | None, subgraph_precision: dict[str, str], memory_kind: str,
                  where: str) -> BundleResult:
    """Check the measurement's keys (naming ``where`` when one is missing) and derive the statistics."""
    missing = [k for k in MEASUREMENT_KEYS if k not in m]
    if missing:
        raise InputError(f"{where}: the measurement lacks {missing}")
    ms, kinds = m["per_frame_ms"], m["per_frame_kind"]
    macs = bytes_ = None
    if tables is not None:
        macs, bytes_ = frame_proxies(m["calls"], frames=m["frames"], macs=tables.macs,
                                     weight_bytes=tables.weights_for(subgraph_precision))
    energy = Energy(cpu_seconds_per_frame=m["cpu_seconds_per_frame"], macs_per_frame=macs,
                    weight_bytes_per_frame=bytes_, measured_joules_per_frame=m["joules_per_frame"],
                    measured_source=m["energy_source"])
    return BundleResult(name=m["name"], target=m["target"], precision=m["precision"], bundle=m["bundle"],
                        size_mb=m["size_mb"], load_ms=m["load_ms"], frames=m["frames"],
                        latency=Latency.from_ms(ms[1:]), per_frame_ms=ms, per_frame_kind=kinds,
                        per_subgraph_ms=m["per_subgraph_ms"], calls=m["calls"], computed=m["computed"],
                        reused=m["reused"], reuse_rate=m["reuse_rate"], reuse_cost=reuse_cost(ms, kinds),
                        host_share=host_share(ms, m["per_frame_subgraph_ms"]), tracker=m["tracker"],
                        memory=Memory(peak_mb=m["peak_memory_mb"], kind=memory_kind), energy=energy,
                        notes=list(m.get("notes", [])))


def reuse_cost(ms: list[float], kinds: list[str]) -> float | None:
    """Mean ms of a reused frame / mean ms of a computed frame, as measured (None without both kinds)."""
    reused = [t for t, k in zip(ms, kinds) if k == "reused"]
    computed = [t for t, k in zip(ms, kinds) if k == "computed"]
    if not reused or not computed:
        return None
    return float(np.mean(reused) / np.mean(computed))


def host_share(frame_ms: list[float], subgraph_ms: list[float]) -> float:
    """1 - (time inside subgraph calls) / (frame time), over the frames after the first."""
    total = float(np.sum(frame_ms[1:]))
    return 1.0 - float(np.sum(subgraph_ms[1:])) / total if total > 0 else 0.0
