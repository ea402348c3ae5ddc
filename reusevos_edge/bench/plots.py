"""Plots of a benchmark run with matplotlib (the ``plot`` extra): per-frame latency coloured by what
each frame did, and ms/frame per bundle with its reuse rate."""

from __future__ import annotations

from pathlib import Path

from ..metrics.plot import pyplot, save
from .schema import BenchRun

COLOURS = {"computed": "#d95f02", "reused": "#1b9e77", "mixed": "#7570b3", "init": "#666666"}


def plot_run(run: BenchRun, out_dir: Path) -> list[Path]:
    """Write ``latency.png`` and ``summary.png`` into ``out_dir``; returns their paths."""
    plt = pyplot()
    return [_latency(plt, run, out_dir / "latency.png"), _summary(plt, run, out_dir / "summary.png")]


def _latency(plt, run: BenchRun, path: Path) -> Path:
    rows = len(run.results)
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.9 * rows + 0.6), sharex=True, squeeze=False)
    for ax, r in zip(axes[:, 0], run.results):
        ax.plot(range(len(r.per_frame_ms)), r.per_frame_ms, color="#bbbbbb", linewidth=0.8, zorder=1)
        for kind, colour in COLOURS.items():
            idx = [i for i, k in enumerate(r.per_frame_kind) if k == kind]
            ax.scatter(idx, [r.per_frame_ms[i] for i in idx], s=10, color=colour, label=kind, zorder=2)
        ax.set_ylabel("ms")
        ax.set_title(f"{r.name}: {r.latency.trimmed_mean_ms:.1f} ms/frame", fontsize=9, loc="left")
        ax.set_ylim(0, max(r.per_frame_ms[1:] or r.per_frame_ms) * 1.15)
    axes[0, 0].legend(fontsize=8, ncol=4, loc="upper right")
    axes[-1, 0].set_xlabel("frame")
    fig.suptitle(f"Per-frame latency on {run.device.kind} ({run.clip.get('name')})", fontsize=10)
    fig.tight_layout()
    return save(fig, path, dpi=110)


def _summary(plt, run: BenchRun, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(run.results) + 2), 3.6))
    names = [r.name for r in run.results]
    values = [r.latency.trimmed_mean_ms for r in run.results]
    bars = ax.bar(names, values, color="#4c72b0")
    for bar, r in zip(bars, run.results):
        rate = "-" if r.reuse_rate is None else f"{100 * r.reuse_rate:.0f} %"
        ax.annotate(f"{bar.get_height():.1f} ms\nreuse {rate}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("ms/frame (trimmed mean)")
    ax.set_ylim(0, max(values) * 1.3)
    ax.tick_params(axis="x", labelsize=8, rotation=20)
    fig.tight_layout()
    return save(fig, path, dpi=110)
