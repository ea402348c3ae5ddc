"""Refinement network split for reuse: deep stages (f32, f16) make R; shallow stages (f8, f4) + head run every frame."""

from __future__ import annotations

import torch
from torch import nn

from .config import HeadConfig
from .layers import resize_to, upsample2
from .refine_blocks import RefineStage

PRIOR_GAIN = 8.0  # G: logit per unit of score
RESIDUAL_BOUND = HeadConfig.residual_bound  # B by default: the decoder's reach in logits (3: 0.5 +- 3/8 can be overturned)


class RefineDeep(nn.Module):
    """(f16 BxC16xh16xw16, f32 BxC32xh32xw32, score Bx1xh16xw16) -> R Bxdeep_chxh16xw16."""

    def __init__(self, *, c16: int, c32: int, ch: int) -> None:
        super().__init__()
        self.stage32 = RefineStage(in_ch=c32, ch=ch, deeper_ch=ch)
        self.stage16 = RefineStage(in_ch=c16, ch=ch, deeper_ch=ch)

    def forward(self, f16: torch.Tensor, f32: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        x32 = self.stage32(f32, score, None)
        return self.stage16(f16, score, x32)


class RefineShallow(nn.Module):
    """(f4, f8, R Bxdeep_chxh16xw16, score Bx1xh16xw16) -> mask logits Bx1xHxW (H = 4 * f4 height).

    Head: x2 up, 3x3 conv, relu, 3x3 conv -> logits at 1/2, bilinear x2 to the frame (cheaper than
    convolving at full size, where the thin head channels are memory-bound on phones and CPUs).
    Score prior (ours, not in the paper): logits = G * (S - 0.5) + B * tanh(head / B) at 1/2, with S
    the score upsampled. The online-fitted score generator decides the object (its 0.5 level is the
    mask edge) and the decoder, trained on 30 DAVIS sequences only, refines edges and weak evidence
    within +-B but cannot veto a confident score (unbounded, it learns to veto unseen classes).
    ``bound`` is B (``HeadConfig.residual_bound``): no weight depends on it, so it can be narrowed after
    training (measured: a decoder trained at B = 3 generalises better read at B = 1, see the model card).
    """

    def __init__(self, *, c4: int, c8: int, deep_ch: int, ch8: int, ch4: int, head_ch: int,
                 bound: float = RESIDUAL_BOUND) -> None:
        super().__init__()
        self.bound = float(bound)
        self.stage8 = RefineStage(in_ch=c8, ch=ch8, deeper_ch=deep_ch)
        self.stage4 = RefineStage(in_ch=c4, ch=ch4, deeper_ch=ch8)
        self.head1 = nn.Sequential(nn.Conv2d(ch4, head_ch, 3, padding=1), nn.ReLU())
        self.head2 = nn.Conv2d(head_ch, 1, 3, padding=1)

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, refined: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        x8 = self.stage8(f8, score, refined)
        x4 = self.stage4(f4, score, x8)
        x2 = upsample2(x4)
        prior = PRIOR_GAIN * (resize_to(score, x2) - 0.5)
        return upsample2(prior + self.bound * torch.tanh(self.head2(self.head1(x2)) / self.bound))
