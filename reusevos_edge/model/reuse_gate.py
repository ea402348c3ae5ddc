"""The reuse gate (P_gate from D_t) and the delta-generator (score edit from D_t)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import adaptive_max_pool_static


class ReuseGate(nn.Module):
    """D_t BxTxh8xw8 -> P_gate B (probability of reuse).

    max-pool to 7x7, conv3x3 s2, BN, max-pool to 3x3, conv3x3 -> 2 logits; P_gate = softmax(logits)[0].
    The last bias starts the gate open (reuse) with probability ``open_init``.
    """

    def __init__(self, *, ch: int, hidden: int, open_init: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, hidden, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, 2, 3)
        with torch.no_grad():
            self.conv2.bias.copy_(torch.tensor([math.log(open_init), math.log(1.0 - open_init)]))

    def logits(self, d: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv1(adaptive_max_pool_static(d, 7)))
        return self.conv2(adaptive_max_pool_static(x, 3)).flatten(1)

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(d), dim=1)[:, :1].flatten()  # a slice, not a select: XNNPACK delegates it


class DeltaGenerator(nn.Module):
    """D_t BxTxh8xw8 -> delta Bx1xh16xw16 (one 3x3 stride-2 conv): S_hat = S_prev + delta."""

    def __init__(self, *, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, 1, 3, stride=2, padding=1)

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return self.conv(d)
