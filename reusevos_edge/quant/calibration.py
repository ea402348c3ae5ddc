"""Calibration feeds: the real inputs each subgraph sees while the float tracker runs over clips.

Static int8 needs activation ranges from representative data. Running the float eager tracker over
calibration clips (DAVIS *train* frames, or a synthetic clip in tests) and keeping the feeds of
every call gives each subgraph its own inputs, in the distribution the on-device tracker produces.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from ..data.clip import Clip, sequence_clip
from ..data.davis import DavisDataset
from ..errors import InputError
from ..runtime.base import RecordingRunner
from ..tracker.config import TrackerConfig
from ..tracker.run import track_clip
from ..tracker.tracker import Tracker

if TYPE_CHECKING:
    from .programs import QuantizedPrograms


def collect_feeds(runner, clips: Iterable[Clip], config: TrackerConfig, *, limit: int = 64) -> dict[str, list[dict]]:
    """Track ``clips`` with ``runner`` (float); the feeds every subgraph saw, per subgraph name.

    The tracker alternates computed and reuse frames (keyframe bound 1, tau 0) so that every subgraph,
    the reuse path included, sees real inputs.
    """
    recorder = RecordingRunner(runner, limit=limit)
    tracker = Tracker(runner=recorder, config=config.replace(tau=0.0, keyframe_bound=1))
    for clip in clips:
        track_clip(tracker, clip, keep_labels=False)
    return recorder.recorded


def davis_calibration_clips(root: str | Path, *, height: int, width: int, res: str = "288p", split: str = "train",
                            sequences: int = 6, frames: int = 12) -> list[Clip]:
    """``sequences`` sequences of a DAVIS split, evenly spread, their first ``frames`` frames at the model size.

    Use a *train* split: calibration is a choice made on data, and the val sequences are for reporting.
    """
    dataset = DavisDataset(root=root, res=res)
    names = dataset.split_names(split)
    if not names:
        raise InputError(f"--calibrate {root}: split {split!r} lists no sequences")
    return calibration_clips(dataset.sequences(names=_spread(names, sequences)), height=height, width=width,
                             frames=frames)


def calibration_clips(sequences, *, height: int, width: int, count: int = 6, frames: int = 12) -> list[Clip]:
    """``count`` of ``sequences`` (DAVIS sequence objects), evenly spread, their first ``frames`` frames."""
    sequences = list(sequences)
    clips = [sequence_clip(seq, size=(height, width), num_frames=frames) for seq in _spread(sequences, count)]
    return [c for c in clips if c.starts]


def _spread(items: list, count: int) -> list:
    """``count`` items evenly spread over ``items`` (all of them when there are fewer)."""
    return [items[i] for i in np.linspace(0, len(items) - 1, min(count, len(items))).round().astype(int)]


def calibrated_programs(model, clips: list[Clip], *, height: int, width: int, config: TrackerConfig, target: str,
                        qat: bool) -> "QuantizedPrograms":
    """``model``'s int8 programs for ``target`` (fake-quantized heads when ``qat``), calibrated on the
    feeds the float tracker produces over ``clips``."""
    from ..model.subgraphs import build_subgraphs
    from ..runtime.torch_runner import TorchRunner
    from .programs import QuantizedPrograms

    subgraphs = build_subgraphs(model, height=height, width=width)
    feeds = collect_feeds(TorchRunner(model=model, height=height, width=width, subgraphs=subgraphs), clips, config)
    return QuantizedPrograms.prepare(subgraphs, target=target, qat=qat).calibrate(feeds)
