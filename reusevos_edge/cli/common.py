"""What every command shares: model/bundle/tracker options, the runner they ask for, and ``run_cli``.

``run_cli`` is the one entry wrapper: it parses the arguments, turns bad input into one
``error: <message>`` line and exit status 2, a write failure (read-only or full disk) into one
``error:`` line and 2, and SIGINT / SIGTERM into clean-up (every temporary output is removed by
the context managers that made it) plus one line and exit status 130 / 143.
"""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..data.davis import DavisDataset, Sequence as DavisSequence
from ..errors import InputError, MissingExtraError
from ..model.registry import CONFIGS, DEFAULT_MODEL, DEFAULT_SIZE, build_model, default_checkpoint, parse_size
from ..tracker.config import TrackerConfig, bundle_tracker_config, tracker_defaults
from ..tracker.tracker import Tracker

GATE_FLAGS = {"tau": "--tau", "keyframe_bound": "--keyframe-bound", "locality_radius": "--locality-radius",
              "delta_scale": "--delta-scale"}


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like KeyboardInterrupt so every clean-up runs."""


def add_runner_args(parser: argparse.ArgumentParser, *, bundle: bool = True) -> None:
    """The model / bundle options, then the tracker options."""
    size = f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}"
    parser.add_argument("--model", default=None, choices=sorted(CONFIGS),
                        help=f"registered variant (default {DEFAULT_MODEL}; with --bundle: the bundle's)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="safetensors checkpoint (with --bundle: checked to be the weights the bundle holds)")
    parser.add_argument("--size", default=None, help=f"model frame size HxW (default {size}; with --bundle: the bundle's)")
    parser.add_argument("--untrained", action="store_true",
                        help="allow a variant without trained heads and no --checkpoint (random heads: for tests)")
    if bundle:
        parser.add_argument("--bundle", type=Path, default=None,
                            help="run an exported bundle instead of PyTorch eager")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for the runtime and the tracker's host ops (default: each library's own, "
                             "usually one per core)")
    add_gate_args(parser)


def add_gate_args(parser: argparse.ArgumentParser) -> None:
    """The tracker options; each defaults to the value the weights (checkpoint or bundle) were tuned with."""
    tuned = "default: the value the weights were tuned with"
    parser.add_argument("--tau", type=float, default=None, help=f"reuse when P_gate > tau ({tuned})")
    parser.add_argument("--keyframe-bound", type=int, default=None,
                        help=f"at most K consecutive reuse frames per object, then a computed one; -1 = unbounded ({tuned})")
    parser.add_argument("--locality-radius", type=int, default=None,
                        help=f"zero the score beyond R 1/16 cells of the previous mask; -1 = off ({tuned})")
    parser.add_argument("--delta-scale", type=float, default=None,
                        help=f"scale of the delta map on reuse frames, 1 = the paper ({tuned})")


def tracker_config(args: argparse.Namespace, defaults: TrackerConfig) -> TrackerConfig:
    """``defaults`` with every tracker option given on the command line applied (-1 = unbounded/off)."""
    changes = {}
    for name, flag in GATE_FLAGS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if name in ("keyframe_bound", "locality_radius"):
            if value < -1:
                raise InputError(f"{flag} {value}: expected an integer >= 0, or -1 for none")
            value = None if value == -1 else value
        elif name == "tau" and not 0.0 <= value <= 1.0:
            raise InputError(f"{flag} {value}: expected a probability in [0, 1]")
        elif name == "delta_scale" and not 0.0 <= value <= 1.0:
            raise InputError(f"{flag} {value}: expected a number in [0, 1]")
        changes[name] = value
    return defaults.replace(**changes)


@dataclass(frozen=True)
class Setup:
    """The runner a command asked for and what it is: model variant, frame size, weights, bundle, tracker options."""

    runner: object
    model: str
    size: tuple[int, int]
    checkpoint: str | None
    bundle: str | None
    config: TrackerConfig

    def tracker(self) -> Tracker:
        return Tracker(runner=self.runner, config=self.config)

    def to_json(self) -> dict:
        return {"model": self.model, "size": f"{self.size[0]}x{self.size[1]}", "checkpoint": self.checkpoint,
                "bundle": self.bundle, "runtime": getattr(getattr(self.runner, "target", None), "name", "pytorch"),
                "tracker": self.config.to_json()}


def check_model_args(args: argparse.Namespace) -> None:
    """Checks that need no model: the checkpoint exists, a bundle folder exists, trained heads are known."""
    if getattr(args, "threads", None) is not None and args.threads < 1:
        raise InputError(f"--threads {args.threads}: expected at least 1")
    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise InputError(f"--checkpoint {args.checkpoint}: no such file (expected a .safetensors checkpoint)")
    if getattr(args, "bundle", None) is not None:
        return
    if args.size is not None:
        parse_size(args.size)
    model = args.model or DEFAULT_MODEL
    if args.checkpoint is None and default_checkpoint(model) is None and not args.untrained:
        raise InputError(f"--model {model} ships no trained heads: pass --checkpoint PATH "
                         "(or --untrained to run its randomly initialised heads, e.g. for tests)")


def make_setup(args: argparse.Namespace) -> Setup:
    """The runner ``args`` ask for: an exported bundle if ``--bundle``, else PyTorch eager, with its tracker options.
    ``--threads`` (None: each library's default) caps the runtime and the tracker's host ops."""
    check_model_args(args)
    threads = getattr(args, "threads", None)
    if threads is not None:
        from ..tracker.frames import set_host_threads

        set_host_threads(threads)
    if getattr(args, "bundle", None) is not None:
        return _bundle_setup(args, threads)
    from ..runtime.torch_runner import TorchRunner

    model_name = args.model or DEFAULT_MODEL
    height, width = parse_size(args.size) if args.size else DEFAULT_SIZE
    model = build_model(model_name, checkpoint=args.checkpoint)
    checkpoint = args.checkpoint or default_checkpoint(model_name)
    config = tracker_config(args, tracker_defaults(model, checkpoint=args.checkpoint))
    runner = TorchRunner(model=model, height=height, width=width, threads=threads)
    return Setup(runner, model_name, (height, width), str(checkpoint) if checkpoint else None, None, config)


def _bundle_setup(args: argparse.Namespace, threads: int | None) -> Setup:
    from ..runtime.bundle import load_bundle_runner

    runner = load_bundle_runner(args.bundle, num_threads=threads)
    variant, size = runner.variant, runner.frame_size
    if args.model is not None and args.model != variant:
        raise InputError(f"--model {args.model} contradicts --bundle {args.bundle}, which holds model {variant!r}; "
                         "drop --model (a bundle fixes its model)")
    if args.size is not None and parse_size(args.size) != size:
        raise InputError(f"--size {args.size} contradicts --bundle {args.bundle}, exported at {size[0]}x{size[1]}; "
                         "drop --size (a bundle fixes its frame size)")
    if args.checkpoint is not None:
        _check_bundle_checkpoint(runner, args.checkpoint)
    defaults = bundle_tracker_config(runner.manifest, where=f"bundle {args.bundle}")
    checkpoint = (runner.manifest.get("model") or {}).get("checkpoint")
    return Setup(runner, variant, size, str(args.checkpoint) if args.checkpoint else checkpoint, str(args.bundle),
                 tracker_config(args, defaults))


def _check_bundle_checkpoint(runner, checkpoint: Path) -> None:
    """``--bundle`` with ``--checkpoint``: the bundle must hold that checkpoint's weights (its manifest's
    ``weights_sha256``), else WeightsMismatchError naming both fingerprints and the checkpoint."""
    from ..model.fingerprint import check_bundle_weights

    if runner.variant is None:
        raise InputError(f"--bundle {runner.bundle_dir}: its manifest names no model variant, "
                         f"so --checkpoint {checkpoint} cannot be checked against it")
    model = build_model(runner.variant, checkpoint=checkpoint)
    check_bundle_weights(runner.manifest, model, bundle=str(runner.bundle_dir), checkpoint=str(checkpoint))


def add_selection_args(parser: argparse.ArgumentParser) -> None:
    """--davis ROOT --res R and --split S | --sequences a,b."""
    parser.add_argument("--davis", type=Path, required=True, help="DAVIS-layout root folder")
    parser.add_argument("--res", default="480p", help="resolution folder (default 480p)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--split", default="val", help="ImageSets split (default val)")
    which.add_argument("--sequences", default=None, help="comma-separated sequence names")


def selected_sequences(args: argparse.Namespace) -> list[DavisSequence]:
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


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def run_cli(body: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser,
            argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run ``body`` (an int it returns is the exit status, else 0); see the module doc."""
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        status = body(args)
        return status if isinstance(status, int) else 0
    except (InputError, MissingExtraError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted (Ctrl-C): {parser.prog} stopped, partial outputs removed", file=sys.stderr)
        return 130
    except Terminated:
        print(f"terminated (SIGTERM): {parser.prog} stopped, partial outputs removed", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
