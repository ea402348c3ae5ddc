"""Calibration feeds: the real inputs each subgraph sees while the float tracker runs over clips.

Static int8 needs activation ranges from representative data. Running the float eager tracker over
calibration clips (DAVIS *train* frames, or a synthetic clip in tests) and keeping the feeds of
every call gives each subgraph its own inputs, in the distribution the on-device tracker produces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from ..data.clip import Clip, sequence_clip
from ..data.davis import DavisDataset
from ..errors import InputError
from ..runtime.base import RecordingRunner
from ..tracker.config import TrackerConfig
from ..tracker.run import track_clip
from ..tracker.tracker import Tracker


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
    picked = [names[i] for i in np.linspace(0, len(names) - 1, min(sequences, len(names))).round().astype(int)]
    clips = [sequence_clip(seq, size=(height, width), num_frames=frames) for seq in dataset.sequences(names=picked)]
    return [c for c in clips if c.starts]
