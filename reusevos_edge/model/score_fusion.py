"""Score fusion (ours, not in the paper): the appearance score corrected with where the object just was.

The online score generator is an appearance model fitted on the first frame only; it misses object parts
whose look changes (a car roof reflecting a building) and fires on look-alikes elsewhere (a red pole next
to a dog). The fusion sees three maps at 1/16 and nothing else:

- ``s_app``: this frame's appearance score (score generator);
- ``s_prop = S_prev + delta``: the last computed score moved by the template-matching delta;
- ``m_prev``: the previous frame's output mask (block mean at 1/16).

It adds a bounded residual, ``B tanh(r / B)`` with B = 0.5, to ``s_app`` (its last conv starts at zero,
so an untrained fusion passes ``s_app`` through). The bound keeps the appearance score in charge where it
is confident: the fusion can lift a half-seen part over the 0.5 mask level or push a look-alike under it,
but cannot paint object where the appearance model sees clear background; without it, the previous mask
feeds back through the fusion and the mask grows frame by frame. It sees no backbone features on purpose:
it can learn where to trust the appearance score, not what objects of the 30 training videos look like.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import conv1x1, conv3x3

DILATIONS = (1, 2, 4)  # receptive field 15 cells at 1/16 (240 px of a 384x672 frame)
RESIDUAL_BOUND = 0.5  # the fusion's reach in score units


class ScoreFusion(nn.Module):
    """(s_app, prev_score, delta, m_prev), each Bx1xh16xw16 -> fused score Bx1xh16xw16 = s_app + B tanh(r / B)."""

    def __init__(self, *, ch: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for d in DILATIONS:
            layers += [conv3x3(in_ch, ch, dilation=d), nn.ReLU()]
            in_ch = ch
        self.body = nn.Sequential(*layers)
        self.out = conv1x1(ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, s_app: torch.Tensor, prev_score: torch.Tensor, delta: torch.Tensor,
                m_prev: torch.Tensor) -> torch.Tensor:
        x = torch.cat([s_app, prev_score + delta, m_prev], dim=1)
        return s_app + RESIDUAL_BOUND * torch.tanh(self.out(self.body(x)) / RESIDUAL_BOUND)
