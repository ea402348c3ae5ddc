"""A few-channel backbone for tests: same strides and split as the real ones, runs in milliseconds."""

from __future__ import annotations

import torch
from torch import nn

from .layers import ImageNormalize

TINY_CHANNELS = {"f4": 8, "f8": 8, "f16": 8, "f32": 8}


def _down(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU())


class TinyLow(nn.Module):
    """image Bx3xHxW in [0, 1] -> (f4 Bx8xH/4xW/4, f8 Bx8xH/8xW/8)."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = ImageNormalize(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
        self.to_f4 = nn.Sequential(_down(3, 8), _down(8, 8))
        self.to_f8 = _down(8, 8)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f4 = self.to_f4(self.norm(image))
        return f4, self.to_f8(f4)


class TinyHigh(nn.Module):
    """f8 -> (f16 Bx8xH/16xW/16, f32 Bx8xH/32xW/32)."""

    def __init__(self) -> None:
        super().__init__()
        self.to_f16 = _down(8, 8)
        self.to_f32 = _down(8, 8)

    def forward(self, f8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f16 = self.to_f16(f8)
        return f16, self.to_f32(f16)
