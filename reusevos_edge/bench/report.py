"""A benchmark run as Markdown: one row per bundle, then ms per subgraph call."""

from __future__ import annotations

from .schema import BenchRun, BundleResult


def _num(value, fmt: str, scale: float = 1.0) -> str:
    return "-" if value is None else format(value * scale, fmt)


def _row(r: BundleResult) -> str:
    lat, e = r.latency, r.energy
    cells = [r.name, r.target, r.precision, f"{r.tracker.get('tau', float('nan')):.3g}", f"{lat.trimmed_mean_ms:.1f}", f"{lat.p50_ms:.1f}", f"{lat.p90_ms:.1f}",
             f"{lat.p99_ms:.1f}", f"{lat.fps:.1f}", f"{r.load_ms:.0f}", _num(r.reuse_rate, ".2f"),
             _num(r.reuse_cost, ".2f"), f"{100 * r.host_share:.1f}", _num(r.memory.peak_mb, ".0f"), _num(e.cpu_seconds_per_frame, ".3f"),
             _num(e.macs_per_frame, ".2f", 1e-9), _num(e.weight_bytes_per_frame, ".1f", 1e-6),
             _num(e.measured_joules_per_frame, ".3f"), _num(r.size_mb, ".2f")]
    return "| " + " | ".join(cells) + " |"


def markdown(run: BenchRun) -> str:
    d, clip = run.device, run.clip
    lines = [f"# reusevos-bench: {d.kind} ({d.model}; {d.os}; {d.cpu})", "",
             f"Clip {clip.get('name')} ({clip.get('frames')} frames); {run.protocol['threads']} thread(s); "
             f"cooldown {run.protocol['cooldown_s']} s, {run.protocol['warmup_frames']} warm-up frames; "
             f"thermal {d.thermal or 'unreadable'}; {run.created}.", "",
             "| bundle | target | precision | tau | ms/frame | p50 | p90 | p99 | FPS | load ms | reuse rate | "
             "reused/computed ms | host % | peak MB | CPU s/frame | GMACs/frame | MB weights/frame | J/frame | size MB |",
             "|---" * 19 + "|"]
    lines += [_row(r) for r in run.results]
    sources = sorted({r.energy.measured_source for r in run.results})
    lines += ["", f"ms/frame: trimmed mean (middle 80 %) of the tracker step, frames after the first. "
              f"Peak MB: {run.results[0].memory.kind}. CPU s/frame, GMACs/frame and MB weights/frame are energy "
              f"proxies (CPU time of the process; multiply-accumulates and weight bytes of the subgraphs that ran). "
              f"Host %: share of the frame time spent in host code between subgraph calls. J/frame: {'; '.join(sources)}."]
    lines += [f"- {w}" for w in run.protocol.get("warnings", [])]
    lines += speedup_lines(run)
    names = sorted({n for r in run.results for n in r.per_subgraph_ms})
    lines += ["", "| subgraph (ms per call, calls) | " + " | ".join(r.name for r in run.results) + " |",
              "|---" * (len(run.results) + 1) + "|"]
    for n in names:
        cells = [f"{r.per_subgraph_ms[n]:.2f} ({r.calls[n]})" if n in r.per_subgraph_ms else "-" for r in run.results]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def speedup_lines(run: BenchRun) -> list[str]:
    """Rows of the same bundle at tau 1 and at another tau: the measured speed-up next to the analytic
    bound 1 / (1 - r (1 - c)) from that row's reuse rate r and reused/computed cost ratio c."""
    lines = []
    for r in run.results:
        base = next((b for b in run.results if b.bundle == r.bundle and b is not r and b.tracker.get("tau") == 1.0), None)
        if base is None or r.tracker.get("tau") == 1.0 or r.reuse_rate is None or r.reuse_cost is None:
            continue
        bound = 1.0 / (1.0 - r.reuse_rate * (1.0 - r.reuse_cost))
        measured = base.latency.trimmed_mean_ms / r.latency.trimmed_mean_ms
        lines.append(f"| {r.name} | {base.name} | {r.reuse_rate:.2f} | {r.reuse_cost:.2f} | {measured:.2f}x | {bound:.2f}x |")
    if not lines:
        return []
    return ["", "| row | tau-1 row | reuse rate r | cost ratio c | measured speed-up | bound 1/(1-r(1-c)) |",
            "|---|---|---|---|---|---|", *lines]
