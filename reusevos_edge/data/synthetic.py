"""Synthetic clips for tests and demos: textured ellipses moving over a textured background.

Each object is an ellipse carrying its own noise texture (it moves with the object) and moves
in a straight line at ``speed_px`` pixels per frame, bouncing off the frame border. Objects
are stacked in id order (a higher id covers a lower one). Deterministic per ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class ObjectPath:
    """One object: radii (ry, rx), start centre (y, x), unit direction (dy, dx), colour, texture.

    ``texture`` is (2*ry+1)x(2*rx+1)x3 uint8 RGB, sampled relative to the centre.
    """

    radii: tuple[int, int]
    start: tuple[float, float]
    direction: tuple[float, float]
    texture: np.ndarray


def make_clip(
    *,
    num_frames: int,
    height: int,
    width: int,
    num_objects: int = 1,
    speed_px: float = 2.0,
    seed: int = 0,
    appear_at: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a clip: frames NxHxWx3 uint8 RGB and masks NxHxW uint8 ids (0 = background).

    ``speed_px=0`` gives a static clip. ``appear_at``: the object with the highest id is absent
    before this frame index (an object that appears later).
    """
    _check_args(num_frames, height, width, num_objects, speed_px, appear_at)
    rng = np.random.default_rng(seed)
    background = _texture(rng, height, width, base=rng.integers(40, 120, size=3))
    objects = [_make_object(rng, height, width) for _ in range(num_objects)]
    frames = np.repeat(background[None], num_frames, axis=0)
    masks = np.zeros((num_frames, height, width), dtype=np.uint8)
    for obj_id, obj in enumerate(objects, start=1):
        first = appear_at if (appear_at is not None and obj_id == num_objects) else 0
        for t in range(first, num_frames):
            centre = _position(obj, t * speed_px, height, width)
            _paint(frames[t], masks[t], obj, centre, obj_id)
    return frames, masks


def _check_args(num_frames, height, width, num_objects, speed_px, appear_at) -> None:
    if num_frames < 1 or height < 16 or width < 16:
        raise InputError(
            f"make_clip: expected num_frames >= 1 and height, width >= 16, "
            f"got {num_frames}, {height}, {width}"
        )
    if not 1 <= num_objects <= 255:
        raise InputError(f"make_clip: num_objects must be in 1..255, got {num_objects}")
    if speed_px < 0:
        raise InputError(f"make_clip: speed_px must be >= 0, got {speed_px}")
    if appear_at is not None and not 0 <= appear_at < num_frames:
        raise InputError(f"make_clip: appear_at must be in 0..{num_frames - 1}, got {appear_at}")


def _texture(rng: np.random.Generator, height: int, width: int, *, base) -> np.ndarray:
    """HxWx3 uint8: a base colour plus smooth blobs plus fine noise."""
    coarse = rng.normal(0.0, 1.0, size=(max(height // 8, 2), max(width // 8, 2), 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0.0, 12.0, size=(height, width, 3))
    image = np.asarray(base, dtype=np.float64) + 30.0 * smooth + fine
    return np.clip(image, 0, 255).astype(np.uint8)


def _make_object(rng: np.random.Generator, height: int, width: int) -> ObjectPath:
    ry = int(rng.integers(max(height // 8, 3), max(height // 5, 4) + 1))
    rx = int(rng.integers(max(width // 8, 3), max(width // 5, 4) + 1))
    start = (float(rng.uniform(ry, height - 1 - ry)), float(rng.uniform(rx, width - 1 - rx)))
    angle = rng.uniform(0.0, 2.0 * np.pi)
    base = rng.integers(130, 250, size=3)
    texture = _texture(rng, 2 * ry + 1, 2 * rx + 1, base=base)
    return ObjectPath(
        radii=(ry, rx), start=start, direction=(float(np.sin(angle)), float(np.cos(angle))),
        texture=texture,
    )


def bounce(value: float, low: float, high: float) -> float:
    """Fold ``value`` into [low, high] by reflection at both ends (a triangle wave)."""
    span = high - low
    if span <= 0:
        return low
    folded = (value - low) % (2.0 * span)
    return low + (folded if folded <= span else 2.0 * span - folded)


def _position(obj: ObjectPath, distance: float, height: int, width: int) -> tuple[float, float]:
    """Centre (y, x) after travelling ``distance`` pixels, bouncing inside the frame."""
    (ry, rx), (y0, x0), (dy, dx) = obj.radii, obj.start, obj.direction
    y = bounce(y0 + dy * distance, ry, height - 1 - ry)
    x = bounce(x0 + dx * distance, rx, width - 1 - rx)
    return y, x


def _paint(frame, mask, obj: ObjectPath, centre: tuple[float, float], obj_id: int) -> None:
    """Draw the ellipse into HxWx3 ``frame`` and HxW ``mask`` in place."""
    (ry, rx), (cy, cx) = obj.radii, centre
    height, width = mask.shape
    top, bottom = max(int(np.floor(cy - ry)), 0), min(int(np.ceil(cy + ry)) + 1, height)
    left, right = max(int(np.floor(cx - rx)), 0), min(int(np.ceil(cx + rx)) + 1, width)
    ys, xs = np.mgrid[top:bottom, left:right]
    inside = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 <= 1.0
    ty = np.clip(np.rint(ys - cy).astype(int) + ry, 0, 2 * ry)
    tx = np.clip(np.rint(xs - cx).astype(int) + rx, 0, 2 * rx)
    frame[top:bottom, left:right][inside] = obj.texture[ty, tx][inside]
    mask[top:bottom, left:right][inside] = obj_id
