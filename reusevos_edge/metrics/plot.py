"""Plain line/scatter charts drawn with OpenCV (no plotting dependency): the benchmarks' PNG figures."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, GREY, BLUE, ORANGE = (0, 0, 0), (225, 225, 225), (200, 90, 20), (20, 140, 240)


def nice_step(span: float, target: int = 6) -> float:
    """A 1/2/2.5/5 x 10^k tick step giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-9) / target
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


@dataclass(frozen=True)
class Axes:
    """A white HxWx3 BGR canvas with a framed, gridded plot box mapping data (x, y) to pixels.

    x_range / y_range: (lo, hi) data limits; x_step / y_step: tick spacing.
    """

    width: int
    height: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_step: float
    y_step: float
    left: int = 80
    right: int = 40
    top: int = 50
    bottom: int = 70

    def px(self, x: float) -> int:
        lo, hi = self.x_range
        return int(round(self.left + (self.width - self.right - self.left) * (x - lo) / (hi - lo)))

    def py(self, y: float) -> int:
        lo, hi = self.y_range
        return int(round(self.height - self.bottom - (self.height - self.bottom - self.top) * (y - lo) / (hi - lo)))

    def draw(self, *, title: str, xlabel: str, ylabel: str, x_format: str = "{:.1f}", y_format: str = "{:g}") -> np.ndarray:
        """The empty chart: grid, ticks with labels, frame, axis labels and title."""
        img = np.full((self.height, self.width, 3), 255, np.uint8)
        x0, x1, y0, y1 = self.left, self.width - self.right, self.height - self.bottom, self.top
        for v in _ticks(self.x_range, self.x_step):
            x = self.px(v)
            cv2.line(img, (x, y0), (x, y1), GREY, 1)
            cv2.line(img, (x, y0), (x, y0 + 6), BLACK, 1)
            _text(img, x_format.format(v), (x, y0 + 10), 0.45, anchor="top")
        for v in _ticks(self.y_range, self.y_step):
            y = self.py(v)
            cv2.line(img, (x0, y), (x1, y), GREY, 1)
            cv2.line(img, (x0 - 6, y), (x0, y), BLACK, 1)
            _text(img, y_format.format(v), (x0 - 10, y), 0.45, anchor="right")
        cv2.rectangle(img, (x0, y1), (x1, y0), BLACK, 1)
        _text(img, xlabel, ((x0 + x1) // 2, self.height - 18), 0.6, anchor="bottom")
        _text(img, title, (self.width // 2, 30), 0.6, anchor="bottom")
        _vertical_text(img, ylabel, x=8, y_center=(y0 + y1) // 2)
        return img


def _ticks(limits: tuple[float, float], step: float) -> list[float]:
    lo, hi = limits
    n = int(math.floor((hi - lo) / step + 1e-6))
    return [lo + i * step for i in range(n + 1)]


def _text(img: np.ndarray, label: str, at: tuple[int, int], scale: float, *, anchor: str) -> None:
    """Draw ``label`` centred above (``bottom``) / below (``top``) ``at``, or ending left of it (``right``)."""
    (tw, th), _ = cv2.getTextSize(label, FONT, scale, 1)
    x, y = at
    origin = {"top": (x - tw // 2, y + th), "bottom": (x - tw // 2, y), "right": (x - tw, y + th // 2)}[anchor]
    cv2.putText(img, label, origin, FONT, scale, BLACK, 1, cv2.LINE_AA)


def _vertical_text(img: np.ndarray, label: str, *, x: int, y_center: int) -> None:
    (tw, th), _ = cv2.getTextSize(label, FONT, 0.6, 1)
    text = np.full((th + 10, tw + 10, 3), 255, np.uint8)
    cv2.putText(text, label, (5, th + 3), FONT, 0.6, BLACK, 1, cv2.LINE_AA)
    text = cv2.rotate(text, cv2.ROTATE_90_COUNTERCLOCKWISE)
    ty = y_center - text.shape[0] // 2
    region = img[ty : ty + text.shape[0], x : x + text.shape[1]]
    region[...] = np.minimum(region, text)


def encode_png(img: np.ndarray) -> bytes:
    ok, png = cv2.imencode(".png", img)
    if not ok:
        raise RuntimeError("cv2.imencode failed to encode the plot")
    return png.tobytes()
