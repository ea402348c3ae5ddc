"""Where the time goes inside an ExecuTorch bundle's programs: XNNPACK's own per-operator timings.

``reusevos-bench --op-profile`` times subgraphs as wholes through the tracker; this opens the bundle's
``.pte`` once per per-frame program with ExecuTorch's event tracer on (ETDump), runs the program a few
times on random inputs of its contract shapes (the operators of these programs take the same time
whatever the values), and reads the events back with ExecuTorch's Inspector: one per XNNPACK operator
(``Convolution (NHWC, QC8) DWConv #3``, ...), whose median over the runs is its time. Operators of
one kind are summed (``Convolution (NHWC, QC8) DWConv``), which is what tells, e.g., that int8
depthwise convolutions run slower than fp32 ones on a CPU while int8 1x1 convolutions run faster.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import require
from ..model.macs import COMPUTED_FRAME, REUSE_FRAME

PER_FRAME = tuple(dict.fromkeys(COMPUTED_FRAME + REUSE_FRAME))
_TOTALS = ("Method::execute", "DELEGATE_CALL")


@dataclass(frozen=True)
class OpKind:
    """Operators of one kind in one program: how many, and their summed median ms per program run."""

    kind: str
    count: int
    ms: float


@dataclass(frozen=True)
class ProgramProfile:
    """One program: its median ms per run (``Method::execute``) and its operator kinds, slowest first."""

    name: str
    ms: float
    ops: list[OpKind] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"name": self.name, "ms": self.ms,
                "ops": [{"kind": o.kind, "count": o.count, "ms": o.ms} for o in self.ops]}


def profile_executorch(bundle_dir: Path, *, manifest: dict, programs: tuple[str, ...] = PER_FRAME,
                       runs: int = 8, threads: int = 1) -> list[ProgramProfile]:
    """Profile ``programs`` of the ExecuTorch bundle at ``bundle_dir`` (its verified ``manifest``)."""
    runtime = require("executorch.runtime", extra="executorch", purpose="ExecuTorch operator profile")
    devtools = require("executorch.devtools", extra="executorch", purpose="ExecuTorch operator profile")
    from ..runtime.bundle_format import subgraphs_from_manifest
    from ..runtime.executorch_backend import set_executorch_threads

    set_executorch_threads(threads)
    contract = subgraphs_from_manifest(manifest)
    profiles = []
    with tempfile.TemporaryDirectory(prefix="reusevos-op-profile-") as tmp:
        for name in (p for p in programs if p in contract):
            program = runtime.Runtime.get().load_program(bundle_dir / manifest["artifact"], enable_etdump=True)
            method = program.load_method(name)
            inputs = list(contract[name].example_inputs())
            for _ in range(runs):
                method.execute(inputs)
            dump = Path(tmp) / f"{name}.etdp"
            program.write_etdump_result_to_file(str(dump), str(Path(tmp) / f"{name}.dbg"))
            profiles.append(_program_profile(name, devtools.Inspector(etdump_path=str(dump))))
    return profiles


def _program_profile(name: str, inspector) -> ProgramProfile:
    """Sum the median time of every operator event of the run blocks by kind (the ``#n`` dropped)."""
    total, kinds, counts = 0.0, defaultdict(float), defaultdict(int)
    for block in inspector.event_blocks:
        if block.name != "Execute":
            continue
        for event in block.events:
            if event.perf_data is None:
                continue
            if event.name == "Method::execute":
                total = float(event.perf_data.p50)
            elif event.name not in _TOTALS:
                kind = event.name.rsplit(" #", 1)[0]
                kinds[kind] += float(event.perf_data.p50)
                counts[kind] += 1
    ops = sorted((OpKind(kind=k, count=counts[k], ms=v) for k, v in kinds.items()), key=lambda o: -o.ms)
    return ProgramProfile(name=name, ms=total, ops=ops)


def markdown(bundle: str, profiles: list[ProgramProfile], *, threads: int, runs: int) -> str:
    """One table per bundle: program, operator kind, count, ms per run, share of the program."""
    lines = [f"## {bundle}", "",
             f"XNNPACK's per-operator events (ETDump), median of {runs} runs on random inputs, {threads} thread(s).",
             "", "| program | ms | operator kind | count | ms | share |", "|---|---:|---|---:|---:|---:|"]
    for p in profiles:
        for i, op in enumerate(p.ops):
            share = f"{100 * op.ms / p.ms:.0f} %" if p.ms else "-"
            lead = f"| {p.name} | {p.ms:.2f} |" if i == 0 else "| | |"
            lines.append(f"{lead} {op.kind} | {op.count} | {op.ms:.2f} | {share} |")
    return "\n".join(lines) + "\n"
