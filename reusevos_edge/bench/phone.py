"""What the Android and iOS devices share: the command runner, the clip written as files for an app,
and the intent / launch arguments of the demo apps' benchmark mode.

The apps' benchmark mode reads: ``bundle`` (folder), ``frames`` (folder of numbered JPEGs), ``mask``
(first-frame palette PNG), ``frame_count``, ``threads``, ``warmup``, ``cooldown_s``, ``tau`` (only when
overridden) and ``out`` (result file name); it writes the same measurement dict as the host worker
(``reusevos_edge.bench.assemble.MEASUREMENT_KEYS``) and exits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2

from ..data.clip import ids_of
from ..data.masks_io import write_mask
from ..errors import InputError
from .clips import open_clip
from .protocol import BenchPlan

APP_ID = "org.reusevos.demo"  # the demo apps' Android package / iOS bundle identifier
COMMAND_TIMEOUT_S = 600


def run_tool(cmd: list[str], *, what: str, timeout: float = COMMAND_TIMEOUT_S, stdin: str | None = None) -> str:
    """stdout of ``cmd``; InputError naming ``what`` and the tool's last stderr lines if it fails or is absent."""
    if shutil.which(cmd[0]) is None:
        raise InputError(f"{what}: {cmd[0]!r} is not on PATH (install it, or pick another --device)")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=stdin)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise InputError(f"{what}: `{' '.join(cmd)}` failed (exit {proc.returncode}): {tail}")
    return proc.stdout


def write_clip_files(plan: BenchPlan, folder: Path) -> tuple[Path, Path, int]:
    """The plan's clip as ``folder/frames/00000.jpg ...`` and ``folder/mask.png``; (frames, mask, count).

    Only clips whose objects all start on frame 0 can go to an app (its benchmark mode reads one mask).
    """
    clip = open_clip(plan.clip)
    if set(clip.starts) != {0}:
        raise InputError(f"clip {clip.name}: objects start on frames {sorted(clip.starts)}; a phone's benchmark "
                         "mode takes one first-frame mask (pick a clip whose objects are all on frame 0)")
    frames_dir = folder / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, frame in enumerate(clip.frames, start=1):
        cv2.imwrite(str(frames_dir / f"{count - 1:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    mask = folder / "mask.png"
    write_mask(mask, ids_of(clip.starts[0], (clip.height, clip.width)))
    return frames_dir, mask, count


def app_arguments(plan: BenchPlan, *, bundle: str, frames: str, mask: str, count: int, out: str) -> dict:
    """The benchmark-mode arguments, by name (strings, ints and floats)."""
    args = {"bundle": bundle, "frames": frames, "mask": mask, "frame_count": count, "threads": plan.threads,
            "warmup": plan.warmup_frames, "cooldown_s": float(plan.cooldown_s), "out": out}
    if plan.tau is not None:
        args["tau"] = float(plan.tau)
    return args


class AppFailed(InputError):
    """The app ran and reported its own failure (its ``{"error": ...}`` result)."""


def app_result(text: str, *, name: str, where: str) -> dict:
    """The measurement an app wrote (``where``: its path on the phone); InputError when it is not JSON,
    AppFailed when it is the ``{"error": ...}`` an app writes when its run failed."""
    try:
        result = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: the app's result {where} is not JSON ({exc})") from None
    if not isinstance(result, dict):
        raise InputError(f"{name}: the app's result {where} is not a JSON object")
    if "error" in result:
        raise AppFailed(f"{name}: the app's benchmark failed on the phone: {result['error']}")
    return result


def require_bundle(plan: BenchPlan, device: str) -> str:
    if plan.bundle is None:
        raise InputError(f"{plan.name}: PyTorch eager runs on the host only, not on {device}")
    return plan.bundle
