"""int8 against fp32: accuracy, gate agreement, speed and size of bundles, side by side in one run.

    python benchmarks/int8_report.py --davis ROOT --bundle DIR [--bundle DIR ...] [--threads 1]
                                     [--frames 30] [--out benchmarks/results]

Accuracy: every bundle, and PyTorch eager fp32 (the bundled float model) as the reference row, tracks
the DAVIS 2016 val sequences at 480p with the tracker options the bundle carries; J&F per sequence
and the mean, reuse rate, and the share of object-frames whose reuse decision equals the eager fp32
run's (gate agreement; the frames before the first disagreement are the same inputs, later ones
follow each run's own masks), and the same share decision-synced (:func:`followed`: an int8 bundle takes
the eager run's decision on every object-frame and records what its own gate would have decided).
These val sequences are reported, never used to choose anything.
Speed: each bundle's ms/frame over the first ``--frames`` frames of ``blackswan`` (trimmed mean of
the middle 80 %, after a 3-frame warm-up), and its size; ratios are fp32 / int8 of the same target.
Writes ``int8_<size>_<UTC stamp>.json`` and ``.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from reusevos_edge.fileio import write_json, write_text

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SPEED_SEQUENCE = "blackswan"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--davis", type=Path, required=True, help="DAVIS 2016 root (480p val sequences)")
    p.add_argument("--bundle", type=Path, action="append", required=True, help="a bundle to report; repeatable")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--frames", type=int, default=30, help="frames of the speed clip")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    return p.parse_args(argv)


def track_sequences(runner, config, sequences) -> dict:
    """J&F per sequence, the mean, the reuse rate and every object-frame decision."""
    from reusevos_edge.data.clip import sequence_clip
    from reusevos_edge.data.masks_io import split_void
    from reusevos_edge.metrics.jf import evaluate_sequence
    from reusevos_edge.tracker.run import decision_counts, reuse_rate, track_clip
    from reusevos_edge.tracker.tracker import Tracker

    tracker = Tracker(runner=runner, config=config)
    per_seq, decisions, counts = {}, {}, {"reuse": 0, "compute": 0}
    for seq in sequences:
        raw = seq.load_masks()
        gt, void = split_void(raw)
        run = track_clip(tracker, sequence_clip(seq, gt=raw))
        scores = evaluate_sequence(np.stack(run.labels), gt, void=void if void.any() else None)
        per_seq[seq.name] = 100 * float(np.mean([(s.j.mean + s.f.mean) / 2 for s in scores]))
        decisions[seq.name] = [[r.objects[k].decision for k in sorted(r.objects)] for r in run.records]
        for key in counts:
            counts[key] += decision_counts(run.records)[key]
    return {"jf": float(np.mean(list(per_seq.values()))), "per_sequence": per_seq,
            "reuse_rate": reuse_rate(counts), "decisions": decisions}


def agreement(a: dict, b: dict) -> float:
    """Share of gated object-frames (after each object's first) with the same decision in both runs."""
    same = total = 0
    for name, frames in a.items():
        for x, y in zip(frames, b[name]):
            for dx, dy in zip(x, y):
                if dx != "init" and dy != "init":
                    same += dx == dy
                    total += 1
    return same / total if total else float("nan")


def followed(runner, config, clips, reference: dict) -> list[dict]:
    """Decision-synced run: ``runner``'s tracker takes, on every object-frame, the decision the reference run
    took (``reference``: :func:`track_sequences`'s ``decisions``), and records the one its own gate would have
    taken. Both runs then take the same path (the same frames computed, the same keyframe-bound counts), each
    on its own state and masks, so a differing decision is the int8 gate's own, not the echo of an earlier
    flip (free-running, under a keyframe bound of 1, one flip shifts every later reuse/compute alternation).
    States are not copied between the two: a QAT model's heads do not read the float model's template or
    features the same way.

    clips: the reference's clips (``Clip``s, keyed in ``reference`` by name). Returns one row per gated
    object-frame: its P_gate (calibrated), the reference's decision and whether the keyframe bound
    forced a computed frame.
    """
    from reusevos_edge.tracker.run import track_clip
    from reusevos_edge.tracker.tracker import Tracker

    rows: list[dict] = []

    class Following(Tracker):
        """A tracker whose decisions are the reference's (it overrides the tracker's one decision point)."""

        def _decide(self, obj, p_gate):
            bound = config.keyframe_bound is not None and obj.consecutive_reuse >= config.keyframe_bound
            ids = sorted(self.objects)
            ref = self.plan[self.frame_index][ids.index(obj.obj_id)]
            rows.append({"p": p_gate, "bound": bound, "ref": ref})
            return ref == "reuse", None

    tracker = Following(runner=runner, config=config)
    for clip in clips:
        tracker.plan = reference[clip.name]
        track_clip(tracker, clip, keep_labels=False)
    return rows


def followed_agreement(rows: list[dict], tau: float) -> float:
    """Share of decision-synced object-frames (:func:`followed`) where P_gate > ``tau`` (and no keyframe bound)
    gives the reference's decision."""
    own = lambda r: "reuse" if r["p"] > tau and not r["bound"] else "compute"  # noqa: E731
    return float(np.mean([own(r) == r["ref"] for r in rows]))


def speed(args, *, bundle: str | None, size: tuple[int, int]) -> float:
    """Trimmed-mean ms/frame of the bundle (None: PyTorch eager lite0) by the reusevos-bench protocol
    (``reusevos_edge.bench.protocol``: load, 3 warm-up frames, the clip), in this process."""
    from reusevos_edge.bench.assemble import bundle_result
    from reusevos_edge.bench.clips import ClipSpec
    from reusevos_edge.bench.protocol import BenchPlan, measure

    clip = ClipSpec(kind="davis", root=str(args.davis), sequence=SPEED_SEQUENCE, frames=args.frames, size=size)
    plan = BenchPlan(name=Path(bundle).name if bundle else "pytorch-eager", bundle=bundle, size=size, clip=clip,
                     threads=args.threads, cooldown_s=0.0)
    result = bundle_result(measure(plan), tables=None, subgraph_precision={}, memory_kind="-", where=plan.name)
    return result.latency.trimmed_mean_ms


def write_report(out: Path, prefix: str, result: dict, text: str) -> None:
    """``out/<prefix>_<UTC stamp>.json`` and ``.md``, and the table on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{prefix}_{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    write_json(stem.with_suffix(".json"), result)
    write_text(stem.with_suffix(".md"), text)
    print(text)
    print(f"wrote {stem}.json and {stem}.md")


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = [f"# int8 vs fp32: lite0 {result['size']}, {result['threads']} thread(s), one run",
             "", f"J&F: DAVIS 2016 val ({len(result['sequences'])} sequences, 480p), reported only. "
             f"Gate agreement: object-frames with the same reuse decision as PyTorch eager fp32, each run following "
             f"its own masks; synced: the bundle takes eager's decision on every object-frame (the same path) and "
             f"counts where its own gate would have decided otherwise. "
             f"ms/frame: {result['speed_clip']} ({result['frames']} frames), trimmed mean.", "",
             "| runtime | precision | quantization | J&F | ΔJ&F vs eager fp32 | reuse | gate agreement | synced agreement "
             "| ms/frame | FPS | speed-up vs fp32 | size MB | size vs fp32 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = lambda key: "-" if r.get(key) is None else f"{r[key]:.2f}x"  # noqa: E731
        sync = f"{r['synced_agreement']:.3f}" if "synced_agreement" in r else "-"
        lines.append(f"| {r['runtime']} | {r['precision']} | {r['quantization']} | {r['jf']:.1f} | {r['delta_jf']:+.1f} "
                     f"| {r['reuse_rate']:.3f} | {r['gate_agreement']:.3f} | {sync} | {r['ms_per_frame']:.1f} | "
                     f"{1e3 / r['ms_per_frame']:.1f} | {ratio('speedup')} | {r['size_mb'] or 0:.2f} | {ratio('size_ratio')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from reusevos_edge.data.clip import sequence_clip
    from reusevos_edge.data.davis import DavisDataset
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.runtime.bundle import load_bundle_runner
    from reusevos_edge.runtime.bundle_format import bundle_size_bytes
    from reusevos_edge.runtime.torch_runner import TorchRunner
    from reusevos_edge.tracker.config import bundle_tracker_config, tracker_defaults

    args = parse_args(argv)
    sequences = DavisDataset(root=args.davis, res="480p").sequences("val")
    runners = [load_bundle_runner(path, num_threads=args.threads) for path in args.bundle]
    height, width = runners[0].manifest["frame_size"]
    model = build_model("lite0")
    eager = TorchRunner(model=model, height=height, width=width, threads=args.threads)
    rows = []
    for name, runner in [("pytorch-eager", eager), *((r.target.name, r) for r in runners)]:
        manifest = getattr(runner, "manifest", None)
        config = bundle_tracker_config(manifest, where=name) if manifest else tracker_defaults(model)
        acc = track_sequences(runner, config, sequences)
        rows.append({"runtime": name, "precision": manifest["precision"] if manifest else "fp32",
                     "quantization": (manifest.get("quantization") or {}).get("method", "-") if manifest else "-",
                     "bundle": str(runner.bundle_dir) if manifest else None, **acc,
                     "ms_per_frame": speed(args, bundle=str(runner.bundle_dir) if manifest else None,
                                           size=(height, width)),
                     "size_mb": bundle_size_bytes(runner.bundle_dir) / 1e6 if manifest else None})
        print(f"{name} {rows[-1]['precision']}: J&F {acc['jf']:.1f}, {rows[-1]['ms_per_frame']:.1f} ms/frame", flush=True)
    reference = rows[0]
    for runner, r in zip(runners, rows[1:]):
        if r["precision"] != "fp32":
            config = bundle_tracker_config(runner.manifest, where=r["runtime"])
            clips = (sequence_clip(seq) for seq in sequences)
            r["synced_agreement"] = followed_agreement(followed(runner, config, clips, reference["decisions"]),
                                                       config.tau)
    for r in rows:
        r["delta_jf"] = r["jf"] - reference["jf"]
        r["gate_agreement"] = agreement(r["decisions"], reference["decisions"])
        fp32 = next((x for x in rows if x["runtime"] == r["runtime"] and x["precision"] == "fp32" and x is not r), None)
        r["speedup"] = fp32["ms_per_frame"] / r["ms_per_frame"] if fp32 and r["precision"] != "fp32" else None
        r["size_ratio"] = r["size_mb"] / fp32["size_mb"] if fp32 and r["size_mb"] and fp32["size_mb"] else None
    result = {"size": f"{height}x{width}", "threads": args.threads, "sequences": [s.name for s in sequences],
              "speed_clip": f"davis/{SPEED_SEQUENCE}", "frames": args.frames, "rows": rows}
    write_report(args.out, f"int8_{height}x{width}", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
