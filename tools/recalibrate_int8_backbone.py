"""Recalibrate the backbone quantization of a QAT checkpoint under the current int8 recipe; keep its heads.

    python tools/recalibrate_int8_backbone.py --checkpoint reusevos_edge/weights/lite0_int8.safetensors \\
        --davis DAVIS2016_ROOT [--out PATH]   (default: in place, atomically)

``reusevos-train --qat`` calibrates the backbone once on DAVIS *train* frames and freezes it; only the
heads train. When the recipe's observer layout of the backbone changes (e.g. a padded conv's input
sharing its pad input's observer, ``quant.xnnpack.share_pad_quantization``), a checkpoint's backbone
state no longer fits. This reruns exactly that calibration (same sequences, frames, size and split as
training) with the checkpoint's own weights, and keeps the heads' weights and QAT state unchanged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reusevos_edge.cli.common import run_cli
from reusevos_edge.cli.train import DEFAULT_TRAIN_SIZE, QAT_TARGET
from reusevos_edge.data.davis import DavisDataset
from reusevos_edge.model.checkpoint import QUANT_PREFIX, read_checkpoint_info, read_quantization, save_checkpoint
from reusevos_edge.model.registry import build_model, parse_size
from reusevos_edge.quant.calibration import calibrated_programs, calibration_clips
from reusevos_edge.quant.programs import BACKBONE
from reusevos_edge.tracker.config import tracker_defaults


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--davis", type=Path, required=True, help="DAVIS 2016 root (its 288p train split)")
    p.add_argument("--out", type=Path, default=None, help="default: overwrite --checkpoint")
    return p


def run(args: argparse.Namespace) -> None:
    info = read_checkpoint_info(args.checkpoint)
    model = build_model(info["variant"], checkpoint=args.checkpoint, quantized=True)
    height, width = parse_size(DEFAULT_TRAIN_SIZE)
    seqs = DavisDataset(root=args.davis, res="288p").sequences(split="train")
    tracker = tracker_defaults(model, checkpoint=args.checkpoint, use_bundled=False)
    programs = calibrated_programs(model, calibration_clips(seqs, height=height, width=width), height=height,
                                   width=width, config=tracker, target=info["quantization"]["recipe"], qat=True)
    backbone = tuple(f"{QUANT_PREFIX}{n}." for n in BACKBONE)
    fresh, trained = programs.state_dict(), read_quantization(args.checkpoint)
    merged = {k: (v if k.startswith(backbone) else trained[k]) for k, v in fresh.items()}
    programs.load_state_dict(merged, source=str(args.checkpoint))
    extra = {k: v for k, v in info.items() if k not in ("variant", "config")}
    extra["quantization"] = {**info["quantization"], "activation_scales": programs.activation_scales(),
                             "backbone_recalibrated": "tools/recalibrate_int8_backbone.py (DAVIS train, 288p)"}
    save_checkpoint(model, args.out or args.checkpoint, extra=extra, quantization=programs.state_dict())
    print(f"backbone recalibrated, heads kept -> {args.out or args.checkpoint}")


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
