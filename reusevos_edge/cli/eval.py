"""``reusevos-eval``: run the tracker over DAVIS sequences and score them the official way.

    reusevos-eval --davis ROOT --res 480p [--split val | --sequences a,b] [--model lite0]
                  [--checkpoint PATH] [--size HxW] [--tau 0.5] [--keyframe-bound K] --json out.json

Prints one table (J&F, J, F on 0-100, reuse rate, fps) and writes the JSON report. Each
sequence is tracked at its native resolution (the tracker resizes to the model frame size and
back); objects are given to the tracker at the first annotated frame where they appear. fps is
frames / wall time of the tracker steps, first frame included (frame decoding excluded).

The runner comes from one function, ``make_runner(args)``: the PyTorch eager runner, or an
exported bundle given with ``--bundle DIR`` (its manifest fixes runtime, model and frame size).
``--bundle`` with ``--checkpoint`` refuses a bundle whose manifest weights fingerprint is not the
checkpoint's (exit 2, both fingerprints named).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence as SequenceOf

import numpy as np
from tqdm import tqdm

from ..data.davis import DavisDataset, Sequence, first_masks
from ..errors import InputError, MissingExtraError
from ..metrics.jf import evaluate_sequence
from ..metrics.report import ObjectResult, SequenceResult, format_table, results_json, write_json
from ..model.registry import DEFAULT_MODEL, DEFAULT_SIZE, build_model, parse_size
from ..tracker.tracker import Tracker, TrackerConfig


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """The model / runtime / gate options shared by the CLIs."""
    default_size = f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}"
    parser.add_argument("--model", default=DEFAULT_MODEL, help="registered variant (lite0, r18, tiny)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="safetensors checkpoint (with --bundle: checked to be the weights the bundle holds)")
    parser.add_argument("--size", default=default_size, help=f"model frame size HxW (default {default_size})")
    add_gate_args(parser)
    parser.add_argument("--bundle", type=Path, default=None,
                        help="run an exported runtime bundle instead of PyTorch eager")


def add_gate_args(parser: argparse.ArgumentParser) -> None:
    """The tracker options (TrackerConfig), defaulting to the values tuned for the bundled model."""
    d = TrackerConfig()
    parser.add_argument("--tau", type=float, default=d.tau, help=f"reuse when P_gate > tau (default {d.tau})")
    parser.add_argument("--keyframe-bound", type=int, default=d.keyframe_bound,
                        help="at most K consecutive reuse frames per object, then a computed one; -1 = unbounded "
                             f"(default {d.keyframe_bound})")
    parser.add_argument("--locality-radius", type=int, default=d.locality_radius,
                        help=f"zero the score beyond R 1/16 cells of the previous mask; -1 = off (default {d.locality_radius})")
    parser.add_argument("--delta-scale", type=float, default=d.delta_scale,
                        help=f"scale of the delta map on reuse frames, 1 = the paper (default {d.delta_scale})")


def make_runner(args: argparse.Namespace):
    """Build the runner the tracker calls: an exported bundle if ``--bundle``, else PyTorch eager."""
    if getattr(args, "bundle", None) is not None:
        runner = _bundle_runner(args.bundle)
        if getattr(args, "checkpoint", None) is not None:
            _check_bundle_checkpoint(runner, args.checkpoint)
        return runner
    from ..runtime.torch_runner import TorchRunner

    height, width = parse_size(args.size)
    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise InputError(f"--checkpoint {args.checkpoint}: no such file (expected a .safetensors checkpoint)")
    model = build_model(args.model, checkpoint=args.checkpoint)
    return TorchRunner(model=model, height=height, width=width)


def _bundle_runner(path: Path):
    """The runner of an exported bundle folder (its manifest names the runtime and frame size)."""
    from ..runtime.bundle import MANIFEST_NAME, load_bundle_runner

    if not path.is_dir():
        raise InputError(f"--bundle {path}: no such folder (expected an exported bundle folder)")
    if not (path / MANIFEST_NAME).is_file():
        raise InputError(f"--bundle {path}: no {MANIFEST_NAME} in it (expected an exported bundle folder)")
    return load_bundle_runner(path)


def _check_bundle_checkpoint(runner, checkpoint: Path) -> None:
    """``--bundle`` with ``--checkpoint``: the bundle must hold that checkpoint's weights (its manifest's
    ``weights_sha256``), else WeightsMismatchError naming both fingerprints and the checkpoint."""
    from ..model.fingerprint import check_bundle_weights

    if not checkpoint.is_file():
        raise InputError(f"--checkpoint {checkpoint}: no such file (expected a .safetensors checkpoint)")
    variant = (runner.manifest.get("model") or {}).get("variant")
    if variant is None:
        raise InputError(f"--bundle {runner.bundle_dir}: its manifest names no model variant, "
                         f"so --checkpoint {checkpoint} cannot be checked against it")
    model = build_model(variant, checkpoint=checkpoint)
    check_bundle_weights(runner.manifest, model, bundle=str(runner.bundle_dir), checkpoint=str(checkpoint))


def tracker_config(args: argparse.Namespace, *, tau: float | None = None) -> TrackerConfig:
    """The TrackerConfig the options of ``add_gate_args`` ask for (``tau`` overrides ``args.tau``; -1 = unbounded/off)."""
    tau = args.tau if tau is None else tau
    if not 0.0 <= tau <= 1.0:
        raise InputError(f"--tau {tau}: expected a probability in [0, 1]")
    options = {}
    for name, flag in (("keyframe_bound", "--keyframe-bound"), ("locality_radius", "--locality-radius")):
        value = getattr(args, name)
        if value is not None and value < -1:
            raise InputError(f"{flag} {value}: expected an integer >= 0, or -1 for none")
        options[name] = None if value == -1 else value
    if not 0.0 <= args.delta_scale <= 1.0:
        raise InputError(f"--delta-scale {args.delta_scale}: expected a number in [0, 1]")
    return TrackerConfig(tau=tau, delta_scale=args.delta_scale, **options)


def make_tracker(args: argparse.Namespace):
    """A tracker over ``make_runner(args)`` with the gate options from ``args``."""
    config = tracker_config(args)
    return Tracker(runner=make_runner(args), config=config)


def count_decisions(records: Iterable) -> tuple[int, int]:
    """(reused, gated) object-frame decisions in frame records; "init" is not a gate decision."""
    decisions = [obj.decision for record in records for obj in record.objects.values()]
    return decisions.count("reuse"), sum(d in ("reuse", "compute") for d in decisions)


def run_cli(body: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser,
            argv: SequenceOf[str] | None) -> int:
    """Parse ``argv`` and run ``body``; bad input (or a missing optional backend) prints
    ``error: <message>`` and returns 2."""
    args = parser.parse_args(argv)
    try:
        body(args)
    except (InputError, MissingExtraError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


@dataclass(frozen=True)
class TrackedSequence:
    """Predicted NxHxW uint8 ids, the frame records and the wall time of the tracker steps."""

    labels: np.ndarray
    records: list
    seconds: float


def track_sequence(tracker, seq: Sequence, gt: np.ndarray, *, progress: bool = True) -> TrackedSequence:
    """Track ``seq``, giving each object its GT mask (NxHxW uint8 ``gt``) where it first appears."""
    starts: dict[int, dict[int, np.ndarray]] = {}
    for obj_id, first in first_masks(gt).items():
        starts.setdefault(first.frame_index, {})[obj_id] = first.mask
    tracker.reset()
    labels, records, seconds = [], [], 0.0
    frames = tqdm(seq.iter_frames(), total=len(seq), desc=seq.name, leave=False, disable=not progress)
    for index, frame in enumerate(frames):
        start = time.perf_counter()
        result = tracker.step(frame, new_masks=starts.get(index))
        seconds += time.perf_counter() - start
        labels.append(result.labels)
        records.append(result.record)
    return TrackedSequence(labels=np.stack(labels), records=records, seconds=seconds)


def evaluate_one(tracker, seq: Sequence, *, progress: bool = True) -> SequenceResult:
    """Track and score one sequence."""
    gt = seq.load_masks()
    tracked = track_sequence(tracker, seq, gt, progress=progress)
    if tracked.labels.shape != gt.shape:
        raise InputError(
            f"sequence {seq.name}: frames are {tracked.labels.shape[1:]} but annotations {gt.shape[1:]}"
        )
    scores = evaluate_sequence(tracked.labels, gt)
    reused, gated = count_decisions(tracked.records)
    return SequenceResult(
        name=seq.name, objects=tuple(ObjectResult.from_scores(s) for s in scores),
        num_frames=len(seq), seconds=tracked.seconds, reused=reused, gated=gated,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reusevos-eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--davis", type=Path, required=True, help="DAVIS-layout root folder")
    parser.add_argument("--res", default="480p", help="resolution folder (default 480p)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--split", default="val", help="ImageSets split (default val)")
    which.add_argument("--sequences", default=None, help="comma-separated sequence names")
    parser.add_argument("--json", type=Path, required=True, help="where to write the JSON report")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_runner_args(parser)
    return parser


def _selected(args: argparse.Namespace) -> list[Sequence]:
    dataset = DavisDataset(root=args.davis, res=args.res)
    if args.sequences is None:
        return dataset.sequences(args.split)
    names = [name.strip() for name in args.sequences.split(",") if name.strip()]
    if not names:
        raise InputError(f"--sequences {args.sequences!r}: expected comma-separated sequence names")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"--sequences {args.sequences!r}: {', '.join(repeated)} listed more than once")
    return dataset.sequences(names=names)


def _config(args: argparse.Namespace) -> dict:
    return {
        "davis": str(args.davis), "res": args.res, "split": None if args.sequences else args.split,
        "model": args.model, "checkpoint": str(args.checkpoint) if args.checkpoint else None,
        "bundle": str(args.bundle) if args.bundle else None, "size": args.size,
        "tau": args.tau, "keyframe_bound": args.keyframe_bound, "locality_radius": args.locality_radius,
        "delta_scale": args.delta_scale,
    }


def _check_json_path(path: Path) -> None:
    if not path.parent.is_dir():
        raise InputError(f"--json {path}: the folder {path.parent} does not exist")


def run(args: argparse.Namespace) -> None:
    """Evaluate the selected sequences, print the table and write the JSON report."""
    _check_json_path(args.json)
    sequences = _selected(args)
    tracker = make_tracker(args)
    results = [evaluate_one(tracker, seq, progress=not args.no_progress) for seq in sequences]
    print(format_table(results))
    write_json(args.json, results_json(results, config=_config(args)))
    print(f"wrote {args.json}")


def main(argv: SequenceOf[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
