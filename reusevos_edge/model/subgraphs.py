"""The model cut into stateless fixed-shape programs: the one list every converter, runtime and app reads.

Per frame the host runs ``backbone_low`` and, per object, ``match_gate``. A computed frame adds
``backbone_high`` (once, shared), ``score_gen``, ``refine_deep`` and ``refine_shallow``; a reuse frame
adds only ``refine_translate`` and ``refine_shallow``. ``template_build``, ``score_init`` and
``score_refit`` (repeated, one Gauss-Newton step per call) run when an object is added; ``score_update``
every few computed frames.
"""

from __future__ import annotations

from torch import nn

from ..errors import InputError
from .layers import resize_to
from .reusevos import ReuseVOS
from .subgraph import Subgraph, TensorSpec

NAMES = ("backbone_low", "backbone_high", "template_build", "score_init", "score_refit", "score_gen", "score_update",
         "match_gate", "refine_deep", "refine_translate", "refine_shallow")
# Subgraphs a reuse frame must not run (the paper's saving).
SKIPPED_ON_REUSE = ("backbone_high", "score_gen", "refine_deep")


class BackboneLow(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.backbone_low

    def forward(self, image):
        return tuple(self.net(image))


class BackboneHigh(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.backbone_high

    def forward(self, f8):
        return tuple(self.net(f8))


class TemplateBuild(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.template_builder

    def forward(self, f8, mask8):
        return (self.net(f8, mask8),)


class ScoreInit(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.score_generator

    def forward(self, f16, label16):
        return tuple(self.net.init_step(f16, label16))


class ScoreRefit(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.score_generator

    def forward(self, f16, label16, proj_w_prev, filter_w_prev):
        return tuple(self.net.refit_step(f16, label16, proj_w_prev, filter_w_prev))


class ScoreGen(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.score_generator

    def forward(self, f16, proj_w, filter_w):
        return tuple(self.net(f16, proj_w, filter_w))


class ScoreUpdate(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.score_generator

    def forward(self, mem_feats, mem_labels, mem_weights, filter_w):
        return (self.net.update_fit(mem_feats, mem_labels, mem_weights, filter_w),)


class MatchGate(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.matcher, self.gate, self.delta = m.matcher, m.gate, m.delta_generator

    def forward(self, f8, prev_score, template):
        d = self.matcher(f8, prev_score, template)
        return self.gate(d, resize_to(prev_score, f8)), self.delta(d)


class RefineDeepProgram(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.refine_deep

    def forward(self, f16, f32, score):
        return (self.net(f16, f32, score),)


class RefineTranslate(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.translator

    def forward(self, refined_prev, delta):
        return (self.net(refined_prev, delta),)


class RefineShallowProgram(nn.Module):
    def __init__(self, m: ReuseVOS) -> None:
        super().__init__()
        self.net = m.refine_shallow

    def forward(self, f4, f8, refined, score):
        return (self.net(f4, f8, refined, score),)


def head_programs(model: ReuseVOS) -> dict[str, nn.Module]:
    """The trained per-frame heads as the contract's modules (name -> module returning a tuple): what the
    training unroll calls, so float and quantization-aware training run the very programs that ship."""
    return {"template_build": TemplateBuild(model), "match_gate": MatchGate(model),
            "refine_deep": RefineDeepProgram(model), "refine_translate": RefineTranslate(model),
            "refine_shallow": RefineShallowProgram(model)}


def _spec(**shapes: tuple[int, ...]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(name, tuple(shape)) for name, shape in shapes.items())


SIZE_MULTIPLE = 32  # the deepest feature map has stride 32


def check_size(height: int, width: int, *, what: str) -> None:
    """Raise InputError unless ``height`` and ``width`` are positive multiples of 32 (``what`` names the input)."""
    if height <= 0 or width <= 0 or height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
        raise InputError(f"{what}: height and width must be positive multiples of {SIZE_MULTIPLE}")


def build_subgraphs(model: ReuseVOS, *, height: int, width: int) -> list[Subgraph]:
    """The contract for a frame of ``height`` x ``width`` (multiples of 32), in execution order."""
    check_size(height, width, what=f"frame size {height}x{width}")
    c, hd, fit = model.config.channels, model.config.head, model.config.fit
    s4, s8, s16, s32 = ((height // s, width // s) for s in (4, 8, 16, 32))
    P, T, R, A, M = hd.proj_ch, hd.tm_ch, hd.deep_ch, fit.aug_copies, fit.memory_slots
    f4, f8, f16, f32 = (1, c["f4"], *s4), (1, c["f8"], *s8), (1, c["f16"], *s16), (1, c["f32"], *s32)
    score = (1, 1, *s16)
    fitted = _spec(proj_w=(P, c["f16"], 1, 1), filter_w=(1, P, 3, 3), mem_feats=(A, P, *s16), mem_labels=(A, 1, *s16))
    table = [
        ("backbone_low", BackboneLow, _spec(image=(1, 3, height, width)), _spec(f4=f4, f8=f8),
         "image: RGB in [0, 1], NCHW; features at strides 4 and 8"),
        ("backbone_high", BackboneHigh, _spec(f8=f8), _spec(f16=f16, f32=f32), "deep backbone stages (skipped on reuse)"),
        ("template_build", TemplateBuild, _spec(f8=f8, mask8=(1, 1, *s8)), _spec(template=(1, T, T)),
         "object template from the first frame and its mask at 1/8"),
        ("score_init", ScoreInit, _spec(f16=f16, label16=score), fitted,
         "first-frame fit of the score generator on augmented copies: its first Gauss-Newton/CG step"),
        ("score_refit", ScoreRefit, _spec(f16=f16, label16=score, proj_w_prev=(P, c["f16"], 1, 1),
                                                   filter_w_prev=(1, P, 3, 3)),
         fitted, "one later Gauss-Newton/CG step of the first-frame fit (the host repeats it)"),
        ("score_gen", ScoreGen, _spec(f16=f16, proj_w=(P, c["f16"], 1, 1), filter_w=(1, P, 3, 3)),
         _spec(score=score, feat=(1, P, *s16)), "coarse target score at 1/16 and the projected feature for memory"),
        ("score_update", ScoreUpdate, _spec(mem_feats=(M, P, *s16), mem_labels=(M, 1, *s16), mem_weights=(M,),
                                            filter_w=(1, P, 3, 3)),
         _spec(filter_w_new=(1, P, 3, 3)), "periodic filter update over the weighted sample memory"),
        ("match_gate", MatchGate, _spec(f8=f8, prev_score=score, template=(1, T, T)),
         _spec(p_gate=(1,), delta=score), "template matching -> reuse probability and score delta"),
        ("refine_deep", RefineDeepProgram, _spec(f16=f16, f32=f32, score=score), _spec(refined=(1, R, *s16)),
         "deep refinement stages -> refined feature R (skipped on reuse)"),
        ("refine_translate", RefineTranslate, _spec(refined_prev=(1, R, *s16), delta=score),
         _spec(refined=(1, R, *s16)), "reuse path: edit the last computed R with the delta"),
        ("refine_shallow", RefineShallowProgram, _spec(f4=f4, f8=f8, refined=(1, R, *s16), score=score),
         _spec(mask_logits=(1, 1, height, width)), "shallow refinement + head -> full-size mask logits"),
    ]
    repeat = {"score_refit": fit.refit_steps}
    return [Subgraph(name=n, module=cls(model).eval(), inputs=i, outputs=o, doc=d, repeat=repeat.get(n, 1))
            for n, cls, i, o, d in table]
