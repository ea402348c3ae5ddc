"""The reuse gates (P_gate from D_t) and the delta-generator (score edit from D_t)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import adaptive_max_pool_static


class ReuseGate(nn.Module):
    """The paper's gate, frame-wide: (D_t BxTxh8xw8, S8 Bx1xh8xw8, unused) -> P_gate B (probability of reuse).

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

    def forward(self, d: torch.Tensor, s8: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(d), dim=1)[:, :1].flatten()  # a slice, not a select: XNNPACK delegates it


class ObjectGate(nn.Module):
    """The object-centred gate: (D_t BxTxh8xw8, S8 Bx1xh8xw8 the previous score at 1/8) -> P_gate B.

    w = clamp(maxpool_{2r+1}(S8), 0, 1): the previous object's region grown by r = ``window`` cells (1/8);
    x = max-pool of D_t w to 7x7; z = [max over the 49 cells, mean over them] (2T); P_gate = sigmoid(linear(z)).
    One linear layer on pooled statistics: the frame-wide conv gate fitted to 24 sequences learns them
    apart rather than what changed around the object (``benchmarks/fit_gate.py`` measures both on held-out
    sequences). The bias starts the gate open with probability ``open_init``.
    """

    def __init__(self, *, ch: int, window: int, open_init: float) -> None:
        super().__init__()
        self.window = window
        self.linear = nn.Linear(2 * ch, 1)
        with torch.no_grad():
            self.linear.weight.mul_(0.01)
            self.linear.bias.fill_(math.log(open_init / (1.0 - open_init)))

    def features(self, d: torch.Tensor, s8: torch.Tensor) -> torch.Tensor:
        """z Bx2T: what the linear layer reads (also what ``fit_gate`` fits it on)."""
        r = self.window
        w = F.max_pool2d(s8, 2 * r + 1, stride=1, padding=r).clamp(0.0, 1.0) if r else s8.clamp(0.0, 1.0)
        x = adaptive_max_pool_static(d * w, 7)
        return torch.cat([adaptive_max_pool_static(x, 1), x.mean(dim=(2, 3), keepdim=True)], dim=1).flatten(1)

    def forward(self, d: torch.Tensor, s8: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(self.features(d, s8))).flatten()


class DeltaGenerator(nn.Module):
    """D_t BxTxh8xw8 -> delta Bx1xh16xw16 (one 3x3 stride-2 conv): S_hat = S_prev + delta."""

    def __init__(self, *, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, 1, 3, stride=2, padding=1)

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return self.conv(d)
