"""DAVIS region (J) and boundary (F) measures, as the official davis2017-evaluation defines them.

All values here are fractions in [0, 1]; reports scale them to 0-100.

- J = |S and G| / |S or G|, 1 when the union is empty.
- F: boundary maps of both masks, each dilated by a disk of radius
  ``bound_pix = ceil(0.008 * sqrt(H^2 + W^2))``; precision = predicted boundary pixels within
  the dilated GT boundary / predicted boundary pixels, recall likewise for GT; F = 2PR/(P+R).
- A sequence is scored per object on frames 1 .. N-2 (first and last excluded); per object the
  statistics are mean, recall (share of frames > 0.5) and decay (mean of the first of 4 bins minus
  mean of the last).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError

BOUND_TH = 0.008
DECAY_BINS = 4


def jaccard(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> float:
    """Region similarity J (the IoU) of two HxW bool masks; 1.0 when both are empty.

    ``void``: HxW bool pixels left out of both masks (DAVIS annotation id 255).
    """
    pred, gt = pred.astype(bool), gt.astype(bool)
    if void is not None:
        keep = ~void.astype(bool)
        pred, gt = pred & keep, gt & keep
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """HxW bool boundary of an HxW bool mask.

    A pixel is boundary when it differs from its east, south or south-east neighbour, pixels
    outside the image counting as background. The last row compares only with the east
    neighbour, the last column only with the south one, and the bottom-right corner is never
    boundary.
    """
    seg = mask.astype(bool)
    east, south, south_east = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bound = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bound[-1, :] = seg[-1, :] ^ east[-1, :]
    bound[:, -1] = seg[:, -1] ^ south[:, -1]
    bound[-1, -1] = False
    return bound


def disk(radius: int) -> np.ndarray:
    """(2r+1)x(2r+1) uint8 disk: 1 where x^2 + y^2 <= r^2 (the shape of skimage's ``disk(r)``)."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def bound_pixels(height: int, width: int, bound_th: float = BOUND_TH) -> int:
    """Boundary tolerance in pixels: ``bound_th`` itself if >= 1, else a share of the diagonal."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(height, width)))


def _dilate(bound: np.ndarray, radius: int) -> np.ndarray:
    return cv2.dilate(bound.astype(np.uint8), disk(radius)).astype(bool)


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH, void: np.ndarray | None = None) -> float:
    """Boundary measure F of two HxW bool masks of the same size (``void`` pixels left out of both)."""
    radius = bound_pixels(*gt.shape[:2], bound_th)
    if void is not None:
        keep = ~void.astype(bool)
        pred, gt = pred.astype(bool) & keep, gt.astype(bool) & keep
    pred_b, gt_b = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = np.count_nonzero(pred_b), np.count_nonzero(gt_b)
    if n_pred == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    elif n_pred == 0:
        precision, recall = 1.0, 0.0
    elif n_gt == 0:
        precision, recall = 0.0, 1.0
    else:
        precision = np.count_nonzero(pred_b & _dilate(gt_b, radius)) / n_pred
        recall = np.count_nonzero(gt_b & _dilate(pred_b, radius)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Statistics:
    """Mean, recall (share > 0.5) and decay of a per-frame series, as fractions."""

    mean: float
    recall: float
    decay: float


def decay_bins(length: int, num_bins: int = DECAY_BINS) -> list[slice]:
    """The ``num_bins`` index ranges of a series of ``length`` used for decay.

    Edges are round-half-up(linspace(1, length, num_bins + 1)) - 1; bin i spans edge i to edge
    i+1 inclusive, so neighbouring bins share their edge frame.
    """
    edges = np.floor(np.linspace(1, length, num_bins + 1) + 0.5).astype(int) - 1
    return [slice(int(edges[i]), int(edges[i + 1]) + 1) for i in range(num_bins)]


def statistics(series: np.ndarray) -> Statistics:
    """Mean, recall and decay of a 1-D float series (NaNs left out of the means)."""
    series = np.asarray(series, dtype=np.float64)
    if series.size == 0:
        return Statistics(mean=math.nan, recall=math.nan, decay=math.nan)
    bins = decay_bins(series.size)
    decay = _nanmean(series[bins[0]]) - _nanmean(series[bins[-1]])
    recall = float(np.mean(series > 0.5))  # a NaN frame counts as a miss, as upstream
    return Statistics(mean=_nanmean(series), recall=recall, decay=decay)


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    valid = values[~np.isnan(values)]
    return float(valid.mean()) if valid.size else math.nan


@dataclass(frozen=True)
class ObjectScores:
    """Per-frame J and F of one object over the scored frames (1 .. N-2), and their statistics."""

    object_id: int
    j_frames: np.ndarray
    f_frames: np.ndarray
    j: Statistics
    f: Statistics


def scored_frames(num_frames: int) -> range:
    """Frame indices DAVIS scores: 1 .. N-2 (first and last excluded)."""
    return range(1, num_frames - 1)


def evaluate_sequence(
    pred: np.ndarray, gt: np.ndarray, *, object_ids: list[int] | None = None, void: np.ndarray | None = None
) -> list[ObjectScores]:
    """Score predicted NxHxW uint8 ids against GT NxHxW uint8 ids, per object.

    ``object_ids`` defaults to every non-zero id in the GT. Frames 0 and N-1 are not scored.
    ``void``: NxHxW bool pixels that count for no object (DAVIS annotation id 255), as the DAVIS toolkit.
    """
    _check_pair(pred, gt)
    ids = object_ids if object_ids is not None else [int(i) for i in np.unique(gt) if i != 0]
    frames = scored_frames(gt.shape[0])
    voids = [None if void is None else void[t] for t in range(gt.shape[0])]
    results = []
    for obj_id in ids:
        j_frames = np.array([jaccard(pred[t] == obj_id, gt[t] == obj_id, voids[t]) for t in frames])
        f_frames = np.array([boundary_f(pred[t] == obj_id, gt[t] == obj_id, void=voids[t]) for t in frames])
        results.append(
            ObjectScores(
                object_id=obj_id, j_frames=j_frames, f_frames=f_frames,
                j=statistics(j_frames), f=statistics(f_frames),
            )
        )
    return results


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape or gt.ndim != 3:
        raise InputError(
            f"predictions: expected NxHxW id maps shaped like the ground truth {gt.shape}, "
            f"got {pred.shape}"
        )
    if gt.shape[0] < 3:
        raise InputError(
            f"ground truth: DAVIS scores frames 1..N-2, so at least 3 frames are needed, "
            f"got {gt.shape[0]}"
        )


def jf_mean(objects: list[ObjectScores]) -> float:
    """Object-weighted J&F: (mean of per-object J means + mean of per-object F means) / 2."""
    if not objects:
        return math.nan
    j = float(np.mean([obj.j.mean for obj in objects]))
    f = float(np.mean([obj.f.mean for obj in objects]))
    return (j + f) / 2.0
