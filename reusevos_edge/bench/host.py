"""This machine as a benchmark device: each plan runs in a fresh worker process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from ..errors import InputError
from .protocol import BenchPlan
from .schema import DeviceInfo

WORKER_TIMEOUT_S = 3600


class HostDevice:
    """Runs ``python -m reusevos_edge.bench.worker`` per plan (the native runner for native rows); readings from
    ``/proc`` and ``/sys``."""

    kind = "host"
    runs_eager = True

    def info(self) -> DeviceInfo:
        return DeviceInfo(kind=self.kind, model=platform.machine(), os=platform.platform(), cpu=_cpu_name(),
                          cpu_count=os.cpu_count(), thermal=_thermal(), cpu_freq_mhz=_cpu_freqs())

    def prepare(self, workdir: Path, plans: list[BenchPlan]) -> list[str]:
        """Nothing to install or push on this host; warnings for the user (none)."""
        return []

    def measure(self, plan: BenchPlan, workdir: Path) -> dict:
        if plan.native is not None:
            from .native import measure

            return measure(plan, workdir)
        plan_path, out_path = workdir / f"{plan.name}.plan.json", workdir / f"{plan.name}.measured.json"
        plan_path.write_text(json.dumps(plan.to_json()))
        cmd = [sys.executable, "-m", "reusevos_edge.bench.worker", str(plan_path), str(out_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
            raise InputError(f"{plan.name}: the benchmark worker failed (exit {proc.returncode}):\n{tail}")
        return json.loads(out_path.read_text())

    def finish(self) -> list[str]:
        return []


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_freqs() -> list[float] | None:
    """Current frequency of each core in MHz (cpufreq, else /proc/cpuinfo), None where neither is readable."""
    files = sorted(Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_cur_freq"))
    try:
        if files:
            return [int(f.read_text()) / 1e3 for f in files]
        return [float(line.split(":", 1)[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("cpu MHz")] or None
    except (OSError, ValueError):
        return None


def _thermal() -> str | None:
    """The hottest thermal zone ("62.0 C (x86_pkg_temp)"), None where no zone is readable."""
    readings = []
    for zone in Path("/sys/class/thermal").glob("thermal_zone*"):
        try:
            readings.append((int((zone / "temp").read_text()) / 1e3, (zone / "type").read_text().strip()))
        except (OSError, ValueError):
            continue
    if not readings:
        return None
    temp, name = max(readings)
    return f"{temp:.1f} C ({name})"
