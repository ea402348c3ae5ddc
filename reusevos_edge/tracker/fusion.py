"""Soft aggregation of per-object probabilities into one label map (multi-object tracking)."""

from __future__ import annotations

import numpy as np

P_CLAMP = 1e-7


def soft_aggregate(probs: np.ndarray) -> np.ndarray:
    """probs KxHxW (object k's foreground probability) -> HxW index in 0..K (0 = background).

    Background probability is min_k (1 - p_k); each channel becomes its logit p / (1 - p) and the
    label is the argmax of softmax over [background, objects] (softmax keeps the argmax of the logits).
    """
    if probs.ndim != 3:
        raise ValueError(f"probs must be KxHxW, got shape {probs.shape}")
    if probs.shape[0] == 0:
        return np.zeros(probs.shape[1:], np.uint8)
    p = np.clip(probs, P_CLAMP, 1.0 - P_CLAMP)
    bg = np.min(1.0 - p, axis=0, keepdims=True)
    stack = np.concatenate([bg, p], axis=0)
    logits = np.log(stack / (1.0 - stack))
    return np.argmax(logits, axis=0).astype(np.uint8)


def fuse_labels(probs: dict[int, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Per-object HxW probabilities keyed by object id -> HxW uint8 label map of object ids."""
    ids = sorted(probs)
    if not ids:
        return np.zeros(shape, np.uint8)
    index = soft_aggregate(np.stack([probs[i] for i in ids]))
    lut = np.array([0, *ids], dtype=np.uint8)
    return lut[index]
