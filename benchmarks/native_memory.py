"""Memory of the native tracker core over a long run: is its resident memory flat after the first frames?

    python benchmarks/native_memory.py --native native/build --bundle DIR --davis ROOT [--sequence blackswan]
                                       [--frames 3000] [--threads 1]

Runs ``reusevos-native-bench`` over ``--frames`` frames of a DAVIS 480p sequence played forward and back
(continuous motion, so the gate keeps deciding), sampling the process's resident memory every 100
frames. Reports the RSS at frame 100 and at the end, the largest growth after frame 100, and the peak.
Writes ``native_memory_<bundle>.json`` (the runner's measurement) and ``.md`` into ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from reusevos_edge.fileio import write_json, write_text

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    from reusevos_edge.bench.clips import ClipSpec
    from reusevos_edge.bench.native import find_runner, write_clip
    from reusevos_edge.bench.protocol import BenchPlan

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--native", type=Path, required=True, help="reusevos-native-bench or the native build folder")
    p.add_argument("--bundle", type=Path, required=True, help="an ExecuTorch bundle")
    p.add_argument("--davis", type=Path, required=True, help="DAVIS 2016 root (480p frames)")
    p.add_argument("--sequence", default="blackswan")
    p.add_argument("--frames", type=int, default=3000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    runner = find_runner(args.native)
    args.out.mkdir(parents=True, exist_ok=True)  # before the long run, not after it
    plan = BenchPlan(name="memory", clip=ClipSpec(kind="davis", root=str(args.davis), sequence=args.sequence),
                     bundle=str(args.bundle))
    with tempfile.TemporaryDirectory() as tmp:
        folder, mask_args, count = write_clip(plan, Path(tmp) / "clip")
        out = Path(tmp) / "measured.json"
        cmd = [str(runner), "--bundle", str(args.bundle), "--frames", str(folder), *mask_args, "--out", str(out),
               "--frame-count", str(args.frames), "--threads", str(args.threads), "--rss-every", "100",
               "--name", args.bundle.name]
        subprocess.run(cmd, check=True)
        measured = json.loads(out.read_text())
    rss = {int(frame): mb for frame, mb in measured.pop("rss_mb")}
    base = rss[min(f for f in rss if f >= 100)]
    growth = max(mb for f, mb in rss.items() if f >= 100) - base
    summary = {"bundle": str(args.bundle), "sequence": args.sequence, "clip_frames": count, "frames": args.frames,
               "rss_mb": rss, "rss_at_100_mb": base, "rss_end_mb": rss[max(rss)], "growth_after_100_mb": growth,
               "peak_rss_mb": measured["peak_memory_mb"], "reuse_rate": measured["reuse_rate"],
               "measurement": {k: v for k, v in measured.items() if not k.startswith("per_frame")}}
    stem = f"native_memory_{args.bundle.name}"
    write_json(args.out / f"{stem}.json", summary)
    lines = [f"# Native tracker memory: {args.bundle.name}, {args.frames} frames of {args.sequence} "
             f"({count} frames forward and back), {args.threads} thread(s)", "",
             f"RSS at frame 100 {base:.1f} MB, at the end {rss[max(rss)]:.1f} MB, largest growth after frame 100 "
             f"{growth:.2f} MB; peak RSS {measured['peak_memory_mb']:.1f} MB; reuse rate {measured['reuse_rate']:.3f}.", "",
             "| frame | " + " | ".join(str(f) for f in sorted(rss)) + " |",
             "|---|" + "---|" * len(rss),
             "| RSS MB | " + " | ".join(f"{rss[f]:.1f}" for f in sorted(rss)) + " |", ""]
    write_text(args.out / f"{stem}.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
