"""One training clip unrolled exactly as the tracker runs it: init on the first frame, then gate-decided paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch
import torch.nn.functional as F

from ..model.reusevos import ReuseVOS
from ..model.score_generator import shift
from ..model.subgraphs import head_programs
from ..metrics.jf import jaccard
from .feature_cache import CachedSequence, first_frame_fit, frame_tensors
from .losses import delta_loss, gate_probability_loss, gate_teacher_loss, mask_loss


@dataclass(frozen=True)
class ClipPlan:
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
    def contiguous(cls, indices: list[int]) -> "ClipPlan":
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
                gap_prob: float = 0.0) -> ClipPlan:
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
    return ClipPlan(init=init, seed=seed, frames=tuple(min(seed + i * stride, len(seq) - 1) for i in range(1, length)))


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


def _shadow_reuse_loss(heads: Mapping[str, Callable], fr: dict, template: torch.Tensor,
                       history: list[tuple[torch.Tensor, torch.Tensor]], gen: torch.Generator | None) -> torch.Tensor:
    """Mask loss of the reuse path on frame ``fr`` from a computed state drawn from ``history`` (see unroll_clip)."""
    score0, refined0 = history[_randint(0, len(history) - 1, gen)]
    _, delta = heads["match_gate"](fr["f8"], score0, template)
    (refined,) = heads["refine_translate"](refined0, delta)
    (logits,) = heads["refine_shallow"](fr["f4"], fr["f8"], refined, score0 + delta)
    return mask_loss(logits, fr["mask"])


def unroll_clip(model: ReuseVOS, seq: CachedSequence, clip: ClipPlan | list[int], *, tau: float, m: float, m2: float,
                flip: bool = False, score_jitter: float = 0.0, seed_perturb: float = 0.0,
                gen: torch.Generator | None = None, heads: Mapping[str, Callable] | None = None,
                teacher: Mapping[str, Callable] | None = None, mask_teacher: bool = False,
                shadow_reuse: bool = False) -> ClipLosses:
    """Run the clip: the init frame fits the score generator (without grad) and builds the template; the
    seed frame's label gives S and R; tracked frames are gated with ``P_gate >= tau`` as in the paper's
    training. Loss = BCE + MSE(delta) + gate-probability.

    clip: a :class:`ClipPlan`, or a list [init, tracked...] (contiguous).
    score_jitter: a computed frame's score is scaled by U(1 - j, 1 + j) (``gen``), so the decoder does
    not learn one calibration of the score generator (fits on unseen videos come out weaker or stronger).
    seed_perturb: probability that the seed S is a perturbed label (:func:`perturb_label16`), as after a
    few imperfect frames at inference, so the delta-generator and the refine-translator learn to correct
    an S that is too big, too small or off.
    heads: subgraph name -> program for the five trained heads (default: the float model's,
    :func:`~reusevos_edge.model.subgraphs.head_programs`; QAT passes its fake-quantized programs).
    teacher: frozen float heads (``template_build``, ``match_gate``) whose P_gate on the same inputs is the
    gate's target, (P_gate - P_teacher)^2, instead of the IoU-margin loss: QAT keeps the float model's
    reuse decisions rather than re-learning them (:func:`~.losses.gate_teacher_loss`).
    mask_teacher: with ``teacher`` (its five heads), the teacher also tracks the clip beside the heads
    being trained, on the same path (the same frames reused, the same fitted scores) from its own refined
    features and delta maps, and its mask probabilities and delta maps replace the ground truth as the
    mask and delta targets: QAT then learns to reproduce the float model's outputs (distillation), not
    to fit the labels anew, so the int8 masks, and the gate inputs made from them, stay the float model's.
    shadow_reuse: every computed frame also runs the reuse path, from the state of a computed frame drawn
    uniformly among this clip's earlier ones (``gen``; the seed's included), with the delta this frame's gate
    program gives for that state, and its mask loss joins the BCE. The translator and the decoder's reuse
    inputs then learn on every frame, and from states up to a clip's length old (the chains a tracker forms),
    not only on the few frames the gate reuses (5-10 % at training tau 0.9).
    """
    clip = clip if isinstance(clip, ClipPlan) else ClipPlan.contiguous(list(clip))
    heads = heads if heads is not None else head_programs(model)
    first = frame_tensors(seq, clip.init, flip)
    proj_w, filter_w = first_frame_fit(model, seq, clip.init, flip)
    (template,) = heads["template_build"](first["f8"], first["mask8"])
    if teacher is not None:
        with torch.no_grad():
            (teacher_template,) = teacher["template_build"](first["f8"], first["mask8"])
    seed = first if clip.seed == clip.init else frame_tensors(seq, clip.seed, flip)
    state16 = seed["mask16"]
    if seed_perturb > 0 and float(torch.rand(1, generator=gen)) < seed_perturb:
        state16 = perturb_label16(state16, gen)
    prev_score, last_mask = state16, seed["mask"]
    (prev_refined,) = heads["refine_deep"](seed["f16"], seed["f32"], prev_score)
    distil = teacher is not None and mask_teacher
    if distil:
        with torch.no_grad():
            (teacher_prev,) = teacher["refine_deep"](seed["f16"], seed["f32"], prev_score)
    history = [(prev_score, prev_refined)]  # computed states, oldest first (shadow_reuse)
    bce, dl, gl, reused = [], [], [], 0
    for i in clip.frames:
        fr = frame_tensors(seq, i, flip)
        p_gate, delta = heads["match_gate"](fr["f8"], prev_score, template)
        if teacher is None:
            iou = jaccard(fr["mask"].numpy() > 0.5, last_mask.detach().numpy() > 0.5)
            gl.append(gate_probability_loss(p_gate, torch.tensor(iou, dtype=torch.float32), m=m, m2=m2).mean())
        else:
            with torch.no_grad():
                p_teacher, teacher_delta = teacher["match_gate"](fr["f8"], prev_score, teacher_template)
            gl.append(gate_teacher_loss(p_gate, p_teacher).mean())
        dl.append(F.mse_loss(delta, teacher_delta) if distil else delta_loss(delta, fr["mask16"], prev_score.detach()))
        if p_gate.item() >= tau:
            score, (refined,) = prev_score + delta, heads["refine_translate"](prev_refined, delta)
            if distil:
                with torch.no_grad():
                    teacher_score = prev_score + teacher_delta
                    (teacher_refined,) = teacher["refine_translate"](teacher_prev, teacher_delta)
            reused += 1
        else:
            with torch.no_grad():
                score, _ = model.score_generator(fr["f16"], proj_w, filter_w)
                if score_jitter > 0:
                    score = score * (1.0 + score_jitter * (2.0 * float(torch.rand(1, generator=gen)) - 1.0))
            (refined,) = heads["refine_deep"](fr["f16"], fr["f32"], score)
            if distil:
                with torch.no_grad():
                    teacher_score, (teacher_refined,) = score, teacher["refine_deep"](fr["f16"], fr["f32"], score)
                teacher_prev = teacher_refined
            if shadow_reuse:
                bce.append(_shadow_reuse_loss(heads, fr, template, history, gen))
            prev_score, prev_refined, last_mask = score, refined, fr["mask"]
            history.append((prev_score, prev_refined))
        (logits,) = heads["refine_shallow"](fr["f4"], fr["f8"], refined, score)
        target = fr["mask"]
        if distil:
            with torch.no_grad():
                (teacher_logits,) = teacher["refine_shallow"](fr["f4"], fr["f8"], teacher_refined, teacher_score)
                target = torch.sigmoid(teacher_logits)
        bce.append(mask_loss(logits, target))
    mean = lambda xs: torch.stack(xs).mean()  # noqa: E731
    return ClipLosses(bce=mean(bce), delta=mean(dl), gate=mean(gl), reused=reused, frames=len(clip.frames))
