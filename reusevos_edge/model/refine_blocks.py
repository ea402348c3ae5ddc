"""FRTM refinement-network blocks: TSE, RRB and CAB (all NCHW)."""

from __future__ import annotations

import torch
from torch import nn

from .layers import conv1x1, conv3x3, resize_to


class TSE(nn.Module):
    """Target segmentation encoder: reduce backbone features, append the score map, three 3x3 convs.

    feat BxCinxhxw, score Bx1xh'xw' (resized to h x w) -> Bxchxhxw.
    """

    def __init__(self, *, in_ch: int, ch: int) -> None:
        super().__init__()
        self.reduce = nn.Sequential(conv1x1(in_ch, ch), nn.ReLU(), conv1x1(ch, ch))
        self.fuse = nn.Sequential(
            conv3x3(ch + 1, ch + 1), nn.ReLU(), conv3x3(ch + 1, ch + 1), nn.ReLU(), conv3x3(ch + 1, ch), nn.ReLU()
        )

    def forward(self, feat: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        x = self.reduce(feat)
        return self.fuse(torch.cat([x, resize_to(score, x)], dim=1))


class RRB(nn.Module):
    """Residual refinement block: h = 1x1(x); relu(h + 3x3(relu(bn(3x3(h)))))."""

    def __init__(self, *, in_ch: int, ch: int) -> None:
        super().__init__()
        self.proj = conv1x1(in_ch, ch)
        self.body = nn.Sequential(conv3x3(ch, ch), nn.BatchNorm2d(ch), nn.ReLU(), conv3x3(ch, ch))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x)
        return self.relu(h + self.body(h))


class CAB(nn.Module):
    """Channel attention block: shallow * sigmoid(att(GAP([shallow, deeper]))) + deeper.

    shallow Bxchxhxw; deeper Bxdeep_chxh'xw' (adapted to ch with a 1x1 conv, then resized to h x w).
    """

    def __init__(self, *, ch: int, deeper_ch: int) -> None:
        super().__init__()
        self.adapt = conv1x1(deeper_ch, ch) if deeper_ch != ch else nn.Identity()
        self.att = nn.Sequential(conv1x1(2 * ch, ch), nn.ReLU(), conv1x1(ch, ch), nn.Sigmoid())

    def forward(self, shallow: torch.Tensor, deeper: torch.Tensor) -> torch.Tensor:
        deeper = resize_to(self.adapt(deeper), shallow)
        pooled = torch.cat([shallow, deeper], dim=1).mean(dim=(2, 3), keepdim=True)
        return shallow * self.att(pooled) + deeper


class RefineStage(nn.Module):
    """One refinement stage: TSE -> RRB -> CAB -> RRB. ``deeper=None`` uses global-pooled features (deepest stage)."""

    def __init__(self, *, in_ch: int, ch: int, deeper_ch: int) -> None:
        super().__init__()
        self.tse = TSE(in_ch=in_ch, ch=ch)
        self.rrb1 = RRB(in_ch=ch, ch=ch)
        self.cab = CAB(ch=ch, deeper_ch=deeper_ch)
        self.rrb2 = RRB(in_ch=ch, ch=ch)

    def forward(self, feat: torch.Tensor, score: torch.Tensor, deeper: torch.Tensor | None) -> torch.Tensor:
        x = self.rrb1(self.tse(feat, score))
        if deeper is None:
            deeper = x.mean(dim=(2, 3), keepdim=True).expand_as(x)
        return self.rrb2(self.cab(x, deeper))
