"""TTVOS-style template (built once from frame 0) and template matching producing the dissimilarity feature D_t."""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import conv1x1, resize_to


def _branch(in_ch: int, ch: int, groups: int) -> nn.Sequential:
    """1x1 in->ch then grouped 5x5 ch->ch."""
    return nn.Sequential(conv1x1(in_ch, ch), nn.Conv2d(ch, ch, 5, padding=2, groups=groups))


class TemplateBuilder(nn.Module):
    """(f8 BxC8xh8xw8, mask8 Bx1xh8xw8) -> template BxTxT = softmax(V K^T / sqrt(h8*w8)) over the last axis."""

    def __init__(self, *, c8: int, ch: int, groups: int) -> None:
        super().__init__()
        self.key = _branch(c8 + 1, ch, groups)
        self.value = _branch(c8 + 1, ch, groups)

    def forward(self, f8: torch.Tensor, mask8: torch.Tensor) -> torch.Tensor:
        x = torch.cat([f8, mask8], dim=1)
        k = self.key(x).flatten(2)
        v = self.value(x).flatten(2)
        hw = k.shape[-1]
        return torch.softmax(torch.bmm(v, k.transpose(1, 2)) / math.sqrt(hw), dim=-1)


class TemplateMatcher(nn.Module):
    """(f8 BxC8xh8xw8, prev score Bx1xh16xw16, template BxTxT) -> D_t BxTxh8xw8."""

    def __init__(self, *, c8: int, ch: int, groups: int, blend_groups: int) -> None:
        super().__init__()
        self.key = _branch(c8 + 1, ch, groups)
        self.feature = _branch(c8 + 1, ch, groups)
        self.blend = nn.Sequential(
            nn.Conv2d(2 * ch, 2 * ch, 5, padding=2, groups=blend_groups), conv1x1(2 * ch, ch), nn.ReLU()
        )

    def forward(self, f8: torch.Tensor, prev_score: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
        x = torch.cat([f8, resize_to(prev_score, f8)], dim=1)
        k = self.key(x)
        sim = torch.bmm(template, k.flatten(2)).view_as(k)
        return self.blend(torch.cat([sim, self.feature(x)], dim=1))
