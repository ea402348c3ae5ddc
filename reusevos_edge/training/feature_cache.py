"""Frozen-backbone features for every training frame, computed once (fp16 in memory), optionally kept on disk.

With a cache folder, each sequence's features, labels and first-frame score-generator fits (every frame,
both flips) are written once to ``<cache>/<name>_<H>x<W>_<key>.pt`` and read back by later runs; ``key``
is a digest of everything they depend on (backbone weights, fit settings, projection init), so a changed
model never reads a stale file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from ..fileio import atomic_write
from ..model.reusevos import BACKBONE_PREFIXES, ReuseVOS
from ..tracker.frames import block_mean, frame_to_input, mask_to_model

FEATURES = ("f4", "f8", "f16", "f32")


@dataclass
class CachedSequence:
    """One video: features (name -> Nx C x h x w fp16) and labels at 1, 1/8 and 1/16 (Nx1xhxw float32)."""

    name: str
    feats: dict[str, torch.Tensor]
    mask: torch.Tensor
    mask8: torch.Tensor
    mask16: torch.Tensor
    fits: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return self.mask.shape[0]


def _labels(masks: np.ndarray, height: int, width: int) -> tuple[torch.Tensor, ...]:
    full = np.stack([mask_to_model(m > 0, height=height, width=width) for m in masks])
    m8 = np.concatenate([block_mean(m, 8) for m in full])
    m16 = np.concatenate([block_mean(m, 16) for m in full])
    return torch.from_numpy((full > 0.5).astype(np.float32))[:, None], torch.from_numpy(m8), torch.from_numpy(m16)


Backbone = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]  # Bx3xHxW -> (f4, f8, f16, f32)


def float_backbone(model: ReuseVOS) -> Backbone:
    """The model's own (float) backbone as a :data:`Backbone`."""
    def run(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        f4, f8 = model.backbone_low(x)
        return (f4, f8, *model.backbone_high(f8))
    return run


@torch.no_grad()
def cache_sequence(model: ReuseVOS, name: str, frames: np.ndarray, masks: np.ndarray, *, height: int, width: int,
                   batch: int = 8, backbone: Backbone | None = None) -> CachedSequence:
    """frames NxHxWx3 uint8, masks NxHxW ids (object = id > 0) -> features at the model frame size.

    backbone: what computes the features (default: the model's float backbone; quantization-aware
    training passes the int8 one, so the heads learn on the features the int8 programs produce).
    """
    backbone = backbone or float_backbone(model)
    chunks: dict[str, list[torch.Tensor]] = {k: [] for k in FEATURES}
    for i in range(0, len(frames), batch):
        x = torch.from_numpy(np.concatenate([frame_to_input(f, height=height, width=width) for f in frames[i : i + batch]]))
        for k, v in zip(FEATURES, backbone(x)):
            chunks[k].append(v.half())
    mask, mask8, mask16 = _labels(masks, height, width)
    return CachedSequence(name=name, feats={k: torch.cat(v) for k, v in chunks.items()}, mask=mask, mask8=mask8, mask16=mask16)


def cache_key(model: ReuseVOS, *, backbone_tag: str = "") -> str:
    """Digest of what cached features and fits depend on: backbone tensors (and ``backbone_tag``, naming a
    non-float backbone), first-frame fit settings, projection init."""
    fit = model.config.fit
    h = hashlib.sha256(repr((fit.init_cg_iters, fit.reg_project, fit.reg_filter, fit.aug_copies, backbone_tag)).encode())
    state = model.state_dict()
    for name in sorted(k for k in state if k.startswith(BACKBONE_PREFIXES) or k == "score_generator.project_init"):
        h.update(name.encode())
        h.update(state[name].detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def frame_tensors(seq: CachedSequence, i: int, flip: bool) -> dict[str, torch.Tensor]:
    """Cached features and labels of frame ``i`` (1xCxhxw each), mirrored when ``flip``."""
    out = {k: seq.feats[k][i : i + 1].float() for k in FEATURES}
    out.update(mask=seq.mask[i : i + 1], mask8=seq.mask8[i : i + 1], mask16=seq.mask16[i : i + 1])
    return {k: torch.flip(v, dims=(3,)) for k, v in out.items()} if flip else out


def first_frame_fit(model: ReuseVOS, seq: CachedSequence, index: int, flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Score-generator weights fitted on one frame with its ground truth, memoised on the sequence
    (the fit has no trainable input, so it is cached like the backbone features)."""
    key = (index, flip)
    if key not in seq.fits:
        fr = frame_tensors(seq, index, flip)
        with torch.no_grad():
            proj_w, filter_w, _, _ = model.score_generator.init_fit(fr["f16"], fr["mask16"])
        seq.fits[key] = (proj_w, filter_w)
    return seq.fits[key]


def fit_all_frames(model: ReuseVOS, seq: CachedSequence) -> None:
    """Memoise the first-frame fit of every frame of ``seq``, both flips (see :func:`first_frame_fit`)."""
    for i in range(len(seq)):
        for flip in (False, True):
            first_frame_fit(model, seq, i, flip)


def _load_or_cache(model: ReuseVOS, seq, path: Path | None, *, height: int, width: int,
                   backbone: Backbone | None) -> CachedSequence:
    if path is not None and path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        return CachedSequence(name=seq.name, feats=saved["feats"], mask=saved["mask"], mask8=saved["mask8"],
                              mask16=saved["mask16"], fits={(int(i), bool(f)): w for (i, f), w in saved["fits"]})
    frames = np.stack(list(seq.iter_frames()))
    cached = cache_sequence(model, seq.name, frames, seq.load_masks(), height=height, width=width, backbone=backbone)
    if path is not None:
        fit_all_frames(model, cached)
        saved = {"feats": cached.feats, "mask": cached.mask, "mask8": cached.mask8, "mask16": cached.mask16,
                 "fits": [((i, f), w) for (i, f), w in cached.fits.items()]}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: torch.save(saved, tmp))
    return cached


def cache_dataset(model: ReuseVOS, sequences, *, height: int, width: int, progress: bool = True,
                  cache_dir: str | Path | None = None, backbone: Backbone | None = None,
                  backbone_tag: str = "") -> list[CachedSequence]:
    """sequences: objects with ``name``, ``iter_frames()`` and ``load_masks()``; cache_dir: see the module doc;
    backbone / backbone_tag: a non-float backbone (see :func:`cache_sequence`) and a name for it in the cache key."""
    key = cache_key(model, backbone_tag=backbone_tag) if cache_dir is not None else ""
    out = []
    for seq in tqdm(list(sequences), desc="caching backbone features", disable=not progress):
        path = Path(cache_dir) / f"{seq.name}_{height}x{width}_{key}.pt" if cache_dir is not None else None
        out.append(_load_or_cache(model, seq, path, height=height, width=width, backbone=backbone))
    return out
