"""The composite G-FRTM model: every part of the paper as a named submodule, no I/O.

The tracker never calls this module as a whole: it calls the subgraphs built from it
(:mod:`reusevos_edge.model.subgraphs`), which is also what gets exported.
"""

from __future__ import annotations

import dataclasses

from torch import nn

from .config import HeadConfig, ModelConfig
from .refine import RefineDeep, RefineShallow
from .refine_translator import RefineTranslator
from .reuse_gate import DeltaGenerator, ObjectGate, ReuseGate
from .score_generator import ScoreGenerator
from .template_matching import TemplateBuilder, TemplateMatcher

BACKBONE_PREFIXES = ("backbone_low.", "backbone_high.")


class ReuseVOS(nn.Module):
    """Backbone (low/high) + score generator + template/matching + gate + delta + refiner + translator."""

    def __init__(self, *, config: ModelConfig, backbone_low: nn.Module, backbone_high: nn.Module) -> None:
        super().__init__()
        self.config = config
        c, h = config.channels, config.head
        self.backbone_low = backbone_low
        self.backbone_high = backbone_high
        self.score_generator = ScoreGenerator(in_ch=c["f16"], proj_ch=h.proj_ch, fit=config.fit)
        self.template_builder = TemplateBuilder(c8=c["f8"], ch=h.tm_ch, groups=h.tm_groups)
        self.matcher = TemplateMatcher(c8=c["f8"], ch=h.tm_ch, groups=h.tm_groups, blend_groups=h.blend_groups)
        self.gate = make_gate(h)
        self.delta_generator = DeltaGenerator(ch=h.tm_ch)
        self.refine_deep = RefineDeep(c16=c["f16"], c32=c["f32"], ch=h.deep_ch)
        self.refine_shallow = RefineShallow(
            c4=c["f4"], c8=c["f8"], deep_ch=h.deep_ch, ch8=h.shallow_ch[0], ch4=h.shallow_ch[1], head_ch=h.head_ch,
            bound=h.residual_bound,
        )
        self.translator = RefineTranslator(ch=h.deep_ch, mid=h.translator_ch)

    def set_residual_bound(self, bound: float) -> None:
        """Read the decoder at reach ``bound`` (logits) from now on; recorded in the config (and so in checkpoints)."""
        self.config = dataclasses.replace(self.config, head=dataclasses.replace(self.config.head, residual_bound=bound))
        self.refine_shallow.bound = float(bound)

    def set_gate(self, kind: str, *, window: int) -> None:
        """Use gate ``kind`` ("frame" or "object", ``HeadConfig.gate``) from now on, freshly initialised unless
        it is the gate already there; recorded in the config (and so in checkpoints)."""
        head = dataclasses.replace(self.config.head, gate=kind, gate_window=window)
        if (head.gate, head.gate_window) != (self.config.head.gate, self.config.head.gate_window):
            self.gate = make_gate(head)
        self.config = dataclasses.replace(self.config, head=head)

    def head_state_dict(self) -> dict:
        """Everything but the backbone: what training changes and what a head checkpoint stores."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(BACKBONE_PREFIXES)}

    def backbone_parameters(self):
        yield from self.backbone_low.parameters()
        yield from self.backbone_high.parameters()


def make_gate(h: HeadConfig) -> nn.Module:
    """The reuse gate ``h.gate`` names, at its initialisation."""
    if h.gate == "object":
        return ObjectGate(ch=h.tm_ch, window=h.gate_window, open_init=h.gate_open_init)
    return ReuseGate(ch=h.tm_ch, hidden=h.gate_hidden, open_init=h.gate_open_init)
