"""Refine-translator: edits the last computed refined feature R with the delta map (reuse frames)."""

from __future__ import annotations

import torch
from torch import nn

from .refine_blocks import RRB


class RefineTranslator(nn.Module):
    """(R_prev BxCxh16xw16, delta Bx1xh16xw16) -> R_hat BxCxh16xw16.

    Three 3x3 convs with dilation 1, 2, 3 on concat(R_prev, delta), concat, 5x5 conv, RRB.
    """

    def __init__(self, *, ch: int, mid: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(ch + 1, mid, 3, padding=d, dilation=d), nn.ReLU()) for d in (1, 2, 3)
        )
        self.merge = nn.Conv2d(3 * mid, ch, 5, padding=2)
        self.rrb = RRB(in_ch=ch, ch=ch)

    def forward(self, refined_prev: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        x = torch.cat([refined_prev, delta], dim=1)
        x = torch.cat([b(x) for b in self.branches], dim=1)
        return self.rrb(self.merge(x))
