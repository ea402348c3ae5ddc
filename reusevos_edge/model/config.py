"""Model configuration: backbone choice and every head width, one frozen dataclass per variant."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScoreFitConfig:
    """Online score-generator fit (FRTM's target model) with fixed iteration counts.

    init_cg_iters: CG iterations of each Gauss-Newton step of the first-frame fit (both layers). The
      first step is one program (``score_init``), every later one another (``score_refit``, run by the
      host ``refit_steps`` times), so the later steps share one count.
    update_cg_iters: CG iterations of the single GN step of a periodic update (filter only).
    """

    init_cg_iters: tuple[int, ...] = (5, 10, 10, 10)
    update_cg_iters: int = 5
    reg_project: float = 1e-4
    reg_filter: float = 1e-2
    aug_copies: int = 5
    memory_slots: int = 16
    update_every: int = 8
    learning_rate: float = 0.1

    def __post_init__(self) -> None:
        if not self.init_cg_iters or len(set(self.init_cg_iters[1:])) > 1:
            raise ValueError(f"init_cg_iters={self.init_cg_iters!r}: expected one or more Gauss-Newton steps whose "
                             "later steps share one CG count (they run as one repeated program)")

    @property
    def refit_steps(self) -> int:
        """Gauss-Newton steps of the first-frame fit after the first (calls of ``score_refit``)."""
        return len(self.init_cg_iters) - 1

    @property
    def refit_cg_iters(self) -> int:
        """CG iterations of each later step (the first step's count when there is none)."""
        return self.init_cg_iters[-1]


GATES = ("frame", "object")


@dataclass(frozen=True)
class HeadConfig:
    """Widths of the score generator, refinement network and reuse modules.

    deep_ch: refinement width at f32/f16, also the channels of the stored refined feature R.
    shallow_ch: refinement widths at f8 and f4 (these stages run on every frame).
    residual_bound: B, the decoder's reach in logits around the score prior (``RefineShallow``): it changes
      no tensor, so a checkpoint's JSON may set it (``load_checkpoint`` applies it).
    gate: which reuse gate reads D_t: "frame", the paper's (pooled over the whole frame, conv layers), or
      "object" (pooled inside the previous score's region grown by ``gate_window`` cells at 1/8, one linear
      layer: ``reuse_gate.ObjectGate``). A checkpoint's JSON names its gate; ``load_checkpoint`` builds it.
    """

    proj_ch: int = 96
    deep_ch: int = 64
    shallow_ch: tuple[int, int] = (64, 64)
    head_ch: int = 32
    tm_ch: int = 64
    tm_groups: int = 16
    blend_groups: int = 32
    gate_hidden: int = 16
    translator_ch: int = 48
    gate_open_init: float = 0.15
    residual_bound: float = 3.0
    gate: str = "frame"
    gate_window: int = 4

    def __post_init__(self) -> None:
        if self.gate not in GATES:
            raise ValueError(f"gate={self.gate!r}: expected one of {', '.join(GATES)}")
        if not isinstance(self.gate_window, int) or isinstance(self.gate_window, bool) or not 0 <= self.gate_window <= 32:
            raise ValueError(f"gate_window={self.gate_window!r}: expected an integer number of 1/8 cells in 0..32")
        if not isinstance(self.residual_bound, (int, float)) or isinstance(self.residual_bound, bool) \
                or not 0.0 < self.residual_bound < float("inf"):
            raise ValueError(f"residual_bound={self.residual_bound!r}: expected a positive number of logits")


@dataclass(frozen=True)
class ModelConfig:
    """A registered variant: backbone name, its feature channels, and the head configuration."""

    name: str
    backbone: str
    channels: dict[str, int]
    head: HeadConfig = field(default_factory=HeadConfig)
    fit: ScoreFitConfig = field(default_factory=ScoreFitConfig)

    def to_json(self) -> dict:
        from dataclasses import asdict

        return asdict(self)
