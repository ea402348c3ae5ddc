"""Energy: a real counter where the host has one (RAPL), and the proxies computed from what ran.

RAPL (``/sys/class/powercap/intel-rapl:N/energy_uj``, package domains) is read before and after the
timed frames; where it is absent or unreadable (most VMs, non-root users since 2020's
CVE-2020-8694 fix) the reading is None and ``source`` says why: never a made-up number.
The proxies (per frame): MACs executed and weight bytes read, from the subgraph calls the frame
records show and the MAC / weight tables of the model (``frame_proxies``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

POWERCAP = Path("/sys/class/powercap")
BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "int8": 1}


@dataclass
class RaplCounter:
    """Package-domain energy counters read at ``open`` (µJ); ``joules()`` is the energy since then."""

    files: list[Path]
    start_uj: list[int]
    source: str

    @classmethod
    def open(cls, root: Path = POWERCAP) -> "RaplCounter":
        files = sorted(p / "energy_uj" for p in root.glob("intel-rapl:[0-9]*") if ":" not in p.name.split("rapl:")[1])
        if not files:
            return cls([], [], f"unavailable: no RAPL package domain under {root}")
        try:
            return cls(files, [int(f.read_text()) for f in files], "RAPL package energy (" +
                       ", ".join(f.parent.name for f in files) + ")")
        except OSError as exc:
            return cls([], [], f"unavailable: {files[0]} is not readable ({exc.strerror or exc})")

    def joules(self) -> float | None:
        if not self.files:
            return None
        total = 0
        for path, start in zip(self.files, self.start_uj):
            now = int(path.read_text())
            max_path = path.with_name("max_energy_range_uj")
            wrap = int(max_path.read_text()) if now < start and max_path.exists() else 0
            total += now - start + wrap
        return total / 1e6


def frame_proxies(calls: Mapping[str, int], *, frames: int, macs: Mapping[str, int],
                  weight_bytes: Mapping[str, int]) -> tuple[float, float]:
    """(MACs per frame, weight bytes per frame) of ``calls`` (calls per subgraph over ``frames`` frames)."""
    total_macs = sum(n * macs.get(name, 0) for name, n in calls.items())
    total_bytes = sum(n * weight_bytes.get(name, 0) for name, n in calls.items())
    return total_macs / frames, total_bytes / frames


def weight_bytes(graphs, precision: Mapping[str, str]) -> dict[str, int]:
    """Bytes of the weights each subgraph reads: its parameters' element count x the bytes of its precision."""
    out = {}
    for g in graphs:
        count = sum(p.numel() for p in g.module.parameters())
        out[g.name] = count * BYTES_PER_ELEMENT.get(precision.get(g.name, "fp32"), 4)
    return out
