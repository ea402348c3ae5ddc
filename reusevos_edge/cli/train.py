"""``reusevos-train``: the paper's training recipe on DAVIS-layout data (backbone frozen, features cached).

``--qat --init FLOAT_CHECKPOINT`` fine-tunes the heads with int8 fake quantization (the ExecuTorch /
XNNPACK recipe): the backbone is calibrated on the first frames of the training sequences and frozen,
its int8 features are computed by its ExecuTorch/XNNPACK program and cached, the heads train through
fake-quantize programs whose observers freeze after ``--observer-epochs``, and the gate follows the
float model's P_gate (``--gate-teacher``, on by default) so the int8 reuse decisions stay the float
model's; every checkpoint carries the quantization state, so
``reusevos-export --precision int8 --checkpoint OUT/last.safetensors`` needs no calibration data.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from ..data.davis import DavisDataset
from ..data.paste import pasted_sequences
from ..errors import InputError
from ..fileio import prepare_output_dir
from ..model.config import HeadConfig
from ..model.registry import DEFAULT_MODEL, build_model, parse_size
from ..training.feature_cache import cache_dataset
from ..training.trainer import TrainConfig, Trainer, init_distributed
from ..tracker.config import tracker_defaults
from .common import run_cli

DEFAULT_TRAIN_SIZE = "384x672"
QAT_TARGET = "executorch"  # whose int8 recipe QAT simulates (XNNPACK: symmetric int8, per-channel weights)


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="reusevos-train", description=__doc__)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--davis", required=True, help="DAVIS-layout root")
    p.add_argument("--res", default="288p")
    p.add_argument("--split", default="train-fit",
                   help="ImageSets split (default train-fit: the train list without its held-out fifth, "
                        "train-holdout, on which options are chosen; see reusevos_edge.data.splits)")
    p.add_argument("--sequences", default=None, help="comma-separated names instead of --split")
    p.add_argument("--size", default=DEFAULT_TRAIN_SIZE, help="model frame size HxW (multiples of 32)")
    p.add_argument("--out", required=True)
    p.add_argument("--init", default=None, help="start from this head checkpoint (a float one; required by --qat)")
    p.add_argument("--qat", action="store_true", help="quantization-aware int8 fine-tuning of the --init heads")
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--cache-dir", default=None,
                   help="keep backbone features and first-frame fits here and reuse them in later runs")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--residual-bound", type=float, default=None, metavar="B",
                   help="the decoder's reach in logits around the score prior (default: the --init checkpoint's, else 3)")
    p.add_argument("--keep-every", type=int, default=0, metavar="N",
                   help="also keep OUT/epoch_NNN.safetensors every N epochs (choose the epoch on train-holdout)")
    for name, value in vars(d).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value)
        else:
            p.add_argument(flag, type=type(value), default=value)
    return p


def run(args: argparse.Namespace) -> None:
    if args.keep_every < 0:
        raise InputError(f"--keep-every {args.keep_every}: expected 0 (only last.safetensors) or a number of epochs")
    if args.residual_bound is not None:
        try:
            HeadConfig(residual_bound=args.residual_bound)
        except ValueError as exc:
            raise InputError(f"--residual-bound {args.residual_bound}: {exc}") from None
    if args.qat and args.init is None:
        raise InputError("--qat fine-tunes float heads with int8 fake quantization: pass --init FLOAT_CHECKPOINT "
                         "(e.g. the bundled reusevos_edge/weights/lite0.safetensors)")
    if args.mask_teacher and not (args.qat and args.gate_teacher):
        raise InputError("--mask-teacher true distils the float model QAT starts from: it needs --qat and "
                         "--gate-teacher true")
    prepare_output_dir(args.out, allow_existing=True)  # before the long feature caching
    distributed = init_distributed()
    torch.set_num_threads(max(torch.get_num_threads() // (2 if distributed else 1), 1))
    height, width = parse_size(args.size)
    cfg = TrainConfig(**{k: getattr(args, k) for k in vars(TrainConfig())})
    model = build_model(args.model, checkpoint=args.init, use_default_checkpoint=False, seed=cfg.seed)
    if args.residual_bound is not None:
        model.set_residual_bound(args.residual_bound)
    dataset = DavisDataset(root=args.davis, res=args.res)
    names = args.sequences.split(",") if args.sequences else None
    seqs = dataset.sequences(split=args.split, names=names)
    tracker = tracker_defaults(model, checkpoint=args.init, use_bundled=False)  # an --init's options carry over
    programs = _qat_programs(model, seqs, height=height, width=width, tracker=tracker) if args.qat else None
    with tempfile.TemporaryDirectory(prefix="reusevos-int8-backbone-") as lowered:  # QAT: XNNPACK computes the features
        backbone = programs.backbone(lowered_in=lowered) if programs else None
        data = cache_dataset(model, seqs, height=height, width=width, progress=not args.no_progress,
                             cache_dir=args.cache_dir, backbone=backbone,
                             backbone_tag=programs.backbone_tag(lowered=True) if programs else "")
        if cfg.pasted:  # generated per run from the seed, so never kept in the cache folder
            data += cache_dataset(model, pasted_sequences(seqs, count=cfg.pasted, seed=cfg.seed), height=height,
                                  width=width, progress=not args.no_progress, backbone=backbone)
    trainer = Trainer(model=model, data=data, config=cfg, out=args.out, progress=not args.no_progress, tracker=tracker,
                      programs=programs, keep_every=args.keep_every)
    if args.resume:
        if not (Path(args.out) / "state.pt").is_file():
            raise InputError(f"--resume: no {Path(args.out) / 'state.pt'} to resume from")
        trainer.resume()
    for stats in trainer.train()[-1:]:
        if trainer.rank == 0:
            print(f"done: epoch {stats['epoch']} loss {stats['loss']:.4f} reuse {stats['reuse_rate']:.2f} -> {args.out}/last.safetensors")
    if programs is not None and trainer.rank == 0:
        _record_qparams(Path(args.out) / "last.safetensors", model, programs, seqs, height=height, width=width,
                        tracker=tracker)


def _record_qparams(checkpoint: Path, model, programs, seqs, *, height: int, width: int, tracker) -> None:
    """Record in the QAT checkpoint's JSON the parameters other targets' int8 recipes need beyond the
    trained ones (``quant.transfer``), calibrated on the training sequences' first frames."""
    from ..fileio import write_json
    from ..model.checkpoint import read_checkpoint_info
    from ..quant.calibration import calibration_clips
    from ..quant.transfer import record_for_checkpoint

    clips = calibration_clips(seqs, height=height, width=width)
    recorded = record_for_checkpoint(programs, model.eval(), clips, config=tracker, height=height, width=width)
    info = read_checkpoint_info(checkpoint)
    info.setdefault("quantization", {})["recorded_qparams"] = recorded
    write_json(checkpoint.with_suffix(".json"), info)
    print(f"recorded the parameters of {sorted(recorded)}'s int8 recipes -> {checkpoint.with_suffix('.json')}")


def _qat_programs(model, seqs, *, height: int, width: int, tracker):
    """The int8 programs to fine-tune, calibrated on the first frames of (some of) the training sequences."""
    from ..quant.calibration import calibrated_programs, calibration_clips

    clips = calibration_clips(seqs, height=height, width=width)
    return calibrated_programs(model, clips, height=height, width=width, config=tracker, target=QAT_TARGET, qat=True)


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
