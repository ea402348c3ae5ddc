"""What ``reusevos-bench`` tracks: a DAVIS sequence, a video or frame folder with its first mask, or the
generated demo clip, described by a JSON-able :class:`ClipSpec` (a worker process or a phone opens it)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..data.clip import Clip, sequence_clip, synthetic_clip, video_clip
from ..data.davis import DavisDataset
from ..errors import InputError

SYNTHETIC = "synthetic"


@dataclass(frozen=True, kw_only=True)
class ClipSpec:
    """kind "davis" (``root`` + ``sequence``, 480p), "video" (``path`` + ``mask``) or "synthetic"
    (the ``--demo`` clip at ``size``); ``frames``: at most this many frames (the whole clip when None)."""

    kind: str
    frames: int | None = None
    root: str | None = None
    sequence: str | None = None
    path: str | None = None
    mask: str | None = None
    size: tuple[int, int] = (384, 672)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "ClipSpec":
        return cls(**{**d, "size": tuple(d["size"])})


def clip_spec(*, clip: str | None, davis: Path | None, mask: Path | None, frames: int | None,
              size: tuple[int, int]) -> ClipSpec:
    """``--clip`` as given: a DAVIS sequence name (with ``--davis``), a video or frame folder (with
    ``--mask``), or nothing / "synthetic" for the generated clip. Checked before any work starts."""
    if frames is not None and frames < 2:
        raise InputError(f"--frames {frames}: expected at least 2 (the first frame only initialises)")
    if clip in (None, SYNTHETIC):
        return ClipSpec(kind=SYNTHETIC, frames=frames or 48, size=size)
    if davis is not None:
        if not (davis / "JPEGImages" / "480p" / clip).is_dir():
            raise InputError(f"--clip {clip}: no sequence {clip!r} under --davis {davis}/JPEGImages/480p")
        return ClipSpec(kind="davis", root=str(davis), sequence=clip, frames=frames, size=size)
    if mask is None:
        raise InputError(f"--clip {clip}: a video or frame folder needs --mask (its first-frame palette PNG); "
                         "for a DAVIS sequence pass --davis ROOT")
    if not Path(clip).exists():
        raise InputError(f"--clip {clip}: no such video file or frame folder")
    return ClipSpec(kind="video", path=str(clip), mask=str(mask), frames=frames, size=size)


def open_clip(spec: ClipSpec) -> Clip:
    """The clip a spec describes (frames read lazily where the source allows)."""
    if spec.kind == SYNTHETIC:
        height, width = spec.size
        return synthetic_clip(height=height, width=width, num_frames=spec.frames or 48)
    if spec.kind == "davis":
        seq = DavisDataset(root=Path(spec.root), res="480p").sequences(names=[spec.sequence])[0]
        return sequence_clip(seq, num_frames=spec.frames, source=f"davis:{spec.root}/{spec.sequence}")
    clip = video_clip(Path(spec.path), Path(spec.mask))
    if spec.frames is None or spec.frames >= clip.frame_count:
        return clip
    return dataclasses.replace(clip, frames=_first(clip.frames, spec.frames), frame_count=spec.frames)


def _first(frames, count: int):
    for index, frame in enumerate(frames):
        if index >= count:
            return
        yield frame
