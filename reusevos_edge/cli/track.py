"""``reusevos-track``: track the objects of a first-frame mask through a video and show the gate.

    reusevos-track VIDEO_OR_FRAME_DIR --mask FIRST.png --out DIR [--tau 0.5] [--model lite0]
                   [--checkpoint PATH] [--size HxW] [--keyframe-bound K]
    reusevos-track --demo --out DIR          (a generated synthetic clip with its own first mask)

Writes into DIR: one palette PNG of object ids per frame (00000.png ...), ``overlay.mp4`` (the
masks over the video, each frame labelled COMPUTED or REUSED with every object's P_gate) and
``records.json`` (per-frame gate decisions and the subgraphs that ran). The demo also writes
``first_mask.png``. DIR is written as a temporary sibling folder and renamed when complete, so a
failed run leaves nothing in DIR. Bad input prints ``error: <message>`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence as SequenceOf

import cv2
import numpy as np
from tqdm import tqdm

from ..data.masks_io import davis_palette, read_mask, write_mask
from ..data.synthetic import make_clip
from ..data.video import open_video
from ..errors import InputError
from ..metrics.report import write_json
from ..model.registry import parse_size
from .eval import add_runner_args, count_decisions, make_tracker, run_cli

PALETTE = np.array(davis_palette(), dtype=np.uint8).reshape(256, 3)
DEMO_FPS = 24.0


@dataclass(frozen=True)
class Clip:
    """What to track: frames (an iterable of HxWx3 uint8 RGB), their count, rate and size, and
    the first-frame HxW uint8 id map."""

    name: str
    frames: Iterable[np.ndarray]
    frame_count: int
    fps: float
    height: int
    width: int
    first_mask: np.ndarray


# --- inputs -----------------------------------------------------------------------------------

def check_first_mask(mask: np.ndarray, *, path: str, height: int, width: int) -> None:
    """The first mask must match the frame size and hold at least one object."""
    if mask.shape != (height, width):
        raise InputError(
            f"--mask {path}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but the video frames "
            f"are {width}x{height}; the first mask must have the frame size"
        )
    if not mask.any():
        raise InputError(f"--mask {path}: the mask is empty (all background); expected at least one object id > 0")


def load_clip(video: Path, mask_path: Path) -> Clip:
    """A video file or frame folder with its first-frame mask, both checked."""
    source = open_video(video)
    if not mask_path.is_file():
        raise InputError(f"--mask {mask_path}: no such file (expected a palette PNG of object ids)")
    mask = read_mask(mask_path)
    check_first_mask(mask, path=str(mask_path), height=source.height, width=source.width)
    return Clip(name=video.name, frames=source, frame_count=source.frame_count, fps=source.fps,
                height=source.height, width=source.width, first_mask=mask)


def demo_clip(*, height: int, width: int, num_frames: int) -> Clip:
    """A synthetic clip at the model frame size: two textured objects, its own first mask."""
    frames, masks = make_clip(num_frames=num_frames, height=height, width=width, num_objects=2,
                              speed_px=1.5, seed=0)
    return Clip(name="demo", frames=frames, frame_count=num_frames, fps=DEMO_FPS,
                height=height, width=width, first_mask=masks[0])


# --- overlay ----------------------------------------------------------------------------------

def frame_label(record) -> str:
    """"REUSED" when the frame skipped the high backbone (every object reused), else "COMPUTED"."""
    return "COMPUTED" if "backbone_high" in record.ran else "REUSED"


def object_lines(record) -> list[str]:
    """One line per object: id, decision and P_gate (none on the frame an object starts)."""
    lines = []
    for obj_id, obj in sorted(record.objects.items()):
        gate = "-" if obj.p_gate is None else f"{float(obj.p_gate):.2f}"
        lines.append(f"#{obj_id} {obj.decision} P_gate {gate}")
    return lines


def blend_masks(frame: np.ndarray, labels: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """HxWx3 uint8 RGB ``frame`` with HxW uint8 ``labels`` tinted in palette colours and outlined."""
    out = frame.copy()
    fg = labels > 0
    out[fg] = ((1 - alpha) * frame[fg] + alpha * PALETTE[labels[fg]]).astype(np.uint8)
    for obj_id in np.unique(labels[fg]).tolist():
        contours, _ = cv2.findContours((labels == obj_id).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    return out


def draw_text_lines(image: np.ndarray, lines: list[str], *, colours: list[tuple[int, int, int]]) -> None:
    """Write ``lines`` top-left on HxWx3 uint8 ``image`` in place, each on a dark box."""
    scale = max(image.shape[0] / 600.0, 0.3)
    thickness = 1 if scale < 0.8 else 2
    y = 2
    for line, colour in zip(lines, colours):
        (w, h), base = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.rectangle(image, (0, y), (w + 4, y + h + base + 2), (0, 0, 0), -1)
        cv2.putText(image, line, (2, y + h + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness,
                    cv2.LINE_AA)
        y += h + base + 4


def render_overlay(frame: np.ndarray, labels: np.ndarray, record) -> np.ndarray:
    """The overlay frame (HxWx3 uint8 RGB): masks, the COMPUTED/REUSED label and P_gate lines."""
    out = blend_masks(frame, labels)
    label = frame_label(record)
    head = (80, 220, 80) if label == "REUSED" else (255, 160, 40)
    lines = [f"{record.index:05d} {label}"] + object_lines(record)
    draw_text_lines(out, lines, colours=[head] + [(255, 255, 255)] * (len(lines) - 1))
    return out


# --- outputs ----------------------------------------------------------------------------------

def check_out_dir(out: Path) -> None:
    """--out must not exist yet, or be an empty folder, and its parent must exist."""
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise InputError(f"--out {out}: already exists and is not an empty folder; choose a new folder")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: the parent folder {out.parent} does not exist")


@contextmanager
def staged_dir(out: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder of ``out``; rename it to ``out`` on success, delete it on failure."""
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield temp
        if out.is_dir():
            out.rmdir()  # empty, checked up front
        os.replace(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def open_writer(path: Path, *, fps: float, height: int, width: int) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write an mp4v video to {path}")
    return writer


def record_json(record) -> dict:
    """A frame record as JSON: index, per-object p_gate and decision, subgraphs that ran."""
    objects = {
        str(obj_id): {"p_gate": None if obj.p_gate is None else float(obj.p_gate), "decision": obj.decision}
        for obj_id, obj in sorted(record.objects.items())
    }
    return {"frame": int(record.index), "objects": objects, "ran": list(record.ran)}


# --- the run ----------------------------------------------------------------------------------

def track_clip(tracker, clip: Clip, out: Path, *, progress: bool = True) -> tuple[list, float]:
    """Track ``clip`` writing PNGs and overlay.mp4 into ``out``; returns (records, step seconds)."""
    writer = open_writer(out / "overlay.mp4", fps=clip.fps, height=clip.height, width=clip.width)
    first = {int(i): clip.first_mask == i for i in np.unique(clip.first_mask) if i != 0}
    records, seconds = [], 0.0
    tracker.reset()
    try:
        frames = tqdm(clip.frames, total=clip.frame_count, desc=clip.name, unit="frame", disable=not progress)
        for index, frame in enumerate(frames):
            start = time.perf_counter()
            result = tracker.step(frame, new_masks=first if index == 0 else None)
            seconds += time.perf_counter() - start
            write_mask(out / f"{index:05d}.png", result.labels)
            writer.write(cv2.cvtColor(render_overlay(frame, result.labels, result.record), cv2.COLOR_RGB2BGR))
            records.append(result.record)
    finally:
        writer.release()
    return records, seconds


def summary_json(args: argparse.Namespace, clip: Clip, records: list, seconds: float) -> dict:
    reused, gated = count_decisions(records)
    return {
        "source": "demo" if args.demo else str(args.video),
        "num_frames": len(records),
        "fps": len(records) / seconds if seconds > 0 else None,
        "reuse_rate": reused / gated if gated else None,
        "config": {"model": args.model, "checkpoint": str(args.checkpoint) if args.checkpoint else None,
                   "size": args.size, "tau": args.tau, "keyframe_bound": args.keyframe_bound,
                   "locality_radius": args.locality_radius, "delta_scale": args.delta_scale},
        "frames": [record_json(r) for r in records],
    }


def _clip(args: argparse.Namespace) -> Clip:
    if args.demo:
        if args.video is not None or args.mask is not None:
            raise InputError("--demo: takes no VIDEO_OR_FRAME_DIR and no --mask (the demo makes its own)")
        if args.demo_frames < 3:
            raise InputError(f"--demo-frames {args.demo_frames}: expected at least 3")
        height, width = parse_size(args.size)
        return demo_clip(height=height, width=width, num_frames=args.demo_frames)
    if args.video is None or args.mask is None:
        raise InputError("VIDEO_OR_FRAME_DIR and --mask FIRST.png are required (or use --demo)")
    return load_clip(args.video, args.mask)


def run(args: argparse.Namespace) -> None:
    """Check the inputs, track, and publish the output folder."""
    check_out_dir(args.out)
    clip = _clip(args)
    tracker = make_tracker(args)
    with staged_dir(args.out) as temp:
        if args.demo:
            write_mask(temp / "first_mask.png", clip.first_mask)
        records, seconds = track_clip(tracker, clip, temp, progress=not args.no_progress)
        write_json(temp / "records.json", summary_json(args, clip, records, seconds))
    reused, gated = count_decisions(records)
    rate = f"{reused / gated:.3f}" if gated else "-"
    print(f"{len(records)} frames, reuse rate {rate}, {len(records) / max(seconds, 1e-9):.1f} fps -> {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reusevos-track", description=__doc__.split("\n\n")[0])
    parser.add_argument("video", nargs="?", type=Path, default=None, metavar="VIDEO_OR_FRAME_DIR")
    parser.add_argument("--mask", type=Path, default=None, help="first-frame palette PNG of object ids")
    parser.add_argument("--out", type=Path, required=True, help="output folder (must not exist yet)")
    parser.add_argument("--demo", action="store_true", help="track a generated synthetic clip")
    parser.add_argument("--demo-frames", type=int, default=48, help="length of the demo clip (default 48)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_runner_args(parser)
    return parser


def main(argv: SequenceOf[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
