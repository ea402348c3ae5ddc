"""``reusevos-eval``: run the tracker over DAVIS sequences and score them the official way.

    reusevos-eval --davis ROOT --res 480p [--split val | --sequences a,b] [--model lite0]
                  [--checkpoint PATH | --bundle DIR] [--size HxW] [--tau T] [--keyframe-bound K] --json out.json

Prints one table (J&F, J, F on 0-100, reuse rate, fps) and writes the JSON report. Each
sequence is tracked at its native resolution (the tracker resizes to the model frame size and
back); objects are given to the tracker at the first annotated frame where they appear, and the
DAVIS void label 255 is not an object and not scored (as the DAVIS toolkit). fps is frames / wall
time of the tracker steps, first frame included (frame decoding excluded). The tracker options
default to the ones the weights (checkpoint or bundle) were tuned with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence as SequenceOf

import numpy as np

from ..data.clip import sequence_clip
from ..data.davis import DavisDataset, Sequence
from ..data.masks_io import split_void
from ..errors import InputError
from ..fileio import prepare_output_file, removed_on_failure, write_json
from ..metrics.jf import evaluate_sequence
from ..metrics.report import ObjectResult, SequenceResult, format_table, results_json
from ..tracker.run import decision_counts, track_clip
from .common import add_runner_args, make_setup, run_cli


def evaluate_one(tracker, seq: Sequence, *, progress: bool = True) -> SequenceResult:
    """Track and score one sequence (void pixels, id 255, left out of J and F)."""
    raw = seq.load_masks()
    gt, void = split_void(raw)
    tracked = track_clip(tracker, sequence_clip(seq, gt=raw), progress=progress)
    labels = np.stack(tracked.labels)
    if labels.shape != gt.shape:
        raise InputError(f"sequence {seq.name}: frames are {labels.shape[1:]} but annotations {gt.shape[1:]}")
    scores = evaluate_sequence(labels, gt, void=void if void.any() else None)
    counts = decision_counts(tracked.records)
    return SequenceResult(
        name=seq.name, objects=tuple(ObjectResult.from_scores(s) for s in scores), num_frames=len(seq),
        seconds=tracked.total_seconds, reused=counts["reuse"], gated=counts["reuse"] + counts["compute"],
    )


def add_selection_args(parser: argparse.ArgumentParser) -> None:
    """--davis ROOT --res R and --split S | --sequences a,b."""
    parser.add_argument("--davis", type=Path, required=True, help="DAVIS-layout root folder")
    parser.add_argument("--res", default="480p", help="resolution folder (default 480p)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--split", default="val", help="ImageSets split (default val)")
    which.add_argument("--sequences", default=None, help="comma-separated sequence names")


def selected_sequences(args: argparse.Namespace) -> list[Sequence]:
    """The sequences ``add_selection_args`` options name, checked to exist."""
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


def selection_json(args: argparse.Namespace) -> dict:
    return {"davis": str(args.davis), "res": args.res, "split": None if args.sequences else args.split,
            "sequences": args.sequences}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reusevos-eval", description=__doc__.split("\n\n")[0])
    add_selection_args(parser)
    parser.add_argument("--json", type=Path, required=True, help="where to write the JSON report")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    add_runner_args(parser)
    return parser


def run(args: argparse.Namespace) -> None:
    """Evaluate the selected sequences, print the table and write the JSON report."""
    created = prepare_output_file(args.json, flag="--json")
    with removed_on_failure(created):
        sequences = selected_sequences(args)
        setup = make_setup(args)
        tracker = setup.tracker()
        results = [evaluate_one(tracker, seq, progress=not args.no_progress) for seq in sequences]
        print(format_table(results))
        write_json(args.json, results_json(results, config={**selection_json(args), **setup.to_json()}))
    print(f"wrote {args.json}")


def main(argv: SequenceOf[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
