"""``reusevos-train``: the paper's training recipe on DAVIS-layout data (backbone frozen, features cached)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..data.davis import DavisDataset
from ..errors import InputError
from ..fileio import prepare_output_dir
from ..model.registry import DEFAULT_MODEL, build_model, parse_size
from ..training.feature_cache import cache_dataset
from ..training.trainer import TrainConfig, Trainer, init_distributed
from ..tracker.config import tracker_defaults
from .common import run_cli

DEFAULT_TRAIN_SIZE = "384x672"


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="reusevos-train", description=__doc__)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--davis", required=True, help="DAVIS-layout root")
    p.add_argument("--res", default="288p")
    p.add_argument("--split", default="train")
    p.add_argument("--sequences", default=None, help="comma-separated names instead of --split")
    p.add_argument("--size", default=DEFAULT_TRAIN_SIZE, help="model frame size HxW (multiples of 32)")
    p.add_argument("--out", required=True)
    p.add_argument("--init", default=None, help="start from this head checkpoint")
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--cache-dir", default=None,
                   help="keep backbone features and first-frame fits here and reuse them in later runs")
    p.add_argument("--no-progress", action="store_true")
    for name, value in vars(d).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value)
        else:
            p.add_argument(flag, type=type(value), default=value)
    return p


def run(args: argparse.Namespace) -> None:
    prepare_output_dir(args.out, allow_existing=True)  # before the long feature caching
    distributed = init_distributed()
    torch.set_num_threads(max(torch.get_num_threads() // (2 if distributed else 1), 1))
    height, width = parse_size(args.size)
    cfg = TrainConfig(**{k: getattr(args, k) for k in vars(TrainConfig())})
    model = build_model(args.model, checkpoint=args.init, use_default_checkpoint=False, seed=cfg.seed)
    dataset = DavisDataset(root=args.davis, res=args.res)
    names = args.sequences.split(",") if args.sequences else None
    seqs = dataset.sequences(split=args.split, names=names)
    data = cache_dataset(model, seqs, height=height, width=width, progress=not args.no_progress, cache_dir=args.cache_dir)
    tracker = tracker_defaults(model, checkpoint=args.init, use_bundled=False)  # an --init's options carry over
    trainer = Trainer(model=model, data=data, config=cfg, out=args.out, progress=not args.no_progress, tracker=tracker)
    if args.resume:
        if not (Path(args.out) / "state.pt").is_file():
            raise InputError(f"--resume: no {Path(args.out) / 'state.pt'} to resume from")
        trainer.resume()
    for stats in trainer.train()[-1:]:
        if trainer.rank == 0:
            print(f"done: epoch {stats['epoch']} loss {stats['loss']:.4f} reuse {stats['reuse_rate']:.2f} -> {args.out}/last.safetensors")


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
