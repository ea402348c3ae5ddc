"""One benchmark run: the device's preparation, then every plan measured in turn, assembled into a
:class:`BenchRun` (progress bar on stderr)."""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from .assemble import Tables, bundle_result
from .devices import MEMORY_KIND, Device
from .protocol import BenchPlan
from .schema import SCHEMA, BenchRun


def run_bench(device: Device, plans: list[BenchPlan], *, workdir: Path, tables: Tables | None,
              precisions: dict[str, dict[str, str]], clip: dict, progress: bool = True) -> tuple[BenchRun, list[str]]:
    """Measure ``plans`` on ``device``; ``precisions[plan.name]``: precision per subgraph (weight bytes).
    Returns the run and the warnings the device raised (charging, ...)."""
    info = device.info()
    warnings = device.prepare(workdir, plans)
    results = []
    for plan in tqdm(plans, desc="reusevos-bench", unit="bundle", disable=not progress):
        measured = device.measure(plan, workdir)
        results.append(bundle_result(measured, tables=tables, subgraph_precision=precisions[plan.name],
                                     memory_kind=MEMORY_KIND[device.kind], where=f"{device.kind} result of {plan.name}"))
    warnings += device.finish()
    first = plans[0]
    protocol = {"cooldown_s": first.cooldown_s, "warmup_frames": first.warmup_frames, "threads": first.threads,
                "latency": "tracker step per frame after the init frame; trimmed mean "
                "keeps the middle 80 %", "warnings": warnings}
    run = BenchRun(schema=SCHEMA, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), device=info, clip=clip,
                   protocol=protocol, results=results)
    return run, warnings
