"""One training clip unrolled exactly as the tracker runs it: init on the first frame, then gate-decided paths."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..model.reusevos import ReuseVOS
from ..model.score_generator import shift
from .feature_cache import FEATURES, CachedSequence
from .losses import delta_loss, gate_probability_loss, mask_iou, mask_loss


@dataclass(frozen=True)
class Clip:
    """Frame indices of one training clip.

    init: the tracker's first frame (score-generator fit and template); seed: the frame whose ground
    truth stands in for the last computed state before ``frames`` (S and R), = init for a
    contiguous clip, later for a clip that tracks deep into the video (where the first-frame appearance
    model has gone stale, as at inference); frames: the tracked frames, increasing, all after seed.
    """

    init: int
    seed: int
    frames: tuple[int, ...]

    @classmethod
    def contiguous(cls, indices: list[int]) -> "Clip":
        """[init, tracked...] with the state seeded at init, as the tracker starts a video."""
        return cls(init=indices[0], seed=indices[0], frames=tuple(indices[1:]))


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


def _randint(low: int, high: int, gen: torch.Generator) -> int:
    """Uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def sample_clip(seq: CachedSequence, *, length: int, max_stride: int, gen: torch.Generator, max_gap: int = 0,
                gap_prob: float = 0.0) -> Clip:
    """One clip of ``length`` frames (init + length - 1 tracked) with a random stride in 1..max_stride (shrunk
    to fit). With probability ``gap_prob`` the tracked part starts a random 1..max_gap frames after init."""
    stride = _randint(1, max_stride, gen)
    while stride > 1 and (length - 1) * stride >= len(seq):
        stride -= 1
    span = min((length - 1) * stride, len(seq) - 1)
    gap = _randint(1, max_gap, gen) if max_gap > 0 and float(torch.rand(1, generator=gen)) < gap_prob else 0
    gap = min(gap, len(seq) - 1 - span)
    init = _randint(0, len(seq) - 1 - span - gap, gen)
    seed = init + gap
    return Clip(init=init, seed=seed, frames=tuple(min(seed + i * stride, len(seq) - 1) for i in range(1, length)))


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


def perturb_label16(label16: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A stand-in for an imperfect previous output at 1/16: the label dilated by 1-2 cells, eroded by one,
    or shifted by up to 2 cells (one of the four, uniformly). Bx1xhxw -> Bx1xhxw."""
    kind = _randint(0, 3, gen)
    if kind <= 1:
        r = kind + 1
        return F.max_pool2d(label16, 2 * r + 1, stride=1, padding=r)
    if kind == 2:
        return -F.max_pool2d(-label16, 3, stride=1, padding=1)
    return shift(label16, _randint(-2, 2, gen), _randint(-2, 2, gen))


def unroll_clip(model: ReuseVOS, seq: CachedSequence, clip: Clip | list[int], *, tau: float, m: float, m2: float,
                flip: bool = False, score_jitter: float = 0.0, seed_perturb: float = 0.0,
                gen: torch.Generator | None = None) -> ClipLosses:
    """Run the clip: the init frame fits the score generator (without grad) and builds the template; the
    seed frame's label gives S and R; tracked frames are gated with ``P_gate >= tau`` as in the paper's
    training. Loss = BCE + MSE(delta) + gate-probability.

    clip: a :class:`Clip`, or a list [init, tracked...] (contiguous).
    score_jitter: a computed frame's score is scaled by U(1 - j, 1 + j) (``gen``), so the decoder does
    not learn one calibration of the score generator (fits on unseen videos come out weaker or stronger).
    seed_perturb: probability that the seed S is a perturbed label (:func:`perturb_label16`), as after a
    few imperfect frames at inference, so the delta-generator and the refine-translator learn to correct
    an S that is too big, too small or off.
    """
    clip = clip if isinstance(clip, Clip) else Clip.contiguous(list(clip))
    first = _frame(seq, clip.init, flip)
    proj_w, filter_w = first_frame_fit(model, seq, clip.init, flip)
    template = model.template_builder(first["f8"], first["mask8"])
    seed = first if clip.seed == clip.init else _frame(seq, clip.seed, flip)
    state16 = seed["mask16"]
    if seed_perturb > 0 and float(torch.rand(1, generator=gen)) < seed_perturb:
        state16 = perturb_label16(state16, gen)
    prev_score, last_mask = state16, seed["mask"]
    prev_refined = model.refine_deep(seed["f16"], seed["f32"], prev_score)
    bce, dl, gl, reused = [], [], [], 0
    for i in clip.frames:
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
    return ClipLosses(bce=mean(bce), delta=mean(dl), gate=mean(gl), reused=reused, frames=len(clip.frames))
