"""Evaluation results per object and per sequence, overall means, a table and a JSON file.

Scores are held as fractions (0-1) and shown on the 0-100 scale in tables and JSON (J, F, jf,
recall and decay alike). JSON layout::

    {"sequences": {"<name>": {"J", "F", "jf", "reuse_rate", "fps", ..., "objects": {...}}},
     "overall": {"J", "F", "jf", "reuse_rate", "fps", ...},
     "config": {...}}

NaN (nothing to score) is written as null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .jf import ObjectScores, Statistics


@dataclass(frozen=True)
class ObjectResult:
    """J and F statistics of one object of one sequence (fractions)."""

    object_id: int
    j: Statistics
    f: Statistics

    @classmethod
    def from_scores(cls, scores: ObjectScores) -> "ObjectResult":
        return cls(object_id=scores.object_id, j=scores.j, f=scores.f)

    @property
    def jf(self) -> float:
        return (self.j.mean + self.f.mean) / 2.0


@dataclass(frozen=True)
class SequenceResult:
    """One sequence: its objects, frame count, wall time and gate decisions.

    ``reused`` / ``gated``: object-frame decisions that reused / were made by the gate (frames
    where an object was initialised are not gated). ``seconds`` covers every frame, the first
    included; ``first_seconds`` is the first frame's share of it (the first-frame fit), so
    ``ms_per_frame`` is the steady per-frame latency, as ``reusevos-bench`` counts it.
    """

    name: str
    objects: tuple[ObjectResult, ...]
    num_frames: int
    seconds: float
    reused: int = 0
    gated: int = 0
    first_seconds: float = 0.0

    @property
    def j(self) -> float:
        return _mean(obj.j.mean for obj in self.objects)

    @property
    def f(self) -> float:
        return _mean(obj.f.mean for obj in self.objects)

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2.0

    @property
    def reuse_rate(self) -> float:
        return self.reused / self.gated if self.gated else math.nan

    @property
    def fps(self) -> float:
        return self.num_frames / self.seconds if self.seconds > 0 else math.nan

    @property
    def ms_per_frame(self) -> float:
        """Mean ms of a tracker step over the frames after the first (NaN for a one-frame sequence)."""
        return steady_ms_per_frame([self])


def steady_ms_per_frame(sequences: Sequence[SequenceResult]) -> float:
    """Mean ms of a tracker step over every sequence's frames after its first, pooled (frames weigh the same)."""
    frames = sum(seq.num_frames - 1 for seq in sequences)
    return 1e3 * sum(seq.seconds - seq.first_seconds for seq in sequences) / frames if frames > 0 else math.nan


@dataclass(frozen=True)
class OverallResult:
    """Means over all sequences: J, F and jf object-weighted (as DAVIS), fps per sequence.

    ``reuse_rate`` pools the gate decisions of every sequence; ``ms_per_frame`` their frames after the first.
    """

    j: Statistics
    f: Statistics
    reuse_rate: float
    fps: float
    num_sequences: int
    num_objects: int
    ms_per_frame: float = math.nan

    @property
    def jf(self) -> float:
        return (self.j.mean + self.f.mean) / 2.0


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def _pooled(stats: Sequence[Statistics]) -> Statistics:
    return Statistics(
        mean=_mean(s.mean for s in stats),
        recall=_mean(s.recall for s in stats),
        decay=_mean(s.decay for s in stats),
    )


def summarize(sequences: Sequence[SequenceResult]) -> OverallResult:
    """Overall means: every object of every sequence weighs the same for J and F."""
    objects = [obj for seq in sequences for obj in seq.objects]
    gated = sum(seq.gated for seq in sequences)
    return OverallResult(
        j=_pooled([obj.j for obj in objects]),
        f=_pooled([obj.f for obj in objects]),
        reuse_rate=sum(seq.reused for seq in sequences) / gated if gated else math.nan,
        fps=_mean(seq.fps for seq in sequences),
        num_sequences=len(sequences),
        num_objects=len(objects),
        ms_per_frame=steady_ms_per_frame(sequences),
    )


def _pct(value: float) -> float | None:
    return None if math.isnan(value) else round(100.0 * value, 3)


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)


def _stats_json(prefix: str, stats: Statistics) -> dict[str, float | None]:
    return {
        prefix: _pct(stats.mean),
        f"{prefix}_recall": _pct(stats.recall),
        f"{prefix}_decay": _pct(stats.decay),
    }


def _object_json(obj: ObjectResult) -> dict[str, Any]:
    return {**_stats_json("J", obj.j), **_stats_json("F", obj.f), "jf": _pct(obj.jf)}


def sequence_json(seq: SequenceResult) -> dict[str, Any]:
    """One sequence as a JSON-ready dict (scores 0-100)."""
    return {
        "J": _pct(seq.j), "F": _pct(seq.f), "jf": _pct(seq.jf),
        "reuse_rate": _num(seq.reuse_rate), "fps": _num(seq.fps), "ms_per_frame": _num(seq.ms_per_frame),
        "num_frames": seq.num_frames, "seconds": _num(seq.seconds),
        "objects": {str(obj.object_id): _object_json(obj) for obj in seq.objects},
    }


def overall_json(overall: OverallResult) -> dict[str, Any]:
    """Overall means as a JSON-ready dict (scores 0-100)."""
    return {
        **_stats_json("J", overall.j), **_stats_json("F", overall.f), "jf": _pct(overall.jf),
        "reuse_rate": _num(overall.reuse_rate), "fps": _num(overall.fps),
        "ms_per_frame": _num(overall.ms_per_frame), "num_sequences": overall.num_sequences, "num_objects": overall.num_objects,
    }


def results_json(
    sequences: Sequence[SequenceResult], *, config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The whole report: ``sequences`` by name, ``overall`` means and the run ``config``."""
    return {
        "sequences": {seq.name: sequence_json(seq) for seq in sequences},
        "overall": overall_json(summarize(sequences)),
        "config": dict(config or {}),
    }


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _row(name: str, j: float, f: float, reuse: float, fps: float, ms: float) -> list[str]:
    jf = (j + f) / 2.0
    return [name, _cell(100 * jf, 1), _cell(100 * j, 1), _cell(100 * f, 1),
            _cell(reuse, 3), _cell(fps, 1), _cell(ms, 1)]


def format_table(sequences: Sequence[SequenceResult]) -> str:
    """A Markdown-style table: one row per sequence and an ``overall`` row (scores 0-100; fps over every
    frame, ms/frame over the frames after the first)."""
    overall = summarize(sequences)
    rows = [["sequence", "J&F", "J", "F", "reuse", "fps", "ms/frame"]]
    rows += [_row(s.name, s.j, s.f, s.reuse_rate, s.fps, s.ms_per_frame) for s in sequences]
    rows.append(_row("overall", overall.j.mean, overall.f.mean, overall.reuse_rate, overall.fps, overall.ms_per_frame))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [_format_row(row, widths) for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _format_row(row: list[str], widths: list[int]) -> str:
    cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
    return "| " + " | ".join(cells) + " |"
