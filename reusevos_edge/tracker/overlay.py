"""Draw what the tracker did: masks over the frame, COMPUTED/REUSED, and each object's decision."""

from __future__ import annotations

import cv2
import numpy as np

from ..data.masks_io import davis_palette
from .state import FrameRecord

PALETTE = np.array(davis_palette(), dtype=np.uint8).reshape(256, 3)


def frame_label(record: FrameRecord) -> str:
    """"REUSED" when the frame skipped the high backbone (every object reused), else "COMPUTED"
    ("NO OBJECT" before the first object starts)."""
    if not record.objects:
        return "NO OBJECT"
    return "COMPUTED" if "backbone_high" in record.ran else "REUSED"


def object_lines(record: FrameRecord) -> list[str]:
    """One line per object: id, decision (and what forced a computed frame) and P_gate."""
    lines = []
    for obj_id, obj in sorted(record.objects.items()):
        gate = "-" if obj.p_gate is None else f"{float(obj.p_gate):.2f}"
        decision = obj.decision if obj.forced is None else f"{obj.decision} (forced: {obj.forced.replace('_', ' ')})"
        lines.append(f"#{obj_id} {decision} P_gate {gate}")
    return lines


def blend_masks(frame: np.ndarray, labels: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """HxWx3 uint8 RGB ``frame`` with HxW uint8 ``labels`` tinted in palette colours and outlined."""
    out = frame.copy()
    fg = labels > 0
    out[fg] = ((1 - alpha) * frame[fg] + alpha * PALETTE[labels[fg]]).astype(np.uint8)
    for obj_id in np.unique(labels[fg]).tolist():
        contours, _ = cv2.findContours((labels == obj_id).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    return out


def draw_text_lines(image: np.ndarray, lines: list[str], *, colours: list[tuple[int, int, int]]) -> None:
    """Write ``lines`` top-left on HxWx3 uint8 ``image`` in place, each on a dark box."""
    scale = max(image.shape[0] / 600.0, 0.3)
    thickness = 1 if scale < 0.8 else 2
    y = 2
    for line, colour in zip(lines, colours):
        (w, h), base = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.rectangle(image, (0, y), (w + 4, y + h + base + 2), (0, 0, 0), -1)
        cv2.putText(image, line, (2, y + h + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
        y += h + base + 4


def render_overlay(frame: np.ndarray, labels: np.ndarray, record: FrameRecord) -> np.ndarray:
    """The overlay frame (HxWx3 uint8 RGB): masks, the COMPUTED/REUSED label and one line per object."""
    out = blend_masks(frame, labels)
    label = frame_label(record)
    head = (80, 220, 80) if label == "REUSED" else (255, 160, 40)
    lines = [f"{record.index:05d} {label}"] + object_lines(record)
    draw_text_lines(out, lines, colours=[head] + [(255, 255, 255)] * (len(lines) - 1))
    return out
