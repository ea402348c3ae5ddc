"""The three loss terms of G-FRTM training and the gate-margin schedule (paper Eq. 3-6), and the gate's
teacher loss of quantization-aware training."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def margin(epoch: int, *, m1: float, margin_epochs: int) -> float:
    """m = m1 * epoch / ep_T, reaching m1 at ``margin_epochs`` and staying there."""
    if margin_epochs <= 0:
        return m1
    return m1 * min(epoch / margin_epochs, 1.0)


def gate_probability_loss(p_gate: torch.Tensor, iou: torch.Tensor, *, m: float, m2: float) -> torch.Tensor:
    """max(m2, |P_gate - max(m, IoU)|)^2 with the margin m really applied (the public code forgets it)."""
    target = torch.clamp(iou, min=m)
    return torch.clamp((p_gate - target).abs(), min=m2) ** 2


def gate_teacher_loss(p_gate: torch.Tensor, p_teacher: torch.Tensor) -> torch.Tensor:
    """(P_gate - P_teacher)^2: the gate follows a frozen teacher's probability (QAT: the float model's)."""
    return (p_gate - p_teacher.detach()) ** 2


def delta_loss(delta: torch.Tensor, label16: torch.Tensor, prev_score: torch.Tensor) -> torch.Tensor:
    """MSE(delta, y'_t - S_prev): the delta map should move the last computed score to the current label."""
    return F.mse_loss(delta, label16 - prev_score)


def mask_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on the full-size mask logits (Bx1xHxW)."""
    return F.binary_cross_entropy_with_logits(logits, mask)
