"""The one description of what to track: frames plus the masks objects start with.

A :class:`Clip` is what every tracking loop consumes (``reusevos_edge.tracker.run.track_clip``):
the CLI's video or frame folder with a first-frame mask, a DAVIS sequence whose objects start where
they first appear, the export parity clip, or a generated synthetic clip.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import cv2
import numpy as np

from ..errors import InputError
from .davis import DavisDataset, Sequence, first_masks
from .masks_io import VOID_ID, read_mask, split_void
from .synthetic import make_clip
from .video import open_video

DEMO_FPS = 24.0


@dataclass(frozen=True)
class Clip:
    """Frames to track and where objects start.

    frames: HxWx3 uint8 RGB frames, in order (any iterable; a video is read as it is tracked);
    frame_count: how many there are; height/width: their size; starts: frame index -> {object id:
    HxW bool mask}, the masks each object starts from (frame 0 and later ones); source: where the
    frames came from (a path, ``davis:<root>/<sequence>`` or ``synthetic``); truth: NxHxW uint8 object
    ids of every frame where they are known (generated and DAVIS clips), to report how well a run
    tracks them, else None.
    """

    name: str
    frames: Iterable[np.ndarray]
    frame_count: int
    height: int
    width: int
    starts: Mapping[int, Mapping[int, np.ndarray]]
    fps: float = DEMO_FPS
    source: str = ""
    notes: tuple[str, ...] = field(default=())
    truth: np.ndarray | None = None

    @property
    def object_ids(self) -> list[int]:
        return sorted({obj for masks in self.starts.values() for obj in masks})


def objects_of(ids: np.ndarray) -> dict[int, np.ndarray]:
    """HxW uint8 ids -> {object id: HxW bool mask} (background 0 and void 255 are not objects)."""
    ids, _ = split_void(ids)
    return {int(i): ids == i for i in np.unique(ids) if i != 0}


def ids_of(objects: Mapping[int, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """{object id: HxW bool mask} -> one HxW uint8 id map (higher ids drawn last)."""
    ids = np.zeros(shape, np.uint8)
    for obj_id, mask in sorted(objects.items()):
        ids[mask] = obj_id
    return ids


def video_clip(video: Path, mask_path: Path) -> Clip:
    """A video file or frame folder with its first-frame palette mask, both checked before tracking."""
    source = open_video(video)
    if not Path(mask_path).is_file():
        raise InputError(f"--mask {mask_path}: no such file (expected a palette PNG of object ids)")
    ids = read_mask(mask_path)
    if ids.shape != (source.height, source.width):
        raise InputError(f"--mask {mask_path}: mask is {ids.shape[1]}x{ids.shape[0]} (WxH) but the video frames "
                         f"are {source.width}x{source.height}; the first mask must have the frame size")
    objects = objects_of(ids)
    if not objects:
        raise InputError(f"--mask {mask_path}: the mask holds no object (only background 0 and void 255); "
                         "expected at least one object id in 1..254")
    void = int((ids == VOID_ID).sum())
    notes = (f"--mask {mask_path}: {void} void pixels (id {VOID_ID}) are ignored",) if void else ()
    return Clip(name=Path(video).name, frames=source, frame_count=source.frame_count, height=source.height,
                width=source.width, starts={0: objects}, fps=source.fps, source=str(video), notes=notes)


def synthetic_clip(*, height: int, width: int, num_frames: int, num_objects: int = 2, speed_px: float = 1.5,
                   seed: int = 0, name: str = "demo") -> Clip:
    """A generated clip: textured ellipses moving over a textured background, with its first mask."""
    frames, masks = make_clip(num_frames=num_frames, height=height, width=width, num_objects=num_objects,
                              speed_px=speed_px, seed=seed)
    return Clip(name=name, frames=list(frames), frame_count=num_frames, height=height, width=width,
                starts={0: objects_of(masks[0])}, source="synthetic", truth=masks)


def sequence_clip(seq: Sequence, *, gt: np.ndarray | None = None, size: tuple[int, int] | None = None,
                  num_frames: int | None = None, source: str = "") -> Clip:
    """A DAVIS sequence; each object starts at the first frame where its annotation shows it.

    gt: the sequence's NxHxW annotations if already loaded; size: (H, W) to resize frames and masks to
    (area / nearest), else native; num_frames: only the first N frames.
    """
    count = len(seq) if num_frames is None else min(num_frames, len(seq))
    gt = seq.load_masks(count) if gt is None else gt
    gt = split_void(gt[:count])[0]
    if size is not None:
        gt = np.stack([cv2.resize(m, size[::-1], interpolation=cv2.INTER_NEAREST) for m in gt])
    starts: dict[int, dict[int, np.ndarray]] = {}
    for obj_id, first in first_masks(gt).items():
        starts.setdefault(first.frame_index, {})[obj_id] = first.mask
    frames = (_resized(f, size) for f in itertools.islice(seq.iter_frames(), count))
    return Clip(name=seq.name, frames=frames, frame_count=count, height=gt.shape[1], width=gt.shape[2],
                starts=starts, source=source or seq.name, truth=gt)


def _resized(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    return frame if size is None else cv2.resize(frame, size[::-1], interpolation=cv2.INTER_AREA)


def parity_clip(*, height: int, width: int, num_frames: int, davis_root: Path | None = None,
                sequence: str = "blackswan") -> Clip:
    """The export parity clip: ``sequence`` of a DAVIS 480p tree at ``davis_root`` resized to the model
    size (frames listed, so both runners see the same ones), else a one-object synthetic clip."""
    if davis_root is not None:
        seq = DavisDataset(root=davis_root, res="480p").sequences(names=[sequence])[0]
        clip = sequence_clip(seq, size=(height, width), num_frames=num_frames,
                             source=f"davis:{davis_root}/{sequence}")
        return dataclasses.replace(clip, frames=list(clip.frames), name=f"davis/{sequence}")
    return synthetic_clip(height=height, width=width, num_frames=num_frames, num_objects=1, speed_px=2.0,
                          name="synthetic")


def print_notes(clip: Clip) -> None:
    """Tell the user what was ignored in their input (one stderr line each)."""
    for note in clip.notes:
        print(f"note: {note}", file=sys.stderr)
