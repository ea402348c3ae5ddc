"""Read and write indexed (palette) PNG masks: HxW uint8 object ids, 0 = background.

DAVIS stores annotations as palette PNGs whose pixel values are object ids. DAVIS 2016
annotations also exist as grayscale 0/255 PNGs; both read as ids (255 -> 1 for binary masks).
In a mask that holds other ids too, 255 is DAVIS's void label: not an object, not scored
(:func:`split_void`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from ..fileio import atomic_write

_INDEXED_MODES = ("P", "L", "1")
VOID_ID = 255  # DAVIS: pixels that belong to no object and are not scored (object boundaries, ambiguous areas)


def split_void(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HxW (or NxHxW) uint8 ids -> (ids with void pixels set to background, bool void mask)."""
    void = ids == VOID_ID
    return np.where(void, 0, ids).astype(np.uint8), void


def davis_palette() -> list[int]:
    """The DAVIS (PASCAL VOC) palette: 256 RGB triples as a flat list of 768 ints.

    Colour of id ``i``: bit ``3k + c`` of ``i`` sets bit ``7 - k`` of channel ``c`` (R, G, B).
    Id 1 is (128, 0, 0), id 2 is (0, 128, 0), id 3 is (128, 128, 0) ...
    """
    palette: list[int] = []
    for index in range(256):
        rgb = [0, 0, 0]
        value = index
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette.extend(rgb)
    return palette


def binary_to_ids(values: np.ndarray) -> np.ndarray:
    """Map a 0/255 binary mask to 0/1 ids; any other HxW uint8 id map is returned unchanged."""
    present = np.unique(values)
    if present.size and present.max() == 255 and set(present.tolist()) <= {0, 255}:
        return (values == 255).astype(np.uint8)
    return values


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a palette ('P') or grayscale ('L') PNG as HxW uint8 object ids (0/255 -> 0/1)."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            mode = image.mode
            if mode not in _INDEXED_MODES:
                raise InputError(
                    f"mask {path}: expected a palette (P) or grayscale (L) PNG of object ids, "
                    f"got image mode {mode!r}"
                )
            values = np.array(image.convert("L") if mode == "1" else image, dtype=np.uint8)
    except (OSError, SyntaxError) as exc:
        raise InputError(f"mask {path}: cannot read it as an image ({exc})") from exc
    if mode == "1":
        values = (values > 0).astype(np.uint8)
    return binary_to_ids(values)


def check_ids(mask: np.ndarray, *, name: str) -> np.ndarray:
    """Validate an HxW uint8 id map; ``name`` says which input it is in the error message."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise InputError(
            f"{name}: expected an HxW uint8 array of object ids, "
            f"got shape {mask.shape} dtype {mask.dtype}"
        )
    return mask


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Write an HxW uint8 id map as a palette PNG with the DAVIS palette, atomically.

    The PNG is written to a temporary file in the same folder and renamed over ``path``.
    """
    path = Path(path)
    mask = check_ids(mask, name=f"mask for {path}")
    image = Image.fromarray(mask, mode="P")
    image.putpalette(davis_palette())
    atomic_write(path, lambda temp: image.save(temp, format="PNG"))
