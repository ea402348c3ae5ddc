"""What int8 would do to the online score generator (``score_init``, ``score_refit``, ``score_gen``, ``score_update``).

    python benchmarks/int8_score_generator.py --davis ROOT [--size 384x672] [--frames 30]

The precision table keeps the score generator float. This measures the alternative on DAVIS *train*
data only: the three subgraphs are PT2E-quantized with ExecuTorch's recipe (calibrated on six train
sequences, as ``reusevos-export --calibrate``), then three other train sequences are tracked by
PyTorch eager with (a) everything float and (b) only the score generator int8. Reported: each
subgraph's output error on the held-out feeds (max |int8 - float| / max |float|), and the tracking
result (mean J against the ground truth, mean IoU against the float run's masks, reuse rate).
Writes ``int8_score_generator_<size>.json`` and ``.md`` into ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from reusevos_edge.fileio import write_json, write_text

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCORE_SUBGRAPHS = ("score_init", "score_refit", "score_gen", "score_update")


def main(argv=None) -> int:
    from reusevos_edge.data.clip import sequence_clip
    from reusevos_edge.data.davis import DavisDataset
    from reusevos_edge.metrics.jf import jaccard
    from reusevos_edge.model.registry import build_model, parse_size
    from reusevos_edge.model.subgraphs import build_subgraphs
    from reusevos_edge.quant.calibration import calibration_clips, collect_feeds
    from reusevos_edge.quant.ptq import quantize_subgraph
    from reusevos_edge.quant.xnnpack import xnnpack_quantizer
    from reusevos_edge.runtime.torch_runner import TorchRunner
    from reusevos_edge.tracker.config import tracker_defaults
    from reusevos_edge.tracker.run import decision_counts, reuse_rate, track_clip
    from reusevos_edge.tracker.tracker import Tracker

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--davis", type=Path, required=True)
    p.add_argument("--size", default="384x672")
    p.add_argument("--frames", type=int, default=30)
    args = p.parse_args(argv)
    height, width = parse_size(args.size)
    model = build_model("lite0")
    config = tracker_defaults(model)
    float_graphs = build_subgraphs(model, height=height, width=width)
    fp32 = TorchRunner(model=model, height=height, width=width, subgraphs=float_graphs, threads=2)
    train = DavisDataset(root=args.davis, res="288p").sequences("train")
    calibration = train[::5][:6]
    held_out = [s for s in train if s not in calibration][1::9][:3]
    # 30 frames: score_update runs every 8 computed frames (every other frame while collecting)
    feeds = collect_feeds(fp32, calibration_clips(calibration, height=height, width=width, frames=30), config)
    quantizer = xnnpack_quantizer()
    graphs = [quantize_subgraph(sg, feeds[sg.name], quantizer) if sg.name in SCORE_SUBGRAPHS else sg
              for sg in float_graphs]
    int8 = TorchRunner(model=model, height=height, width=width, subgraphs=graphs, threads=2)
    clips = lambda: [sequence_clip(s, num_frames=args.frames) for s in held_out]  # noqa: E731 (generators: fresh each run)
    gts = [s.load_masks(args.frames) for s in held_out]
    test_feeds = collect_feeds(fp32, clips(), config, limit=16)
    errors = {}
    for name in SCORE_SUBGRAPHS:
        worst = 0.0
        for feed in test_feeds[name]:
            got, ref = int8.run(name, feed), fp32.run(name, feed)
            worst = max(worst, max(float(np.abs(got[k] - ref[k]).max()) / max(float(np.abs(ref[k]).max()), 1e-12)
                                   for k in ref))
        errors[name] = worst
    tracking = {}
    for label, runner in (("fp32", fp32), ("score generator int8", int8)):
        j, counts, masks = [], {"reuse": 0, "compute": 0}, []
        for clip, gt in zip(clips(), gts):
            run = track_clip(Tracker(runner=runner, config=config), clip)
            j += [jaccard(lab > 0, g == 1) for lab, g in zip(run.labels[1:], gt[1:])]
            masks.append(run.labels)
            for k in counts:
                counts[k] += decision_counts(run.records)[k]
        tracking[label] = {"mean_j": float(np.mean(j)), "reuse_rate": reuse_rate(counts), "masks": masks}
    iou = [jaccard(a > 0, b > 0) for m_a, m_b in zip(tracking["fp32"]["masks"], tracking["score generator int8"]["masks"])
           for a, b in zip(m_a[1:], m_b[1:])]
    for t in tracking.values():
        t.pop("masks")
    result = {"size": f"{height}x{width}", "calibration": [s.name for s in calibration],
              "held_out": [s.name for s in held_out], "frames": args.frames, "max_rel_error": errors,
              "tracking": tracking, "mask_iou_vs_fp32": float(np.mean(iou))}
    lines = [f"# int8 score generator (lite0 {height}x{width}, DAVIS train only)", "",
             f"Calibrated on {', '.join(result['calibration'])}; tracked {', '.join(result['held_out'])} "
             f"({args.frames} frames each).", "", "| subgraph | max relative error, int8 vs float |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in errors.items()]
    lines += ["", "| score generator | mean J | reuse rate |", "|---|---|---|"]
    lines += [f"| {k} | {100 * v['mean_j']:.1f} | {v['reuse_rate']:.3f} |" for k, v in tracking.items()]
    lines += ["", f"Mean mask IoU, int8 score generator vs float: {result['mask_iou_vs_fp32']:.3f}"]
    stem = RESULTS_DIR / f"int8_score_generator_{height}x{width}"
    write_json(stem.with_suffix(".json"), result)
    write_text(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
