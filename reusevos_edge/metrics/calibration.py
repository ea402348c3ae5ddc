"""Does P_gate say how much the object changed? Reliability bins, expected calibration error, rank correlation.

The reuse gate is trained to output the IoU between the object's mask on the current frame and on the
last computed frame (paper Sec. 3.4). Given pairs (P_gate, that IoU) over object-frames:

- :func:`reliability_bins`: P_gate cut into equal-width bins; per bin the pair count, mean P_gate and
  mean IoU (a calibrated gate has the two means equal in every bin);
- :func:`expected_calibration_error`: the count-weighted mean of |mean P_gate - mean IoU| over the bins;
- :func:`spearman`: the rank correlation of P_gate and IoU. ECE says whether the probability means what
  it says; the rank correlation says whether it tells still frames from moving ones (a constant
  P_gate equal to the mean IoU has ECE 0 and no rank correlation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReliabilityBin:
    """P_gate in [lo, hi) (the last bin includes 1): how many pairs, their mean P_gate and mean IoU (NaN if empty)."""

    lo: float
    hi: float
    count: int
    mean_p: float
    mean_target: float


def _pairs(p, target) -> tuple[np.ndarray, np.ndarray]:
    p, target = np.asarray(p, np.float64).ravel(), np.asarray(target, np.float64).ravel()
    if p.shape != target.shape:
        raise ValueError(f"P_gate and IoU differ in length: {p.size} vs {target.size}")
    return p, target


def reliability_bins(p, target, *, bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width bins of ``p`` over [0, 1] with the mean ``p`` and mean ``target`` of each."""
    p, target = _pairs(p, target)
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    out = []
    for b in range(bins):
        sel = index == b
        count = int(sel.sum())
        out.append(ReliabilityBin(lo=b / bins, hi=(b + 1) / bins, count=count,
                                  mean_p=float(p[sel].mean()) if count else float("nan"),
                                  mean_target=float(target[sel].mean()) if count else float("nan")))
    return out


def expected_calibration_error(bins: list[ReliabilityBin]) -> float:
    """sum over bins of count / total * |mean P_gate - mean IoU| (NaN when there are no pairs)."""
    total = sum(b.count for b in bins)
    if total == 0:
        return float("nan")
    return float(sum(b.count / total * abs(b.mean_p - b.mean_target) for b in bins if b.count))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their average rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), np.float64)
    ranks[order] = np.arange(len(x))
    values, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / np.bincount(inverse))[inverse]


def spearman(p, target) -> float:
    """Spearman rank correlation in [-1, 1]; NaN with fewer than 2 pairs or a constant input."""
    p, target = _pairs(p, target)
    if p.size < 2:
        return float("nan")
    a, b = _ranks(p), _ranks(target)
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def logit_affine(p, a: float, b: float, *, eps: float = 1e-7):
    """sigmoid(a * logit(p) + b), p clipped to [eps, 1 - eps]: a float for a float, an array for an array.

    The one form of the gate calibration map (``TrackerConfig.gate_probability`` and its fit)."""
    q = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    out = 1.0 / (1.0 + np.exp(-(a * np.log(q / (1 - q)) + b)))
    return float(out) if out.ndim == 0 else out


def fit_logit_affine(p, target, *, iters: int = 50, eps: float = 1e-4) -> tuple[float, float]:
    """(a, b) minimising mean (sigmoid(a * logit(p) + b) - target)^2: the monotone re-mapping of a gate's
    probability that best matches ``target`` (Gauss-Newton with Levenberg damping, from the identity).
    ValueError when the best fit has a <= 0 (``p`` constant or falling as ``target`` rises: no increasing map)."""
    p, target = _pairs(p, target)
    if p.size < 2:
        raise ValueError(f"fitting a calibration needs at least 2 pairs, got {p.size}")
    q = np.clip(p, eps, 1 - eps)
    z = np.log(q / (1 - q))
    theta, damping = np.array([1.0, 0.0]), 1e-3

    def loss(t: np.ndarray) -> float:
        return float(np.mean((logit_affine(p, t[0], t[1], eps=eps) - target) ** 2))

    for _ in range(iters):
        s = logit_affine(p, theta[0], theta[1], eps=eps)
        jac = (s * (1 - s))[:, None] * np.stack([z, np.ones_like(z)], axis=1)
        step = np.linalg.solve(jac.T @ jac + damping * np.eye(2), jac.T @ (target - s))
        if loss(theta + step) < loss(theta):
            theta, damping = theta + step, damping / 3
        else:
            damping *= 10
    if not theta[0] > 1e-6:
        raise ValueError(f"P_gate does not rise with the IoU (fitted slope {theta[0]:.3g}): no increasing calibration map")
    return float(theta[0]), float(theta[1])
