"""Small export-friendly building blocks shared by the backbones and heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def same_pad_amounts(kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) for inputs divisible by ``stride``: static, so exports see constants."""
    total = max(kernel - stride, 0)
    return total // 2, total - total // 2


class StaticSamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding computed once (the padding EfficientNet-Lite was trained with).

    Valid for input sizes divisible by the stride, which every frame size here is (multiples of 32).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, stride: int = 1, groups: int = 1, bias: bool = False) -> None:
        super().__init__(in_ch, out_ch, kernel, stride=stride, groups=groups, bias=bias, padding=0)
        before, after = same_pad_amounts(kernel, stride)
        self.pad = (before, after, before, after)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pad))


def conv3x3(in_ch: int, out_ch: int, *, dilation: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=dilation, dilation=dilation, bias=bias)


def conv1x1(in_ch: int, out_ch: int, *, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, bias=bias)


def resize_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Resize ``x`` (NCHW) to the spatial size of ``ref``: 2x average pool down, bilinear up, static sizes."""
    h, w = x.shape[-2:]
    th, tw = ref.shape[-2:]
    if (h, w) == (th, tw):
        return x
    if th * 2 == h and tw * 2 == w:
        return F.avg_pool2d(x, 2)
    return F.interpolate(x, size=(th, tw), mode="bilinear", align_corners=False)


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 upsample (NCHW) with a static output size."""
    h, w = x.shape[-2:]
    return F.interpolate(x, size=(2 * h, 2 * w), mode="bilinear", align_corners=False)


def adaptive_max_pool_static(x: torch.Tensor, out: int) -> torch.Tensor:
    """``adaptive_max_pool2d(x, out)`` written as static slices + amax, so every converter accepts it.

    x: NxCxHxW -> NxCxoutxout, with PyTorch's adaptive bins (start=floor(i*H/out), end=ceil((i+1)*H/out)).
    """
    h, w = x.shape[-2:]
    if h % out == 0 and w % out == 0:
        return F.max_pool2d(x, kernel_size=(h // out, w // out))
    rows = []
    for i in range(out):
        r0, r1 = (i * h) // out, -(-((i + 1) * h) // out)
        cols = []
        for j in range(out):
            c0, c1 = (j * w) // out, -(-((j + 1) * w) // out)
            cols.append(x[:, :, r0:r1, c0:c1].amax(dim=(2, 3), keepdim=True))
        rows.append(torch.cat(cols, dim=3))
    return torch.cat(rows, dim=2)


class ImageNormalize(nn.Module):
    """RGB float in [0, 1] (Nx3xHxW) -> normalised backbone input; constants live inside the program."""

    def __init__(self, *, mean: tuple[float, float, float], std: tuple[float, float, float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1.0 / torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) * self.inv_std
