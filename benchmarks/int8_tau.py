"""Choose an int8 bundle's tau on training data: the tau whose reuse decisions agree most with the float model's.

    python benchmarks/int8_tau.py --davis ROOT --bundle INT8_DIR [--split train-holdout] [--res 288p]
                                  [--taus 0.55:0.72:0.01] [--threads 1] [--out benchmarks/results]

The reference is PyTorch eager fp32 (the bundled float model) at its own tau. Each candidate tau gets
two agreements with the reference's decisions: decision-synced (``int8_report.followed``: the int8
bundle takes the reference's decision on every object-frame, so both take the same path; one pass
records its P_gates, and each tau's own decisions follow from them) and free-running (the int8 bundle
tracks the sequences at that tau following its own masks, ``int8_report.agreement``), with its reuse
rate and J&F. The chosen tau has the highest synced agreement (a smooth function of tau; the
free-running one jumps as single flips shift a keyframe bound's reuse/compute alternation); a tie goes
to the tau nearest the float model's. Sequences: a training split (default ``train-holdout``); val and
test sequences are refused, since a tau chosen on them is the choice the protocol forbids.
Writes ``int8_tau_<size>_<UTC stamp>.json`` and ``.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from int8_report import (RESULTS_DIR, agreement, followed, followed_agreement,  # benchmarks/ is the script's folder
                         track_sequences, write_report)


def parse_taus(text: str) -> list[float]:
    """``start:stop:step`` (stop included) or a comma list."""
    if ":" in text:
        start, stop, step = (float(v) for v in text.split(":"))
        return [round(v, 4) for v in np.arange(start, stop + step / 2, step)]
    return [float(v) for v in text.split(",")]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--davis", type=Path, required=True, help="DAVIS 2016 root")
    p.add_argument("--bundle", type=Path, required=True, help="the int8 bundle")
    p.add_argument("--split", default="train-holdout", help="a training split (never val)")
    p.add_argument("--res", default="288p")
    p.add_argument("--taus", type=parse_taus, default=parse_taus("0.55:0.72:0.01"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    if "val" in args.split or "test" in args.split:
        p.error(f"--split {args.split}: choose tau on training sequences (train, train-fit, train-holdout), "
                "never on val or test")
    return args


def choose(rows: list[dict], float_tau: float) -> dict:
    """The row with the highest synced agreement; ties go to the tau nearest the float model's."""
    return max(rows, key=lambda r: (round(r["synced_agreement"], 6), -abs(r["tau"] - float_tau)))


def markdown(result: dict) -> str:
    lines = [f"# int8 tau on {result['split']} ({len(result['sequences'])} sequences, {result['res']})", "",
             f"Bundle `{result['bundle']}`; reference: PyTorch eager fp32 at tau {result['float_tau']:.4f} "
             f"(J&F {result['reference']['jf']:.1f}, reuse {result['reference']['reuse_rate']:.3f}). "
             f"Chosen: tau **{result['chosen_tau']:.4f}** (shipped before: {result['bundle_tau']:.4f}).", "",
             "| tau | synced agreement | free-running agreement | reuse | J&F |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        mark = " (chosen)" if r["tau"] == result["chosen_tau"] else ""
        lines.append(f"| {r['tau']:.4f}{mark} | {r['synced_agreement']:.3f} | {r['gate_agreement']:.3f} "
                     f"| {r['reuse_rate']:.3f} | {r['jf']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from reusevos_edge.data.clip import sequence_clip
    from reusevos_edge.data.davis import DavisDataset
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.runtime.bundle import load_bundle_runner
    from reusevos_edge.runtime.torch_runner import TorchRunner
    from reusevos_edge.tracker.config import bundle_tracker_config, tracker_defaults

    args = parse_args(argv)
    sequences = DavisDataset(root=args.davis, res=args.res).sequences(args.split)
    runner = load_bundle_runner(args.bundle, num_threads=args.threads)
    height, width = runner.manifest["frame_size"]
    model = build_model("lite0")
    float_config = tracker_defaults(model)
    eager = TorchRunner(model=model, height=height, width=width, threads=args.threads)
    reference = track_sequences(eager, float_config, sequences)
    print(f"fp32 eager at tau {float_config.tau}: J&F {reference['jf']:.1f}, reuse {reference['reuse_rate']:.3f}",
          flush=True)
    config = bundle_tracker_config(runner.manifest, where=str(args.bundle))
    pairs = followed(runner, config, (sequence_clip(seq) for seq in sequences), reference["decisions"])
    rows = []
    for tau in sorted({*args.taus, config.tau}):  # the bundle's own tau among them
        run = track_sequences(runner, dataclasses.replace(config, tau=tau), sequences)
        rows.append({"tau": tau, "synced_agreement": followed_agreement(pairs, tau),
                     "gate_agreement": agreement(run["decisions"], reference["decisions"]),
                     "reuse_rate": run["reuse_rate"], "jf": run["jf"], "per_sequence": run["per_sequence"]})
        row = rows[-1]
        print(f"tau {tau:.4f}: synced {row['synced_agreement']:.3f}, free-running {row['gate_agreement']:.3f}, "
              f"reuse {row['reuse_rate']:.3f}, J&F {row['jf']:.1f}", flush=True)
    result = {"bundle": str(args.bundle), "split": args.split, "res": args.res,
              "sequences": [s.name for s in sequences], "float_tau": float_config.tau, "bundle_tau": config.tau,
              "reference": {k: reference[k] for k in ("jf", "reuse_rate", "per_sequence")},
              "chosen_tau": choose(rows, float_config.tau)["tau"], "rows": rows}
    write_report(args.out, f"int8_tau_{height}x{width}", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
