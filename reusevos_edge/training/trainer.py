"""The training loop: Adam (amsgrad) + StepLR, margin schedule, checkpoints, resume, DDP over gloo."""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from tqdm import tqdm

from ..fileio import atomic_write, write_json
from ..model.checkpoint import load_checkpoint, save_checkpoint
from ..model.reusevos import BACKBONE_PREFIXES, ReuseVOS
from ..model.subgraphs import head_programs
from ..quant.programs import QAT_HEADS, STATE_MARK, QuantizedPrograms
from ..tracker.config import TrackerConfig, tracker_defaults
from .feature_cache import CachedSequence
from .losses import margin
from .unroll import sample_clip, unroll_clip

TERMS = ("bce", "delta", "gate")  # ClipLosses terms logged per epoch


@dataclass(frozen=True)
class TrainConfig:
    """Paper defaults (Sec. 3.4/4): 260 epochs, batch 8, clips of 6, lr 5e-4, StepLR(127, 0.1), M(1, 0), ep_T 120.

    Ours: score_jitter (see ``unroll_clip``); gap_prob / max_gap: the share of clips whose tracked frames
    start 1..max_gap frames after the init frame (the first-frame appearance model gone stale, as deep
    into a video at inference); seed_perturb: see ``unroll_clip``; freeze_bn: keep the heads' BatchNorm
    layers in eval mode (fixed statistics, learned scale and shift). Every clip is a batch of one frame, so
    train-mode BatchNorm normalises each frame by its own statistics and its running averages follow the
    last few frames: consecutive epochs' checkpoints then differ by up to 16 J&F on DAVIS val.
    observer_epochs: quantization-aware training only: the fake-quantize observers follow the ranges for
    this many epochs, then scales and zero points freeze (the heads keep training against them).
    gate_teacher: quantization-aware training only: the gate's loss is the distance to the P_gate of the
    float model QAT starts from (frozen), not the IoU-margin loss, so the int8 gate keeps the float
    model's reuse decisions (the int8 export is judged by agreeing with them).
    mask_teacher: quantization-aware training only, with ``gate_teacher``: the same frozen float model also
    tracks each clip on the same path, and its mask probabilities and delta maps are the mask and delta
    targets instead of the labels (distillation, see ``unroll_clip``).
    pasted: this many synthetic clips (:mod:`reusevos_edge.data.paste`, drawn from the training sequences
    with ``seed``) join the training sequences; clips are drawn uniformly over all of them.
    shadow_reuse: every computed frame also trains the reuse path from an earlier computed state of the clip
    (see ``unroll_clip``).
    """

    epochs: int = 260
    clips_per_epoch: int = 240
    batch: int = 8
    clip_len: int = 6
    max_stride: int = 2
    lr: float = 5e-4
    weight_decay: float = 1e-5
    lr_step: int = 127
    lr_gamma: float = 0.1
    tau: float = 0.5
    m1: float = 1.0
    m2: float = 0.0
    margin_epochs: int = 120
    flip: bool = True
    score_jitter: float = 0.25
    gap_prob: float = 0.5
    max_gap: int = 40
    seed_perturb: float = 0.5
    freeze_bn: bool = True
    observer_epochs: int = 1
    gate_teacher: bool = True
    mask_teacher: bool = False
    pasted: int = 0
    shadow_reuse: bool = False
    seed: int = 0


def head_parameters(model: ReuseVOS) -> list[torch.nn.Parameter]:
    """Trainable parameters: everything but the frozen backbone."""
    frozen = {id(p) for p in model.backbone_parameters()}
    return [p for p in model.parameters() if id(p) not in frozen]


def frozen_heads(model: ReuseVOS) -> dict[str, Callable]:
    """A frozen float copy of ``model``'s heads as programs (the QAT gate's teacher), taken before training."""
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return head_programs(teacher)


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _average_gradients(params: list[torch.nn.Parameter], world: int) -> None:
    """DDP by hand: sum every gradient over ranks (zeros where a path did not run) and divide."""
    if world == 1:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
        p.grad /= world


def _sync_buffers(model: ReuseVOS, world: int) -> None:
    """Keep the heads' BatchNorm running statistics identical on every rank (each rank saw different
    clips): average the float buffers, take rank 0's integer ones (``num_batches_tracked``)."""
    if world == 1:
        return
    for name, buf in model.named_buffers():
        if name.startswith(BACKBONE_PREFIXES):
            continue
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf /= world
        else:
            dist.broadcast(buf, src=0)


def _sync_quant_state(programs: QuantizedPrograms, world: int) -> None:
    """Identical quantization state on every rank: observed ranges widened to the ranks' union (min of
    minima, max of maxima), scales averaged, integers (zero points, switches) from rank 0."""
    if world == 1:
        return
    for name in QAT_HEADS:
        for key, buf in programs.prepared[name].named_buffers():
            if STATE_MARK not in key or key.endswith("eps"):
                continue
            if key.endswith("min_val"):
                dist.all_reduce(buf, op=dist.ReduceOp.MIN)
            elif key.endswith("max_val"):
                dist.all_reduce(buf, op=dist.ReduceOp.MAX)
            elif buf.is_floating_point():
                dist.all_reduce(buf)
                buf /= world
            else:
                dist.broadcast(buf, src=0)


class Trainer:
    """Trains ``model``'s heads on cached sequences; writes ``out/last.safetensors`` (+ .json) and ``out/state.pt``.

    ``tracker``: the tracker options stored with every checkpoint (default: the paper's tracker with the
    variant's score-generator schedule). ``programs``: quantization-aware training: the heads run as these
    fake-quantized programs (``reusevos_edge.quant.programs``), whose state every checkpoint carries.
    ``keep_every``: also keep ``out/epoch_NNN.safetensors`` (+ .json) every this many epochs (0: only
    ``last``), so the epoch can be chosen afterwards on held-out training sequences.
    """

    def __init__(self, *, model: ReuseVOS, data: list[CachedSequence], config: TrainConfig, out: str | Path,
                 progress: bool = True, tracker: TrackerConfig | None = None,
                 programs: QuantizedPrograms | None = None, keep_every: int = 0) -> None:
        self.model, self.data, self.cfg, self.out = model, data, config, Path(out)
        self.keep_every = keep_every
        self.tracker = tracker or tracker_defaults(model, use_bundled=False)
        self.rank, self.world = _world()
        self.programs = programs
        self.params = programs.head_parameters() if programs is not None else head_parameters(model)
        self.teacher = frozen_heads(model) if programs is not None and config.gate_teacher else None
        for p in model.backbone_parameters():
            p.requires_grad_(False)
        self.opt = torch.optim.Adam(self.params, lr=config.lr, weight_decay=config.weight_decay, amsgrad=True)
        self.sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=config.lr_step, gamma=config.lr_gamma)
        self.epoch, self.progress = 0, progress and self.rank == 0
        self.gen = torch.Generator().manual_seed(config.seed * 1000 + self.rank)
        self.history: list[dict] = []

    def resume(self) -> None:
        """Continue from ``out/state.pt`` and ``out/last.safetensors``."""
        state = torch.load(self.out / "state.pt", map_location="cpu", weights_only=False)
        quant = load_checkpoint(self.model, self.out / "last.safetensors", quantized=self.programs is not None)
        if self.programs is not None:
            self.programs.load_state_dict(quant, source=str(self.out / "last.safetensors"))
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.gen.set_state(state["generator"][self.rank])
        self.epoch, self.history = state["epoch"], state["history"]

    def train(self) -> list[dict]:
        while self.epoch < self.cfg.epochs:
            stats = self.train_epoch()
            self.epoch += 1
            self.sched.step()
            self.history.append(stats)
            self.save()
            if self.rank == 0:  # one line per epoch, also when the bar is off (logs of unattended runs)
                print(f"epoch {stats['epoch']}/{self.cfg.epochs} loss {stats['loss']:.4f} bce {stats['bce']:.4f} "
                      f"delta {stats['delta']:.4f} gate {stats['gate']:.4f} reuse {stats['reuse_rate']:.2f} "
                      f"({stats['seconds']:.0f} s)", flush=True)
        return self.history

    def train_epoch(self) -> dict:
        self.model.train()
        self.model.backbone_low.eval()
        self.model.backbone_high.eval()
        if self.cfg.freeze_bn:
            for module in self.model.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()
        if self.programs is not None and self.epoch >= self.cfg.observer_epochs:
            self.programs.freeze_observers()
        cfg, m = self.cfg, margin(self.epoch, m1=self.cfg.m1, margin_epochs=self.cfg.margin_epochs)
        steps = max(cfg.clips_per_epoch // (cfg.batch * self.world), 1)
        sums, start = {"loss": 0.0, **{t: 0.0 for t in TERMS}, "reused": 0, "frames": 0}, time.time()
        bar = tqdm(range(steps), desc=f"epoch {self.epoch + 1}/{cfg.epochs}", disable=not self.progress, leave=False)
        for _ in bar:
            self._step(m, sums)
            n = max(sums["frames"], 1)
            bar.set_postfix(loss=f"{sums['loss'] / max(_ + 1, 1) / cfg.batch:.3f}", bce=f"{sums['bce'] / (_ + 1) / cfg.batch:.3f}",
                            gate=f"{sums['gate'] / (_ + 1) / cfg.batch:.3f}", reuse=f"{sums['reused'] / n:.2f}")
        k = steps * cfg.batch
        return {"epoch": self.epoch + 1, "margin": m, "lr": self.opt.param_groups[0]["lr"], "seconds": time.time() - start,
                **{t: sums[t] / k for t in ("loss", *TERMS)}, "reuse_rate": sums["reused"] / max(sums["frames"], 1)}

    def _step(self, m: float, sums: dict) -> None:
        cfg = self.cfg
        self.opt.zero_grad(set_to_none=True)
        for _ in range(cfg.batch):
            seq = self.data[int(torch.randint(0, len(self.data), (1,), generator=self.gen))]
            clip = sample_clip(seq, length=cfg.clip_len, max_stride=cfg.max_stride, gen=self.gen,
                               max_gap=cfg.max_gap, gap_prob=cfg.gap_prob)
            flip = cfg.flip and bool(torch.rand(1, generator=self.gen) < 0.5)
            losses = unroll_clip(self.model, seq, clip, tau=cfg.tau, m=m, m2=cfg.m2, flip=flip,
                                 score_jitter=cfg.score_jitter, seed_perturb=cfg.seed_perturb, gen=self.gen,
                                 heads=self.programs.heads() if self.programs is not None else None,
                                 teacher=self.teacher, mask_teacher=cfg.mask_teacher, shadow_reuse=cfg.shadow_reuse)
            (losses.total / cfg.batch).backward()
            for t in TERMS:
                sums[t] += float(getattr(losses, t).detach())
            sums["loss"] += float(losses.total.detach())
            sums["reused"] += losses.reused
            sums["frames"] += losses.frames
        _average_gradients(self.params, self.world)
        self.opt.step()
        _sync_buffers(self.model, self.world)
        if self.programs is not None:
            _sync_quant_state(self.programs, self.world)

    def save(self) -> None:
        """Rank 0 writes the head checkpoint and the resumable state, atomically."""
        gens = [self.gen.get_state()]
        if self.world > 1:
            gens = [None] * self.world
            dist.all_gather_object(gens, self.gen.get_state())
        if self.rank != 0:
            return
        extra = {"train_config": asdict(self.cfg), "epoch": self.epoch, "history": self.history[-1:],
                 "tracker": self.tracker.to_json()}
        quantization = None
        if self.programs is not None:
            quantization = self.programs.state_dict()
            extra["quantization"] = {"method": "qat", "recipe": self.programs.target,
                                     "observers_frozen_from_epoch": self.cfg.observer_epochs + 1,
                                     "activation_scales": self.programs.activation_scales()}
        save_checkpoint(self.model, self.out / "last.safetensors", extra=extra, quantization=quantization)
        if self.keep_every > 0 and self.epoch % self.keep_every == 0:
            save_checkpoint(self.model, self.out / f"epoch_{self.epoch:03d}.safetensors", extra=extra,
                            quantization=quantization)
        state = {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(), "generator": gens,
                 "epoch": self.epoch, "history": self.history}
        atomic_write(self.out / "state.pt", lambda tmp: torch.save(state, tmp))
        write_json(self.out / "history.json", self.history)


def init_distributed() -> bool:
    """Join a torchrun job (gloo, CPU) when WORLD_SIZE > 1 is set; returns whether it did."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
        return True
    return False
