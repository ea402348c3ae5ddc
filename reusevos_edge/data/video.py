"""Read a video file (OpenCV) or a folder of frames as a stream of HxWx3 uint8 RGB frames.

``open_video(path)`` checks up front that the input is readable and returns a ``VideoSource``
with frame count, fps and frame size; iterating it yields the frames. Every frame must have
the size of the first one: a frame of another size raises ``InputError`` naming its index.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image

from ..errors import InputError
from .davis import FRAME_SUFFIXES, jpeg_is_complete, read_rgb

DEFAULT_DIR_FPS = 24.0  # a frame folder carries no rate; DAVIS was shot at 24 fps


@dataclass(frozen=True)
class VideoSource:
    """A readable video: ``path`` is a video file or a frame folder (``frame_paths`` set).

    ``frame_count`` is exact for folders and OpenCV's estimate for files. ``height``/``width``
    are the size of frame 0.
    """

    path: Path
    frame_count: int
    fps: float
    height: int
    width: int
    frame_paths: tuple[Path, ...] | None = None

    def __len__(self) -> int:
        return self.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        frames = _iter_dir(self.frame_paths) if self.frame_paths else _iter_file(self.path)
        for index, frame in enumerate(frames):
            check_frame_size(frame, index=index, expected=(self.height, self.width), path=self.path)
            yield frame


def check_frame_size(
    frame: np.ndarray, *, index: int, expected: tuple[int, int], path: Path
) -> None:
    """Raise ``InputError`` when HxWx3 ``frame`` is not ``expected`` = (H, W)."""
    if frame.shape[:2] != tuple(expected):
        got_h, got_w = frame.shape[:2]
        raise InputError(
            f"video {path}: frame {index} is {got_w}x{got_h} (WxH) but frame 0 is "
            f"{expected[1]}x{expected[0]}; every frame must have the same size"
        )


def open_video(path: str | os.PathLike, *, dir_fps: float = DEFAULT_DIR_FPS) -> VideoSource:
    """Open a video file or a folder of .jpg/.png frames (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        return _open_dir(path, fps=dir_fps)
    if not path.is_file():
        raise InputError(f"video {path}: no such file or folder (expected a video or frame folder)")
    return _open_file(path)


def _open_dir(path: Path, *, fps: float) -> VideoSource:
    frame_paths = tuple(sorted(p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES))
    if not frame_paths:
        raise InputError(f"video {path}: the folder holds no .jpg/.png frames")
    sizes = [_image_size(p) for p in frame_paths]
    for index, (width, height) in enumerate(sizes):
        if (width, height) != sizes[0]:
            raise InputError(
                f"video {path}: frame {index} ({frame_paths[index].name}) is {width}x{height} "
                f"(WxH) but frame 0 is {sizes[0][0]}x{sizes[0][1]}; every frame must have the "
                "same size"
            )
    width, height = sizes[0]
    return VideoSource(
        path=path, frame_count=len(frame_paths), fps=float(fps),
        height=height, width=width, frame_paths=frame_paths,
    )


def _image_size(path: Path) -> tuple[int, int]:
    """(W, H) from the image header; a truncated JPEG is refused here, before any tracking."""
    try:
        with Image.open(path) as image:
            size, is_jpeg = image.size, image.format == "JPEG"
    except (OSError, SyntaxError) as exc:
        raise InputError(f"video frame {path}: cannot read it as an image ({exc})") from exc
    if is_jpeg and not jpeg_is_complete(path.read_bytes()):
        raise InputError(f"video frame {path}: the JPEG is truncated (no end-of-image marker after its last scan)")
    return size


def _open_file(path: Path) -> VideoSource:
    """Decode frame 0 for the size and count every decodable frame up front (``grab`` skips colour
    conversion), so a file cut short is an error before any tracking, not a silently shorter result."""
    capture = cv2.VideoCapture(str(path))
    try:
        ok, frame = capture.read() if capture.isOpened() else (False, None)
        if not ok or frame is None:
            raise InputError(f"video {path}: OpenCV cannot decode it (expected a readable video)")
        claimed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or DEFAULT_DIR_FPS
        decoded = 1
        while capture.grab():
            decoded += 1
    finally:
        capture.release()
    if claimed > decoded:
        raise InputError(f"video {path}: its header says {claimed} frames but only {decoded} decode; "
                         "the file is truncated or corrupt")
    return VideoSource(path=path, frame_count=decoded, fps=fps, height=frame.shape[0], width=frame.shape[1])


def _iter_dir(frame_paths: tuple[Path, ...]) -> Iterator[np.ndarray]:
    for frame_path in frame_paths:
        yield read_rgb(frame_path)


def _iter_file(path: Path) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
