"""ResNet18 features (the paper's G-FRTM-fast backbone), torchvision-compatible parameter names.

No weights are downloaded: pass user weights (a torchvision ``resnet18`` state dict works) through
the model checkpoint. Low part: stem+layer1+layer2 -> f4 (64 ch), f8 (128); high part: layer3,
layer4 -> f16 (256), f32 (512).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ImageNormalize

R18_CHANNELS = {"f4": 64, "f8": 128, "f16": 256, "f32": 512}


class BasicBlock(nn.Module):
    def __init__(self, *, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(h + skip)


def _layer(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(in_ch=in_ch, out_ch=out_ch, stride=stride), BasicBlock(in_ch=out_ch, out_ch=out_ch, stride=1))


class ResNet18Low(nn.Module):
    """image Bx3xHxW RGB in [0, 1] -> (f4 Bx64xH/4xW/4, f8 Bx128xH/8xW/8)."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = ImageNormalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = _layer(64, 64, 1)
        self.layer2 = _layer(64, 128, 2)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.norm(image)))))
        f4 = self.layer1(x)
        return f4, self.layer2(f4)


class ResNet18High(nn.Module):
    """f8 Bx128xH/8xW/8 -> (f16 Bx256xH/16xW/16, f32 Bx512xH/32xW/32)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer3 = _layer(128, 256, 2)
        self.layer4 = _layer(256, 512, 2)

    def forward(self, f8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f16 = self.layer3(f8)
        return f16, self.layer4(f16)
