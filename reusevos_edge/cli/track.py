"""``reusevos-track``: track the objects of a first-frame mask through a video and show the gate.

    reusevos-track VIDEO_OR_FRAME_DIR --mask FIRST.png --out DIR [--bundle DIR | --model lite0
                   --checkpoint PATH --size HxW] [--tau T] [--keyframe-bound K]
    reusevos-track --demo --out DIR          (a generated synthetic clip with its own first mask)

Writes into DIR: one palette PNG of object ids per frame (00000.png ...), ``overlay.mp4`` (the
masks over the video, each frame labelled COMPUTED or REUSED with every object's decision and
P_gate, and what forced a computed frame) and ``records.json`` (the model, bundle and tracker
options that ran, and per-frame decisions and subgraphs). The demo also writes ``first_mask.png``.
DIR (and missing parent folders) is created; it is written as a hidden temporary sibling and
renamed when complete, so a failed or interrupted run leaves nothing behind. Bad input prints
``error: <message>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence as SequenceOf

import cv2

from ..data.clip import Clip, ids_of, print_notes, synthetic_clip, video_clip
from ..data.masks_io import write_mask
from ..errors import InputError
from ..fileio import prepare_output_dir, publish_mode, removed_on_failure, staged_dir, write_json
from ..tracker.overlay import render_overlay
from ..tracker.run import TrackedClip, decision_counts, reuse_rate, track_clip
from .common import Setup, add_runner_args, make_setup, run_cli


def open_writer(path: Path, *, fps: float, height: int, width: int) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write an mp4v video to {path}")
    return writer


def track_into(setup: Setup, clip: Clip, out: Path, *, progress: bool) -> TrackedClip:
    """Track ``clip`` writing a PNG per frame and overlay.mp4 into ``out``."""
    writer = open_writer(out / "overlay.mp4", fps=clip.fps, height=clip.height, width=clip.width)

    def on_frame(index, frame, result) -> None:
        write_mask(out / f"{index:05d}.png", result.labels)
        writer.write(cv2.cvtColor(render_overlay(frame, result.labels, result.record), cv2.COLOR_RGB2BGR))

    try:
        return track_clip(setup.tracker(), clip, keep_labels=False, progress=progress, on_frame=on_frame)
    finally:
        writer.release()
        publish_mode(out / "overlay.mp4")


def summary_json(setup: Setup, clip: Clip, tracked: TrackedClip) -> dict:
    counts = decision_counts(tracked.records)
    return {"source": clip.source, "num_frames": len(tracked.records), "fps": tracked.fps,
            "reuse_rate": reuse_rate(counts), "decisions": counts, "config": setup.to_json(),
            "frames": [r.to_json() for r in tracked.records]}


def _video_clip(args: argparse.Namespace) -> Clip | None:
    """The video and first mask, checked before any model loads (None for ``--demo``)."""
    if args.demo:
        if args.video is not None or args.mask is not None:
            raise InputError("--demo: takes no VIDEO_OR_FRAME_DIR and no --mask (the demo makes its own)")
        if args.demo_frames < 3:
            raise InputError(f"--demo-frames {args.demo_frames}: expected at least 3")
        return None
    if args.video is None or args.mask is None:
        raise InputError("VIDEO_OR_FRAME_DIR and --mask FIRST.png are required (or use --demo)")
    return video_clip(args.video, args.mask)


def run(args: argparse.Namespace) -> None:
    """Check the inputs, track, and publish the output folder."""
    created = prepare_output_dir(args.out)
    with removed_on_failure(created):
        clip = _video_clip(args)
        setup = make_setup(args)
        if clip is None:  # the demo clip has the model's frame size
            clip = synthetic_clip(height=setup.size[0], width=setup.size[1], num_frames=args.demo_frames)
        print_notes(clip)
        with staged_dir(args.out) as temp:
            if args.demo:
                write_mask(temp / "first_mask.png", ids_of(clip.starts[0], (clip.height, clip.width)))
            tracked = track_into(setup, clip, temp, progress=not args.no_progress)
            write_json(temp / "records.json", summary_json(setup, clip, tracked))
    rate = reuse_rate(decision_counts(tracked.records))
    fps = tracked.fps or 0.0
    print(f"{len(tracked.records)} frames, reuse rate {'-' if rate is None else f'{rate:.3f}'}, {fps:.1f} fps -> {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reusevos-track", description=__doc__.split("\n\n")[0])
    parser.add_argument("video", nargs="?", type=Path, default=None, metavar="VIDEO_OR_FRAME_DIR")
    parser.add_argument("--mask", type=Path, default=None, help="first-frame palette PNG of object ids")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created; must not exist or be empty)")
    parser.add_argument("--demo", action="store_true", help="track a generated synthetic clip")
    parser.add_argument("--demo-frames", type=int, default=48, help="length of the demo clip (default 48)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_runner_args(parser)
    return parser


def main(argv: SequenceOf[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
