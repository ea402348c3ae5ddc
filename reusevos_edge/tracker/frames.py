"""Host-side tensor preparation: frames and masks to model inputs, model outputs back to frame size."""

from __future__ import annotations

import cv2
import numpy as np


def set_host_threads(threads: int) -> None:
    """Run the tracker's host ops (OpenCV: frame resize, mask resizes, dilation) on at most ``threads``
    threads, process-wide. A run at N threads sets it beside the runtime's pool, so "1 thread" holds for
    the whole frame (OpenCV otherwise takes one thread per core)."""
    cv2.setNumThreads(int(threads))


def frame_to_input(frame: np.ndarray, *, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """HxWx3 uint8 RGB -> 1x3xheightxwidth model input: bilinear resize of the uint8 frame, then per value
    either float32 u / 255 (in [0, 1]) or, when ``out`` is int8, the code u - 128 (the byte with its top bit
    flipped: what an int8 bundle's ``backbone_low`` takes, :mod:`reusevos_edge.quant.image_codes`).

    Each uint8 plane is written straight into its slot of the NCHW output (no float HWC temporary and no
    transposing copy: about 3x faster than cast-then-transpose at 480p). ``out`` (1x3xheightxwidth, float32
    or int8) is written and returned when given: the tracker reuses one per video, since a fresh array per
    frame costs its page faults again every frame. Without ``out``: float32.
    """
    if frame.shape[:2] != (height, width):
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    if out is None:
        out = np.empty((1, 3, height, width), np.float32)
    if out.dtype == np.int8:
        codes = out.view(np.uint8)
        cv2.split(frame, [codes[0, 0], codes[0, 1], codes[0, 2]])
        np.bitwise_xor(codes, np.uint8(0x80), out=codes)
        return out
    for channel, plane in enumerate(cv2.split(frame)):
        np.multiply(plane, np.float32(1.0 / 255.0), out=out[0, channel])
    return out


def mask_to_model(mask: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """HxW bool/0-1 mask -> heightxwidth float32 coverage in [0, 1] (area resize)."""
    m = mask.astype(np.float32)
    if m.shape != (height, width):
        m = cv2.resize(m, (width, height), interpolation=cv2.INTER_AREA)
    return np.clip(m, 0.0, 1.0)


def block_mean(mask: np.ndarray, factor: int) -> np.ndarray:
    """heightxwidth float32 -> 1x1x(height/factor)x(width/factor) block means (the label at a feature stride)."""
    h, w = mask.shape
    if h % factor or w % factor:
        raise ValueError(f"block_mean: {h}x{w} is not a multiple of {factor}")
    # area interpolation by an integer factor is the mean of each factor x factor block
    return cv2.resize(mask.astype(np.float32, copy=False), (w // factor, h // factor),
                      interpolation=cv2.INTER_AREA)[None, None]


def logits_to_prob(logits: np.ndarray, *, height: int, width: int, out: np.ndarray | None = None) -> np.ndarray:
    """1x1xHmxWm logits -> heightxwidth float32 probability (sigmoid, bilinear resize to the frame).

    sigmoid(x) = (1 + tanh(x / 2)) / 2: four passes, no overflow to guard against (exp(-x) needed a clip
    first), within 1.2e-7 of 1 / (1 + exp(-x)). ``out`` (HmxWm float32): where the sigmoid is written (the
    tracker reuses one: a fresh 1 MB array per object-frame cost its page faults again, 0.15 ms at 384x672).
    """
    prob = np.multiply(logits[0, 0], np.float32(0.5), dtype=np.float32, out=out)
    np.tanh(prob, out=prob)
    prob *= np.float32(0.5)
    prob += np.float32(0.5)
    return resize_prob(prob, height=height, width=width)


def binary_mask(prob: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """HxW float32 probability -> HxW float32 1/0 where prob > 0.5 (one pass, no bool temporary), into
    ``out`` (HxW float32) when given."""
    return cv2.threshold(prob, 0.5, 1.0, cv2.THRESH_BINARY, dst=out)[1]


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
