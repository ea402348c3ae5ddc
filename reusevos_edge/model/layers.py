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
    Symmetric padding (every stride-1 conv) is the conv's own; only the asymmetric padding of
    stride-2 convs is an explicit pad, so exported graphs carry no separate pad op where none is needed
    (in an int8 graph each one is a quantized copy of the whole activation).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, stride: int = 1, groups: int = 1, bias: bool = False) -> None:
        before, after = same_pad_amounts(kernel, stride)
        own = before if before == after else 0
        super().__init__(in_ch, out_ch, kernel, stride=stride, groups=groups, bias=bias, padding=own)
        self.pad = None if before == after else (before, after, before, after)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x if self.pad is None else F.pad(x, self.pad))


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


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive-pooling bins along one axis: ``[floor(i*size/out), ceil((i+1)*size/out))``."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _uniform_bins(bins: list[tuple[int, int]]) -> tuple[int, int] | None:
    """``(kernel, stride)`` when the bins are one strided window (equal sizes, evenly spaced starts), else None.

    Repeated bins (stride 0, only when the axis is shorter than the output) are not a window.
    """
    kernel = bins[0][1] - bins[0][0]
    stride = bins[1][0] - bins[0][0] if len(bins) > 1 else kernel
    if stride >= 1 and all(end - start == kernel and start == i * stride for i, (start, end) in enumerate(bins)):
        return kernel, stride
    return None


def _max_pool_axis(x: torch.Tensor, bins: list[tuple[int, int]], dim: int) -> torch.Tensor:
    """Max over each bin of axis ``dim`` (2 or 3) of NCHW ``x`` with max_pool2d, static slices and one cat."""

    def pool(kernel: int, stride: int) -> torch.Tensor:
        if kernel == 1 and stride == 1:
            return x
        along = (kernel, 1) if dim == 2 else (1, kernel)
        return F.max_pool2d(x, kernel_size=along, stride=(stride, 1) if dim == 2 else (1, stride))

    uniform = _uniform_bins(bins)
    if uniform is not None:
        return pool(*uniform)
    # Non-uniform bins: one stride-1 pool per distinct bin size (row s = max over [s, s+k)), then pick
    # each bin's start; runs of adjacent same-size bins with consecutive starts share one slice.
    pooled = {k: pool(k, 1) for k in sorted({end - start for start, end in bins})}
    runs: list[list[int]] = []  # [kernel, first start, last start + 1]
    for start, end in bins:
        if runs and runs[-1][0] == end - start and runs[-1][2] == start:
            runs[-1][2] += 1
        else:
            runs.append([end - start, start, start + 1])
    pieces = [pooled[k].narrow(dim, a, b - a) for k, a, b in runs]
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=dim)


def adaptive_max_pool_static(x: torch.Tensor, out: int) -> torch.Tensor:
    """``adaptive_max_pool2d(x, out)``, bit-exact, from max_pool2d + static slices + cat (ops every backend delegates).

    x: NxCxHxW -> NxCxoutxout, with PyTorch's adaptive bins (start=floor(i*H/out), end=ceil((i+1)*H/out)).
    When both axes' bins are evenly spaced windows of one size (e.g. 36x64 -> 7x7: kernel 6x10, stride 5x9;
    4x4 -> 3x3: kernel 2, stride 1) this is a single max_pool2d. Otherwise the max is taken per axis (max is
    separable and exact, so the result is identical), each axis with stride-1 pools of its bin sizes
    followed by static slices at the bin starts.
    """
    h, w = x.shape[-2:]
    rows, cols = adaptive_bins(h, out), adaptive_bins(w, out)
    ur, uc = _uniform_bins(rows), _uniform_bins(cols)
    if ur is not None and uc is not None:
        if ur == uc == (1, 1):
            return x
        return F.max_pool2d(x, kernel_size=(ur[0], uc[0]), stride=(ur[1], uc[1]))
    if uc is not None:  # pool the evenly binned axis first: the second pass sees a smaller tensor
        return _max_pool_axis(_max_pool_axis(x, cols, 3), rows, 2)
    return _max_pool_axis(_max_pool_axis(x, rows, 2), cols, 3)


class ImageNormalize(nn.Module):
    """RGB float in [0, 1] (Nx3xHxW) -> normalised backbone input; constants live inside the program."""

    def __init__(self, *, mean: tuple[float, float, float], std: tuple[float, float, float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1.0 / torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) * self.inv_std
