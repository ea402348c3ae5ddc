"""Frozen-backbone features for every training frame, computed once (fp16 in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ..model.reusevos import ReuseVOS
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


@torch.no_grad()
def cache_sequence(model: ReuseVOS, name: str, frames: np.ndarray, masks: np.ndarray, *, height: int, width: int,
                   batch: int = 8) -> CachedSequence:
    """frames NxHxWx3 uint8, masks NxHxW ids (object = id > 0) -> features at the model frame size."""
    chunks: dict[str, list[torch.Tensor]] = {k: [] for k in FEATURES}
    for i in range(0, len(frames), batch):
        x = torch.from_numpy(np.concatenate([frame_to_input(f, height=height, width=width) for f in frames[i : i + batch]]))
        f4, f8 = model.backbone_low(x)
        f16, f32 = model.backbone_high(f8)
        for k, v in zip(FEATURES, (f4, f8, f16, f32)):
            chunks[k].append(v.half())
    mask, mask8, mask16 = _labels(masks, height, width)
    return CachedSequence(name=name, feats={k: torch.cat(v) for k, v in chunks.items()}, mask=mask, mask8=mask8, mask16=mask16)


def cache_dataset(model: ReuseVOS, sequences, *, height: int, width: int, progress: bool = True) -> list[CachedSequence]:
    """sequences: objects with ``name``, ``load_frames()``-like access via ``iter_frames()`` and ``load_masks()``."""
    out = []
    for seq in tqdm(list(sequences), desc="caching backbone features", disable=not progress):
        frames = np.stack(list(seq.iter_frames()))
        out.append(cache_sequence(model, seq.name, frames, seq.load_masks(), height=height, width=width))
    return out
