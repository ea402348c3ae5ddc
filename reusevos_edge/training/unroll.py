"""One training clip unrolled exactly as the tracker runs it: init on the first frame, then gate-decided paths."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..model.reusevos import ReuseVOS
from .feature_cache import FEATURES, CachedSequence
from .losses import delta_loss, gate_probability_loss, mask_iou, mask_loss


@dataclass
class ClipLosses:
    """Mean loss terms over the clip's tracked frames (scalars with grad) and how many frames reused."""

    bce: torch.Tensor
    delta: torch.Tensor
    gate: torch.Tensor
    reused: int
    frames: int

    @property
    def total(self) -> torch.Tensor:
        return self.bce + self.delta + self.gate


def sample_clip(seq: CachedSequence, *, length: int, max_stride: int, gen: torch.Generator) -> list[int]:
    """Frame indices of one clip: ``length`` frames with a random stride in 1..max_stride (shrunk to fit)."""
    stride = int(torch.randint(1, max_stride + 1, (1,), generator=gen))
    while stride > 1 and (length - 1) * stride >= len(seq):
        stride -= 1
    span = min((length - 1) * stride, len(seq) - 1)
    start = int(torch.randint(0, len(seq) - span, (1,), generator=gen))
    return [min(start + i * stride, len(seq) - 1) for i in range(length)]


def _frame(seq: CachedSequence, i: int, flip: bool) -> dict[str, torch.Tensor]:
    out = {k: seq.feats[k][i : i + 1].float() for k in FEATURES}
    out.update(mask=seq.mask[i : i + 1], mask8=seq.mask8[i : i + 1], mask16=seq.mask16[i : i + 1])
    return {k: torch.flip(v, dims=(3,)) for k, v in out.items()} if flip else out


def first_frame_fit(model: ReuseVOS, seq: CachedSequence, index: int, flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Score-generator weights fitted on one frame with its ground truth, memoised on the sequence
    (the fit has no trainable input, so it is cached like the backbone features)."""
    key = (index, flip)
    if key not in seq.fits:
        fr = _frame(seq, index, flip)
        with torch.no_grad():
            proj_w, filter_w, _, _ = model.score_generator.init_fit(fr["f16"], fr["mask16"])
        seq.fits[key] = (proj_w, filter_w)
    return seq.fits[key]


def unroll_clip(model: ReuseVOS, seq: CachedSequence, indices: list[int], *, tau: float, m: float, m2: float,
                flip: bool = False, score_jitter: float = 0.0, gen: torch.Generator | None = None) -> ClipLosses:
    """Run the clip: frame 0 initialises (score-generator fit without grad, template, R); later frames
    are gated with ``P_gate >= tau`` as in the paper's training. Loss = BCE + MSE(delta) + gate-probability.

    score_jitter: a computed frame's score is scaled by U(1 - j, 1 + j) (``gen``), so the decoder does
    not learn one calibration of the score generator (fits on unseen videos come out weaker or stronger).
    """
    first = _frame(seq, indices[0], flip)
    proj_w, filter_w = first_frame_fit(model, seq, indices[0], flip)
    template = model.template_builder(first["f8"], first["mask8"])
    prev_score, last_mask = first["mask16"], first["mask"]
    prev_refined = model.refine_deep(first["f16"], first["f32"], prev_score)
    bce, dl, gl, reused = [], [], [], 0
    for i in indices[1:]:
        fr = _frame(seq, i, flip)
        d = model.matcher(fr["f8"], prev_score, template)
        p_gate, delta = model.gate(d), model.delta_generator(d)
        dl.append(delta_loss(delta, fr["mask16"], prev_score.detach()))
        gl.append(gate_probability_loss(p_gate, mask_iou(fr["mask"], last_mask), m=m, m2=m2).mean())
        if p_gate.item() >= tau:
            score, refined = prev_score + delta, model.translator(prev_refined, delta)
            reused += 1
        else:
            with torch.no_grad():
                score, _ = model.score_generator(fr["f16"], proj_w, filter_w)
                if score_jitter > 0:
                    score = score * (1.0 + score_jitter * (2.0 * float(torch.rand(1, generator=gen)) - 1.0))
            refined = model.refine_deep(fr["f16"], fr["f32"], score)
            prev_score, prev_refined, last_mask = score, refined, fr["mask"]
        bce.append(mask_loss(model.refine_shallow(fr["f4"], fr["f8"], refined, score), fr["mask"]))
    mean = lambda xs: torch.stack(xs).mean()  # noqa: E731
    return ClipLosses(bce=mean(bce), delta=mean(dl), gate=mean(gl), reused=reused, frames=len(indices) - 1)
