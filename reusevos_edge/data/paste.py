"""Synthetic training videos made from DAVIS train sequences: a thing pasted onto another video, moving.

Each clip takes a background video (frames of one training sequence, its own object left unlabelled:
it is a distractor now), pastes a *target* onto it and moves it with a random affine path (drift,
scale change, rotation); with some probability a second, unlabelled thing crosses the frame, over or
under the target (occlusion). The target is either an object cut out of another training frame with
its mask, or a random polygon filled with a patch of another training frame: a thing of no DAVIS
class, so the decoder learns to follow the fitted score rather than veto what it has not seen.

Only the sequences given are read (pass the training split: never val or test). Deterministic per
``seed``. A :class:`PastedSequence` has the ``name`` / ``__len__`` / ``iter_frames()`` / ``load_masks()``
of :class:`~reusevos_edge.data.davis.Sequence`, so the training feature cache takes it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import cv2
import numpy as np

from ..errors import InputError
from .synthetic import bounce


class SourceSequence(Protocol):
    name: str

    def __len__(self) -> int: ...
    def load_frame(self, index: int) -> np.ndarray: ...
    def load_mask(self, index: int) -> np.ndarray: ...


@dataclass(frozen=True)
class PasteConfig:
    """How clips are drawn. Lengths in pixels of the background frame; speeds per frame.

    shape_prob: share of targets that are textured random polygons (the rest: cut-out objects).
    distractor_prob: share of clips with a second, unlabelled pasted thing; it passes over the target
    (occluding it) half of the time.
    """

    num_frames: int = 30
    target_area: tuple[float, float] = (0.02, 0.25)  # of the frame, on the first frame
    max_speed: float = 0.02  # of the frame width per frame
    scale_drift: float = 0.3  # total relative scale change over the clip, +-
    max_rotation_deg: float = 30.0  # total over the clip, +-
    shape_prob: float = 0.5
    distractor_prob: float = 0.5


@dataclass(frozen=True)
class _Sprite:
    """An RGB patch hxwx3 uint8 with its alpha hxw float32 in [0, 1] (the thing's shape)."""

    rgb: np.ndarray
    alpha: np.ndarray


@dataclass(frozen=True)
class _Path:
    """Affine motion of a sprite: centre (x, y) + velocity per frame, scale and rotation linear in time."""

    centre: tuple[float, float]
    velocity: tuple[float, float]
    scale: tuple[float, float]
    angle: tuple[float, float]

    def matrix(self, sprite: _Sprite, t: float) -> np.ndarray:
        """2x3 affine map from sprite pixels to frame pixels at time t in [0, 1] x clip length."""
        h, w = sprite.alpha.shape
        s = self.scale[0] + (self.scale[1] - self.scale[0]) * t
        a = self.angle[0] + (self.angle[1] - self.angle[0]) * t
        return cv2.getRotationMatrix2D((w / 2.0, h / 2.0), a, s)


class PastedSequence:
    """One generated clip, drawn on first use: frames NxHxWx3 uint8 RGB, masks NxHxW (1 = target)."""

    def __init__(self, *, name: str, frames: np.ndarray, masks: np.ndarray) -> None:
        self.name, self.frames, self.masks = name, frames, masks

    def __len__(self) -> int:
        return len(self.frames)

    def iter_frames(self) -> Iterator[np.ndarray]:
        return iter(self.frames)

    def load_masks(self, count: int | None = None) -> np.ndarray:
        return self.masks if count is None else self.masks[:count]


def pasted_sequences(sources: list[SourceSequence], *, count: int, seed: int = 0,
                     config: PasteConfig | None = None) -> list[PastedSequence]:
    """``count`` clips drawn from ``sources`` (training sequences with at least 2 of them)."""
    if len(sources) < 2:
        raise InputError(f"pasted clips need at least 2 source sequences, got {len(sources)}")
    if count < 0:
        raise InputError(f"pasted clip count must be >= 0, got {count}")
    cfg = config or PasteConfig()
    return [make_pasted_clip(sources, rng=np.random.default_rng([seed, i]), config=cfg, name=f"paste{seed}-{i:03d}")
            for i in range(count)]


def make_pasted_clip(sources: list[SourceSequence], *, rng: np.random.Generator, config: PasteConfig,
                     name: str) -> PastedSequence:
    """One clip (see the module doc); retries the draw until the target is visible on the first frame."""
    background = sources[int(rng.integers(len(sources)))]
    frames = _background_frames(background, config.num_frames, rng)
    height, width = frames.shape[1:3]
    others = [s for s in sources if s is not background]
    for _ in range(20):
        target = _sprite(others, rng, config)
        path = _path(target, rng, config, height=height, width=width)
        alpha = _render_alpha(target, path, config.num_frames, height, width)
        if alpha[0].mean() >= 0.5 * config.target_area[0]:
            break
    occluder = None
    if rng.random() < config.distractor_prob:
        thing = _sprite(others, rng, config)
        occluder = (thing, _path(thing, rng, config, height=height, width=width), bool(rng.random() < 0.5))
    return PastedSequence(name=name, **_compose(frames, target, path, alpha, occluder))


def _background_frames(seq: SourceSequence, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` consecutive frames (ping-pong where the sequence is shorter), NxHxWx3 uint8."""
    n = len(seq)
    start = int(rng.integers(max(n - count, 0) + 1))
    cycle = list(range(n)) + list(range(n - 2, 0, -1)) or [0]
    return np.stack([seq.load_frame(cycle[(start + i) % len(cycle)]) for i in range(count)])


def _sprite(sources: list[SourceSequence], rng: np.random.Generator, config: PasteConfig) -> _Sprite:
    seq = sources[int(rng.integers(len(sources)))]
    frame = seq.load_frame(int(rng.integers(len(seq))))
    if rng.random() < config.shape_prob:
        return _polygon_sprite(frame, rng, config)
    return _cutout_sprite(seq, rng) or _polygon_sprite(frame, rng, config)


def _polygon_sprite(frame: np.ndarray, rng: np.random.Generator, config: PasteConfig) -> _Sprite:
    """A random star-shaped polygon (5-12 vertices) filled with a patch of ``frame``, colours shifted."""
    height, width = frame.shape[:2]
    area = rng.uniform(*config.target_area) * height * width
    r = float(np.sqrt(area / np.pi))
    side = int(2 * r * 1.3) + 3
    k = int(rng.integers(5, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = r * rng.uniform(0.5, 1.25, k)
    pts = np.stack([side / 2 + radii * np.cos(angles), side / 2 + radii * np.sin(angles)], 1)
    alpha = np.zeros((side, side), np.uint8)
    cv2.fillPoly(alpha, [np.round(pts).astype(np.int32)], 1)
    y, x = int(rng.integers(max(height - side, 0) + 1)), int(rng.integers(max(width - side, 0) + 1))
    patch = cv2.resize(frame[y : y + side, x : x + side], (side, side))
    gain = rng.uniform(0.6, 1.4, 3)  # a colour of its own, not the background's
    rgb = np.clip(patch.astype(np.float32) * gain + rng.uniform(-40, 40, 3), 0, 255).astype(np.uint8)
    return _Sprite(rgb=rgb, alpha=alpha.astype(np.float32))


def _cutout_sprite(seq: SourceSequence, rng: np.random.Generator) -> _Sprite | None:
    """The annotated object of a random frame of ``seq`` with its bounding box, or None when it is tiny."""
    i = int(rng.integers(len(seq)))
    mask = seq.load_mask(i)
    mask = (mask > 0) & (mask != 255)
    ys, xs = np.nonzero(mask)
    if len(ys) < 0.005 * mask.size:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgb = seq.load_frame(i)[y0:y1, x0:x1]
    return _Sprite(rgb=np.ascontiguousarray(rgb), alpha=mask[y0:y1, x0:x1].astype(np.float32))


def _path(sprite: _Sprite, rng: np.random.Generator, config: PasteConfig, *, height: int, width: int) -> _Path:
    area = float(sprite.alpha.sum())
    want = rng.uniform(*config.target_area) * height * width
    s0 = float(np.clip(np.sqrt(want / max(area, 1.0)), 0.2, 4.0))
    s1 = s0 * (1.0 + rng.uniform(-config.scale_drift, config.scale_drift))
    a1 = float(rng.uniform(-config.max_rotation_deg, config.max_rotation_deg))
    speed = rng.uniform(0, config.max_speed) * width
    heading = rng.uniform(0, 2 * np.pi)
    centre = (float(rng.uniform(0.2, 0.8) * width), float(rng.uniform(0.2, 0.8) * height))
    return _Path(centre=centre, velocity=(speed * np.cos(heading), speed * np.sin(heading)), scale=(s0, s1),
                 angle=(0.0, a1))


def _warp(image: np.ndarray, sprite: _Sprite, path: _Path, t: int, n: int, height: int, width: int) -> np.ndarray:
    """``image`` (a sprite plane) placed in a heightxwidth frame at frame t of n (linear interpolation)."""
    m = path.matrix(sprite, t / max(n - 1, 1))
    h, w = sprite.alpha.shape
    cx = bounce(path.centre[0] + path.velocity[0] * t, 0.1 * width, 0.9 * width)
    cy = bounce(path.centre[1] + path.velocity[1] * t, 0.1 * height, 0.9 * height)
    m[:, 2] += (cx - w / 2.0, cy - h / 2.0)
    return cv2.warpAffine(image, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _render_alpha(sprite: _Sprite, path: _Path, n: int, height: int, width: int) -> np.ndarray:
    return np.stack([_warp(sprite.alpha, sprite, path, t, n, height, width) for t in range(n)])


def _compose(frames: np.ndarray, target: _Sprite, path: _Path, alpha: np.ndarray,
             occluder: tuple[_Sprite, _Path, bool] | None) -> dict[str, np.ndarray]:
    """Paste target (and the occluder, over or under it) onto every frame; mask = the visible target."""
    n, height, width = frames.shape[:3]
    out = frames.astype(np.float32)
    masks = np.zeros((n, height, width), np.uint8)
    for t in range(n):
        layers = [(_warp(target.rgb, target, path, t, n, height, width), alpha[t], True)]
        if occluder is not None:
            thing, thing_path, over = occluder
            plane = (_warp(thing.rgb, thing, thing_path, t, n, height, width),
                     _warp(thing.alpha, thing, thing_path, t, n, height, width), False)
            layers = layers + [plane] if over else [plane] + layers
        visible = np.zeros((height, width), np.float32)
        for rgb, a, is_target in layers:
            out[t] = out[t] * (1.0 - a[..., None]) + rgb.astype(np.float32) * a[..., None]
            visible = a if is_target else visible * (1.0 - a)
        masks[t] = visible > 0.5
    return {"frames": np.clip(out, 0, 255).astype(np.uint8), "masks": masks}
