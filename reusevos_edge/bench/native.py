"""Benchmark rows measured by the native tracker core (``native/``, C++ over ExecuTorch).

``reusevos-bench --native PATH`` adds, beside each ExecuTorch bundle's Python row, a row that the
native runner ``reusevos-native-bench`` measures on the same clip with the same protocol; it writes
the same measurement dict as the Python worker (``assemble.MEASUREMENT_KEYS``), so both rows land in
one table. The native tools read binary PPM frames and PGM id masks (no image codecs in the core):
the clip is written that way once per run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

from ..data.clip import ids_of
from ..errors import InputError
from .clips import open_clip
from .protocol import BenchPlan

RUNNER = "reusevos-native-bench"
TIMEOUT_S = 3600


def find_runner(path: Path) -> Path:
    """The ``reusevos-native-bench`` executable at ``path`` (the file, or a native build folder holding it)."""
    candidate = path / RUNNER if path.is_dir() else path
    if not candidate.is_file() or not os.access(candidate, os.X_OK):
        raise InputError(f"--native {path}: no executable {RUNNER} there (build native/ with CMake: see native/README.md)")
    return candidate.resolve()


def write_pnm(path: Path, array: np.ndarray) -> Path:
    """HxWx3 uint8 RGB -> binary PPM; HxW uint8 -> binary PGM."""
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"write_pnm: expected HxW or HxWx3 uint8, got {array.shape} {array.dtype}")
    magic = b"P6" if array.ndim == 3 else b"P5"
    header = magic + f"\n{array.shape[1]} {array.shape[0]}\n255\n".encode()
    path.write_bytes(header + np.ascontiguousarray(array).tobytes())
    return path


def write_clip(plan: BenchPlan, folder: Path) -> tuple[Path, list[str], int]:
    """The plan's clip as ``folder/NNNNN.ppm`` and one ``start_NNNNN.pgm`` of object ids per start frame.

    Returns (frames folder, the runner's ``--mask FRAME:FILE`` arguments, frame count)."""
    clip = open_clip(plan.clip)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, frame in enumerate(clip.frames, start=1):
        write_pnm(folder / f"{count - 1:05d}.ppm", frame)
    args = []
    for index, objects in sorted(clip.starts.items()):
        ids = write_pnm(folder / f"start_{index:05d}.pgm", ids_of(objects, (clip.height, clip.width)))
        args += ["--mask", f"{index}:{ids}"]
    return folder, args, count


def measure(plan: BenchPlan, workdir: Path) -> dict:
    """Run the native runner for ``plan`` (whose ``native`` names it) and return its measurement dict."""
    if plan.bundle is None or plan.native is None:
        raise InputError(f"{plan.name}: a native row needs a bundle and the native runner")
    frames = workdir / "native_clip"
    if not (frames / "args.json").is_file():  # one copy of the clip for every native row of the run
        _, mask_args, _ = write_clip(plan, frames)
        (frames / "args.json").write_text(json.dumps({"mask_args": mask_args}))
    mask_args = json.loads((frames / "args.json").read_text())["mask_args"]
    out = workdir / f"{plan.name}.measured.json"
    cmd = [plan.native, "--bundle", plan.bundle, "--frames", str(frames), *mask_args, "--out", str(out),
           "--name", plan.name, "--threads", str(plan.threads), "--warmup", str(plan.warmup_frames),
           "--cooldown-s", str(plan.cooldown_s)]
    if plan.tau is not None:
        cmd += ["--tau", str(plan.tau)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
        raise InputError(f"{plan.name}: the native runner failed (exit {proc.returncode}):\n{tail}")
    return json.loads(out.read_text())
