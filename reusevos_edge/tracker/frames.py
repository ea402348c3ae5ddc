"""Host-side tensor preparation: frames and masks to model inputs, model outputs back to frame size."""

from __future__ import annotations

import cv2
import numpy as np


def frame_to_input(frame: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """HxWx3 uint8 RGB -> 1x3xheightxwidth float32 in [0, 1] (bilinear resize)."""
    if frame.shape[:2] != (height, width):
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    x = frame.astype(np.float32)  # HWC first: a contiguous cast, then one transposing copy
    x /= np.float32(255.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1))[None]


def mask_to_model(mask: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """HxW bool/0-1 mask -> heightxwidth float32 coverage in [0, 1] (area resize)."""
    m = mask.astype(np.float32)
    if m.shape != (height, width):
        m = cv2.resize(m, (width, height), interpolation=cv2.INTER_AREA)
    return np.clip(m, 0.0, 1.0)


def block_mean(mask: np.ndarray, factor: int) -> np.ndarray:
    """heightxwidth float32 -> 1x1x(height/factor)x(width/factor) block means (the label at a feature stride)."""
    h, w = mask.shape
    return mask.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))[None, None].astype(np.float32)


def logits_to_prob(logits: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """1x1xHmxWm logits -> heightxwidth float32 probability (sigmoid, bilinear resize to the frame)."""
    prob = 1.0 / (1.0 + np.exp(-np.clip(logits[0, 0], -60.0, 60.0)))
    return resize_prob(prob.astype(np.float32), height=height, width=width)


def resize_prob(prob: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """HmxWm float32 probability -> heightxwidth (bilinear; unchanged when the size already matches)."""
    if prob.shape != (height, width):
        prob = cv2.resize(prob, (width, height), interpolation=cv2.INTER_LINEAR)
    return prob


def locality_window(mask16: np.ndarray, radius: int) -> np.ndarray:
    """1x1xhxw mask coverage at 1/16 -> 1x1xhxw 0/1 window: cells within ``radius`` cells of a covered one.

    A cell counts as covered above 10% coverage; with no covered cell the window is all ones (search everywhere).
    """
    covered = mask16[0, 0] > 0.1
    if not covered.any():
        return np.ones_like(mask16, dtype=np.float32)
    k = 2 * radius + 1
    window = cv2.dilate(covered.astype(np.uint8), np.ones((k, k), np.uint8))
    return window.astype(np.float32)[None, None]
