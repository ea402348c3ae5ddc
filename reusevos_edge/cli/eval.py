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

from ..fileio import prepare_output_file, removed_on_failure, write_json
from ..metrics.evaluate import evaluate_one
from ..metrics.report import format_table, results_json
from .common import add_runner_args, add_selection_args, make_setup, run_cli, selected_sequences, selection_json


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
