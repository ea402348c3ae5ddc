"""Read a dataset in the DAVIS layout (DAVIS 2016 binary or DAVIS 2017 multi-object).

Layout under ``root``::

    JPEGImages/<res>/<sequence>/00000.jpg ...
    Annotations/<res>/<sequence>/00000.png ...   palette PNG of object ids, 0 = background
    ImageSets/<res>/<split>.txt                  one sequence name per line

Any resolution folder works (``480p``, ``288p``, ``Full-Resolution`` ...). Frames load as
HxWx3 uint8 RGB, masks as HxW uint8 object ids (DAVIS 2016 0/255 masks read as 0/1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence as SequenceOf

import cv2
import numpy as np

from ..errors import InputError
from .masks_io import VOID_ID, read_mask
from .splits import BASE_SPLIT, DERIVED_SPLITS, derived_split

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB; a truncated JPEG is an error, not a half-grey frame."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"frame {path}: cannot read it ({exc.strerror})") from None
    if data[:2] == JPEG_SOI and not jpeg_is_complete(data):
        raise InputError(f"frame {path}: the JPEG is truncated (its last scan has no end-of-image marker); "
                         "the file was cut short while copying or writing")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"frame {path}: cannot read it as an image (expected a JPEG or PNG)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


JPEG_SOI, JPEG_SOS, JPEG_EOI = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"


def jpeg_is_complete(data: bytes) -> bool:
    """Whether a JPEG's last scan is followed by its end-of-image marker.

    Inside entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so an
    end-of-image marker after the last start-of-scan means the scan data is whole.
    """
    last_scan = data.rfind(JPEG_SOS)
    return last_scan >= 0 and data.find(JPEG_EOI, last_scan) >= 0


@dataclass(frozen=True)
class FirstMask:
    """Where an object first appears: frame index and its HxW bool mask in that frame."""

    frame_index: int
    mask: np.ndarray


def first_masks(masks: np.ndarray | SequenceOf[np.ndarray]) -> dict[int, FirstMask]:
    """Per object id, the first frame where it appears and its mask there.

    ``masks``: NxHxW uint8 ids (or a sequence of HxW uint8). Objects may appear after frame 0;
    the result is ordered by object id. The void id 255 is not an object.
    """
    found: dict[int, FirstMask] = {}
    for index, frame_mask in enumerate(masks):
        for obj_id in np.unique(frame_mask).tolist():
            if obj_id not in (0, VOID_ID) and obj_id not in found:
                found[obj_id] = FirstMask(frame_index=index, mask=frame_mask == obj_id)
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Sequence:
    """One video: frame paths and aligned annotation paths (None where a frame has none).

    Frames and masks are read from disk only when asked for.
    """

    name: str
    frame_paths: tuple[Path, ...]
    annotation_paths: tuple[Path | None, ...]

    def __len__(self) -> int:
        return len(self.frame_paths)

    def load_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as HxWx3 uint8 RGB."""
        return read_rgb(self.frame_paths[index])

    def iter_frames(self) -> Iterator[np.ndarray]:
        """All frames in order, each HxWx3 uint8 RGB, read one at a time."""
        for path in self.frame_paths:
            yield read_rgb(path)

    def load_mask(self, index: int) -> np.ndarray:
        """Annotation of frame ``index`` as HxW uint8 object ids."""
        path = self.annotation_paths[index]
        if path is None:
            raise InputError(
                f"sequence {self.name}: frame {self.frame_paths[index].name} has no annotation"
            )
        return read_mask(path)

    def load_masks(self, count: int | None = None) -> np.ndarray:
        """The annotations of the first ``count`` frames (default all) as NxHxW uint8 object ids (every
        one of them must be annotated)."""
        masks = [self.load_mask(index) for index in range(len(self) if count is None else min(count, len(self)))]
        shapes = {mask.shape for mask in masks}
        if len(shapes) != 1:
            raise InputError(f"sequence {self.name}: annotations differ in size: {sorted(shapes)}")
        return np.stack(masks)

    def first_masks(self) -> dict[int, FirstMask]:
        """Per object id, the first annotated frame where it appears, and its mask there."""
        annotated = [i for i, path in enumerate(self.annotation_paths) if path is not None]
        found: dict[int, FirstMask] = {}
        for index in annotated:
            for obj_id, first in first_masks([self.load_mask(index)]).items():
                if obj_id not in found:
                    found[obj_id] = FirstMask(frame_index=index, mask=first.mask)
        return dict(sorted(found.items()))


def _list_dirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def _list_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)


class DavisDataset:
    """A DAVIS-layout tree at ``root`` for one resolution folder ``res``."""

    def __init__(self, *, root: str | os.PathLike, res: str = "480p") -> None:
        self.root = Path(root)
        self.res = res
        self.frames_dir = self.root / "JPEGImages" / res
        self.annotations_dir = self.root / "Annotations" / res
        if not self.frames_dir.is_dir():
            available = _list_dirs(self.root / "JPEGImages")
            raise InputError(
                f"--davis {self.root}: no frame folder {self.frames_dir} for resolution {res!r}; "
                f"expected the DAVIS layout JPEGImages/<res>/<sequence>/ "
                f"(resolutions found: {available or 'none'})"
            )

    def available(self) -> list[str]:
        """Names of the sequences that have a frame folder."""
        return _list_dirs(self.frames_dir)

    def split_names(self, split: str) -> list[str]:
        """Sequence names listed in ``ImageSets/<res>/<split>.txt``; ``train-fit`` / ``train-holdout`` are the
        two parts of the ``train`` list (:mod:`.splits`)."""
        if split in DERIVED_SPLITS:
            return derived_split(split, self.split_names(BASE_SPLIT))
        path = self.root / "ImageSets" / self.res / f"{split}.txt"
        if not path.is_file():
            found = sorted(p.stem for p in path.parent.glob("*.txt")) if path.parent.is_dir() else []
            raise InputError(
                f"split {split!r}: no list file {path} (splits found: {found or 'none'})"
            )
        lines = (line.strip() for line in path.read_text().splitlines())
        return [line for line in lines if line]

    def sequences(
        self, split: str | SequenceOf[str] | None = "val", *, names: SequenceOf[str] | None = None
    ) -> list[Sequence]:
        """The sequences of ``split``, or the explicit ``names`` (then ``split`` is ignored).

        ``split`` may itself be a list of names: ``sequences(["blackswan", "dog"])``.
        """
        if names is None and split is not None and not isinstance(split, str):
            names = split
        wanted = list(names) if names is not None else self.split_names(split or "val")
        available = set(self.available())
        unknown = [name for name in wanted if name not in available]
        if unknown:
            raise InputError(
                f"sequences {unknown} not found under {self.frames_dir}; "
                f"available: {', '.join(sorted(available)) or 'none'}"
            )
        return [self.sequence(name) for name in wanted]

    def sequence(self, name: str) -> Sequence:
        """One sequence by name, with annotations matched to frames by file stem."""
        frame_paths = _list_files(self.frames_dir / name, FRAME_SUFFIXES)
        if not frame_paths:
            raise InputError(f"sequence {name}: no JPEG/PNG frames in {self.frames_dir / name}")
        mask_dir = self.annotations_dir / name
        masks = {p.stem: p for p in _list_files(mask_dir, (".png",))} if mask_dir.is_dir() else {}
        annotations = tuple(masks.get(p.stem) for p in frame_paths)
        return Sequence(name=name, frame_paths=tuple(frame_paths), annotation_paths=annotations)
