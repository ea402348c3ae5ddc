"""Latency of every runtime, per frame and per subgraph, next to PyTorch eager (fp32, CPU).

    python benchmarks/bench_runtimes.py [--model lite0|r18|tiny] [--size HxW] [--targets onnx,executorch,tflite]
                                        [--bundles DIR] [--davis ROOT] [--frames 30] [--warmup 5] [--rounds 30]
                                        [--threads 2] [--tau T]

Protocol: bundles are exported into ``--bundles`` unless one with a valid manifest is already
there. Per subgraph: the feeds the eager tracker gave it on the clip, ``--warmup`` untimed calls,
then ``--rounds`` timed calls; ms = trimmed mean (middle 80 %). Per frame: one untimed warm-up pass
over 3 frames, then the whole clip through the tracker; ms/frame = trimmed mean over frames after
the first (the init frame), with the number of computed and reused frames. Results go to
``benchmarks/results/<model>_<H>x<W>_<UTC stamp>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from reusevos_edge.fileio import write_json, write_text

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="lite0")
    p.add_argument("--size", default=None, help="HxW (default: the model's DEFAULT_SIZE)")
    p.add_argument("--targets", default="onnx,executorch,tflite")
    p.add_argument("--bundles", default="out/bench", help="where bundles are found or exported")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tau", type=float, default=None, help="default: the value the weights were tuned with")
    p.add_argument("--davis", type=Path, default=None, help="DAVIS 2016 root: the clip is its 480p blackswan")
    p.add_argument("--bundle", type=Path, action="append", default=[],
                   help="also time this exported bundle (any target/precision of these weights); repeatable")
    p.add_argument("--out", default=str(RESULTS_DIR))
    return p.parse_args(argv)


def get_bundle(target: str, args, model, subgraphs, height: int, width: int, config) -> Path:
    """An existing valid bundle of these very weights for this model/size/target, else a fresh export."""
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.runtime.bundle_format import read_manifest
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.errors import InputError
    from reusevos_edge.model.fingerprint import check_bundle_weights

    opts = validate_options(target=target, model=args.model, height=height, width=width, out_dir=args.bundles)
    path = opts.out_dir / opts.bundle_name
    try:
        check_bundle_weights(read_manifest(path), model, bundle=str(path))
        return path
    except InputError:  # missing, broken or exported from other weights: export afresh
        opts.out_dir.mkdir(parents=True, exist_ok=True)
        return export_bundle(opts, model=model, subgraphs=subgraphs, tracker_config=config).path


def time_calls(fn, *, warmup: int, rounds: int) -> float:
    """Trimmed-mean milliseconds of ``fn()`` after ``warmup`` untimed calls."""
    from reusevos_edge.converters.parity import trimmed_mean

    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return 1e3 * trimmed_mean(samples)


def bench_runner(runner, feeds: dict, clip, config, args) -> dict:
    """Per-subgraph ms on the recorded feeds, and ms/frame through the tracker."""
    import dataclasses

    from reusevos_edge.converters.parity import trimmed_mean
    from reusevos_edge.tracker.run import decision_counts, track_clip
    from reusevos_edge.tracker.tracker import Tracker

    per_subgraph = {name: time_calls(lambda n=name, f=f: runner.run(n, f), warmup=args.warmup, rounds=args.rounds)
                    for name, f in feeds.items()}
    tracker = Tracker(runner=runner, config=config)
    track_clip(tracker, dataclasses.replace(clip, frames=clip.frames[:3], frame_count=3))  # warm-up pass
    run = track_clip(tracker, clip)
    counts = decision_counts(run.records)
    return {"ms_per_frame": 1e3 * trimmed_mean(run.seconds[1:]), "per_subgraph_ms": per_subgraph,
            "computed_frames": counts["compute"], "reused_frames": counts["reuse"]}


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
            "python": platform.python_version()}


def markdown(result: dict) -> str:
    """Two tables: ms/frame per runtime, then ms per subgraph per runtime."""
    runtimes = list(result["runtimes"])
    lines = [f"# Runtime latency: {result['model']} {result['size']}, {result['threads']} threads",
             "", f"Clip: {result['clip']} ({result['frames']} frames), tau {result['tau']}; "
             f"trimmed mean (middle 80%), {result['rounds']} rounds after {result['warmup']} warm-up.", "",
             "| runtime | ms/frame | FPS | computed | reused | size MB |", "|---|---|---|---|---|---|"]
    for name in runtimes:
        r = result["runtimes"][name]
        size = "-" if r.get("size_mb") is None else f"{r['size_mb']:.2f}"
        lines.append(f"| {name} | {r['ms_per_frame']:.2f} | {1e3 / r['ms_per_frame']:.1f} | "
                     f"{r['computed_frames']} | {r['reused_frames']} | {size} |")
    lines += ["", "| subgraph | " + " | ".join(runtimes) + " |", "|---|" + "---|" * len(runtimes)]
    for sg in result["runtimes"][runtimes[0]]["per_subgraph_ms"]:
        cells = [f"{result['runtimes'][n]['per_subgraph_ms'].get(sg, float('nan')):.3f}" for n in runtimes]
        lines.append(f"| {sg} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from reusevos_edge.data.clip import parity_clip
    from reusevos_edge.model.registry import DEFAULT_SIZE, build_model, parse_size
    from reusevos_edge.model.subgraphs import build_subgraphs
    from reusevos_edge.runtime.base import RecordingRunner
    from reusevos_edge.model.fingerprint import check_bundle_weights
    from reusevos_edge.runtime.bundle import load_bundle_runner
    from reusevos_edge.runtime.bundle_format import bundle_size_bytes
    from reusevos_edge.runtime.torch_runner import TorchRunner
    from reusevos_edge.tracker.config import tracker_defaults
    from reusevos_edge.tracker.run import track_clip
    from reusevos_edge.tracker.tracker import Tracker

    args = parse_args(argv)
    height, width = parse_size(args.size) if args.size else DEFAULT_SIZE
    model = build_model(args.model)
    config = tracker_defaults(model)
    config = config if args.tau is None else config.replace(tau=args.tau)
    subgraphs = build_subgraphs(model, height=height, width=width)
    eager = TorchRunner(model=model, height=height, width=width, threads=args.threads)
    clip = parity_clip(height=height, width=width, num_frames=args.frames, davis_root=args.davis)
    recorder = RecordingRunner(eager)
    track_clip(Tracker(runner=recorder, config=config), clip)
    runners = {"pytorch-eager": eager}
    for target in [t for t in args.targets.split(",") if t]:
        path = get_bundle(target, args, model, subgraphs, height, width, config)
        runners[target] = load_bundle_runner(path, num_threads=args.threads)
    for path in args.bundle:
        runner = load_bundle_runner(path, num_threads=args.threads)
        check_bundle_weights(runner.manifest, model, bundle=str(path))
        runners[f"{runner.target.name} {runner.manifest['precision']}"] = runner
    sizes = {name: bundle_size_bytes(r.bundle_dir) / 1e6 for name, r in runners.items() if hasattr(r, "bundle_dir")}
    result = {"model": args.model, "size": f"{height}x{width}", "threads": args.threads, "clip": clip.name,
              "frames": clip.frame_count, "tau": config.tau, "tracker": config.to_json(), "warmup": args.warmup, "rounds": args.rounds,
              "machine": machine(), "runtimes": {}}
    for name, runner in runners.items():
        result["runtimes"][name] = {**bench_runner(runner, recorder.feeds, clip, config, args),
                                    "size_mb": sizes.get(name)}
        print(f"{name}: {result['runtimes'][name]['ms_per_frame']:.2f} ms/frame", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{args.model}_{height}x{width}_{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    write_json(stem.with_suffix(".json"), result)
    write_text(stem.with_suffix(".md"), markdown(result))
    print(markdown(result))
    print(f"wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
