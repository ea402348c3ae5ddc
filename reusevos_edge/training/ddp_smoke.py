"""DDP smoke run (used by the tests): ``torchrun --nproc_per_node=2 -m reusevos_edge.training.ddp_smoke OUT [--qat]``.

Every rank builds ``tiny``, caches one synthetic clip, trains one epoch (batch 1, 2 clips per rank)
and writes its head state to ``OUT/rank{r}.safetensors``; rank 0 also writes the initial heads to
``OUT/init.safetensors`` and the trainer's checkpoint to ``OUT/out``. Ranks must end identical.
``--qat``: quantization-aware training (int8 backbone features, fake-quantized heads); the rank files
then hold the quantization state too (scales and zero points must end identical as well).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from ..data.synthetic import make_clip
from ..model.registry import build_model
from .feature_cache import cache_sequence
from .trainer import TrainConfig, Trainer, init_distributed


def _heads(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().clone() for k, v in model.head_state_dict().items() if v.dtype != torch.long}


def _qat_programs(model):
    from ..data.clip import parity_clip
    from ..quant.calibration import calibrated_programs
    from ..tracker.config import TrackerConfig

    clips = [parity_clip(height=64, width=96, num_frames=4)]
    return calibrated_programs(model, clips, height=64, width=96, config=TrackerConfig(), target="executorch", qat=True)


def main(argv: list[str] | None = None) -> int:
    from safetensors.torch import save_file

    argv = argv if argv is not None else sys.argv[1:]
    out, qat = Path(argv[0]), "--qat" in argv[1:]
    init_distributed()
    torch.set_num_threads(1)
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    model = build_model("tiny", use_default_checkpoint=False, seed=0)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        save_file(_heads(model), str(out / "init.safetensors"))
    frames, masks = make_clip(num_frames=6, height=48, width=72, speed_px=3.0, seed=1)
    programs = _qat_programs(model) if qat else None
    data = [cache_sequence(model, "clip", frames, masks, height=64, width=96,
                           backbone=programs.backbone() if programs else None)]
    cfg = TrainConfig(epochs=1, clips_per_epoch=2 * world, batch=1, clip_len=3, seed=0)
    # every rank trains and calls Trainer.save (it gathers the generators from all ranks)
    Trainer(model=model, data=data, config=cfg, out=out / "out", progress=False, programs=programs).train()
    save_file({**_heads(model), **(programs.state_dict() if programs else {})}, str(out / f"rank{rank}.safetensors"))
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
