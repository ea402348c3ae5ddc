"""The host orchestrator: owns per-object state and the reuse decision, calls stateless subgraphs.

Per frame: ``backbone_low`` once; per object ``match_gate`` -> P_gate. Reuse (P_gate > tau, within
the keyframe bound) runs ``refine_translate`` + ``refine_shallow``; a computed frame runs
``backbone_high`` (once per frame, shared), ``score_gen``, ``refine_deep``, ``refine_shallow`` and
every few computed frames ``score_update``. S and R are overwritten on computed frames only.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..errors import InputError
from ..runtime.base import Runner
from .config import TrackerConfig
from .frames import binary_mask, block_mean, frame_to_input, locality_window, logits_to_prob, mask_to_model, resize_prob
from .fusion import fuse_labels
from .state import FrameRecord, FrameResult, ObjectRecord, ObjectState, SampleMemory

MAX_OBJECT_ID = 254


class _FrameContext:
    """Features of the current frame, each backbone part computed at most once and only on demand."""

    def __init__(self, tracker: "Tracker", image: np.ndarray, record: FrameRecord) -> None:
        self.tracker, self.record, self.image = tracker, record, image
        self._low: dict[str, np.ndarray] | None = None
        self._high: dict[str, np.ndarray] | None = None

    def low(self) -> dict[str, np.ndarray]:
        if self._low is None:
            self._low = self.tracker._run("backbone_low", self.record, image=self.image)
        return self._low

    @property
    def f4(self) -> np.ndarray:
        return self.low()["f4"]

    @property
    def f8(self) -> np.ndarray:
        return self.low()["f8"]

    def high(self) -> dict[str, np.ndarray]:
        if self._high is None:
            self._high = self.tracker._run("backbone_high", self.record, f8=self.f8)
        return self._high


class Tracker:
    """Semi-supervised VOS over a stream of frames: ``step(frame, new_masks)`` per frame; ``reset()`` per video."""

    def __init__(self, *, runner: Runner, config: TrackerConfig | None = None) -> None:
        self.runner = runner
        self.config = config or TrackerConfig()
        image = runner.subgraphs["backbone_low"].inputs[0]
        self.height, self.width = int(image.shape[2]), int(image.shape[3])
        self.memory_slots = int(runner.subgraphs["score_update"].inputs[0].shape[0])
        self._refit_steps = runner.subgraphs["score_refit"].repeat
        # each frame's model input (float32, or int8 codes where the bundle takes them), and an object's
        # probability and its 0/1 mask at the model size: reused (fresh arrays cost their page faults each time)
        self._input = np.empty((1, 3, self.height, self.width), image.dtype)
        self._prob, self._binary = (np.empty((self.height, self.width), np.float32) for _ in range(2))
        self.reset()

    def reset(self) -> None:
        """Forget every object and the video size: the next frame starts a new video."""
        self.objects: dict[int, ObjectState] = {}
        self.frame_index = -1
        self.frame_size: tuple[int, int] | None = None

    @property
    def object_ids(self) -> list[int]:
        return sorted(self.objects)

    def remove_object(self, obj_id: int) -> None:
        if obj_id not in self.objects:
            raise InputError(f"object id {obj_id} is not tracked; tracked ids: {self.object_ids}")
        del self.objects[obj_id]

    def step(self, frame: np.ndarray, new_masks: Mapping[int, np.ndarray] | None = None) -> FrameResult:
        """Track one HxWx3 uint8 RGB frame; ``new_masks`` adds (or re-initialises) objects: id -> HxW bool mask.

        Objects may start on any frame; a frame before the first object runs nothing and is all background.
        """
        # validate first, then commit: a rejected call leaves the tracker as it was (retry-safe)
        index = self.frame_index + 1
        size = self._check_frame(frame, index)
        masks = self._check_masks(new_masks or {}, index, size)
        self.frame_index, self.frame_size = index, size
        record = FrameRecord(index=self.frame_index)
        ctx = _FrameContext(self, frame_to_input(frame, height=self.height, width=self.width, out=self._input),
                            record)
        probs: dict[int, np.ndarray] = {}
        for obj_id, mask in masks.items():
            self._init_object(ctx, obj_id, mask)
            probs[obj_id] = mask.astype(np.float32)
        for obj_id in sorted(set(self.objects) - set(masks)):
            probs[obj_id] = self._track_object(ctx, self.objects[obj_id])
        labels = fuse_labels(probs, self.frame_size)
        return FrameResult(labels=labels, probs=probs, record=record)

    # -- validation -------------------------------------------------------------------------
    def _check_frame(self, frame: np.ndarray, index: int) -> tuple[int, int]:
        """The frame's (H, W) if it is valid as frame ``index`` of this video; changes no state."""
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            got = getattr(frame, "shape", type(frame).__name__), getattr(frame, "dtype", "")
            raise InputError(f"frame {index}: expected an HxWx3 uint8 RGB array, got {got}")
        size = frame.shape[:2]
        if self.frame_size is not None and size != self.frame_size:
            raise InputError(f"frame {index}: size {size[1]}x{size[0]} differs from the video's "
                             f"{self.frame_size[1]}x{self.frame_size[0]} (WxH); call reset() for a new video")
        return size

    def _check_masks(self, masks: Mapping[int, np.ndarray], index: int, size: tuple[int, int]) -> dict[int, np.ndarray]:
        checked = {}
        for obj_id, mask in masks.items():
            if (not isinstance(obj_id, (int, np.integer)) or isinstance(obj_id, (bool, np.bool_))
                    or not 1 <= int(obj_id) <= MAX_OBJECT_ID):
                raise InputError(f"object id {obj_id!r}: expected an integer in 1..{MAX_OBJECT_ID}")
            mask = np.asarray(mask)
            if mask.shape != size:
                raise InputError(f"mask of object {obj_id}: size {mask.shape[::-1]} does not match the frame "
                                 f"{size[::-1]} (WxH)")
            mask = mask.astype(bool)
            if not mask.any():
                raise InputError(f"mask of object {obj_id} on frame {index} is empty: nothing to track")
            checked[int(obj_id)] = mask
        return checked

    # -- per-object work --------------------------------------------------------------------
    def _run(self, name: str, record: FrameRecord, **feeds: np.ndarray) -> dict[str, np.ndarray]:
        record.ran.append(name)
        return self.runner.run(name, feeds)

    def _init_object(self, ctx: _FrameContext, obj_id: int, mask: np.ndarray) -> None:
        rec = ctx.record
        m = mask_to_model(mask, height=self.height, width=self.width)
        label16 = block_mean(m, 16)
        high = ctx.high()
        template = self._run("template_build", rec, f8=ctx.f8, mask8=block_mean(m, 8))["template"]
        fit = self._run("score_init", rec, f16=high["f16"], label16=label16)
        for _ in range(self._refit_steps):
            fit = self._run("score_refit", rec, f16=high["f16"], label16=label16, proj_w_prev=fit["proj_w"],
                            filter_w_prev=fit["filter_w"])
        refined = self._run("refine_deep", rec, f16=high["f16"], f32=high["f32"], score=label16)["refined"]
        memory = SampleMemory.from_init(feats=fit["mem_feats"], labels=fit["mem_labels"], slots=self.memory_slots)
        self.objects[obj_id] = ObjectState(obj_id=obj_id, template=template, score=label16, refined=refined,
                                           proj_w=fit["proj_w"], filter_w=fit["filter_w"], memory=memory,
                                           first_frame=self.frame_index, last_mask16=label16)
        rec.objects[obj_id] = ObjectRecord(p_gate=None, decision="init")

    def _decide(self, obj: ObjectState, p_gate: float) -> tuple[bool, str | None]:
        """(reuse?, what forced a computed frame the gate would have reused: "keyframe_bound" or None)."""
        cfg = self.config
        gate_says_reuse = cfg.tau <= 0 or p_gate > cfg.tau
        if gate_says_reuse and cfg.keyframe_bound is not None and obj.consecutive_reuse >= cfg.keyframe_bound:
            return False, "keyframe_bound"
        return gate_says_reuse, None

    def _track_object(self, ctx: _FrameContext, obj: ObjectState) -> np.ndarray:
        rec = ctx.record
        gate = self._run("match_gate", rec, f8=ctx.f8, prev_score=obj.score, template=obj.template)
        p_gate = float(gate["p_gate"].reshape(-1)[0])
        if not np.isfinite(p_gate):
            raise InputError(f"frame {self.frame_index}, object {obj.obj_id}: match_gate returned P_gate {p_gate}; "
                             "the model's weights or the runtime are broken (non-finite output)")
        p_gate = self.config.gate_probability(p_gate)
        reuse, forced = self._decide(obj, p_gate)
        feat = None
        if reuse:
            delta = gate["delta"] * np.float32(self.config.delta_scale)
            score = obj.score + delta
            refined = self._run("refine_translate", rec, refined_prev=obj.refined, delta=delta)["refined"]
            obj.consecutive_reuse += 1
            obj.reused_frames += 1
        else:
            score, refined, feat = self._compute(ctx, obj)
        logits = self._run("refine_shallow", rec, f4=ctx.f4, f8=ctx.f8, refined=refined, score=score)["mask_logits"]
        prob = logits_to_prob(logits, height=self.height, width=self.width, out=self._prob)  # at the model size
        if feat is not None:
            self._remember(rec, obj, feat, block_mean(prob, 16))
        obj.last_mask16 = block_mean(binary_mask(prob, out=self._binary), 16)
        rec.objects[obj.obj_id] = ObjectRecord(p_gate=p_gate, decision="reuse" if reuse else "compute", forced=forced)
        at_frame = resize_prob(prob, height=self.frame_size[0], width=self.frame_size[1])
        return at_frame.copy() if at_frame is self._prob else at_frame  # the caller keeps it; the buffer is reused

    def _compute(self, ctx: _FrameContext, obj: ObjectState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Full path: S and R are recomputed and stored; returns (score, refined, projected feature)."""
        rec, high = ctx.record, ctx.high()
        out = self._run("score_gen", rec, f16=high["f16"], proj_w=obj.proj_w, filter_w=obj.filter_w)
        score = out["score"]
        if self.config.locality_radius is not None:
            score = score * locality_window(obj.last_mask16, self.config.locality_radius)
        refined = self._run("refine_deep", rec, f16=high["f16"], f32=high["f32"], score=score)["refined"]
        obj.score, obj.refined, obj.consecutive_reuse = score, refined, 0
        obj.computed_frames += 1
        return score, refined, out["feat"]

    def _remember(self, rec: FrameRecord, obj: ObjectState, feat: np.ndarray, label16: np.ndarray) -> None:
        """Store the computed frame's projected feature and predicted label (1/16); refit the filter periodically."""
        obj.memory.add(feat=feat, label=label16, learning_rate=self.config.learning_rate)
        if obj.computed_frames % self.config.update_every == 0:
            out = self._run("score_update", rec, mem_feats=obj.memory.feats, mem_labels=obj.memory.labels,
                            mem_weights=obj.memory.weights, filter_w=obj.filter_w)
            obj.filter_w = out["filter_w_new"]
