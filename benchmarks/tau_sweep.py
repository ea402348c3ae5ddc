"""Accuracy vs reuse rate over the gate threshold tau (the paper's Fig. 8), on a DAVIS split.

    python benchmarks/tau_sweep.py --davis ROOT [--res 480p] [--split val | --sequences a,b]
                                   [--model lite0] [--checkpoint PATH] [--size HxW] [--bundle DIR]
                                   [--taus 1.0,0.9,0.8,0.7,0.6,0.5,0.3,0.1] [--keyframe-bound K] [--out-dir DIR]

The model (or exported bundle) is loaded once, the same way ``reusevos-eval`` does (``make_setup``);
for each tau every sequence is tracked and scored with ``evaluate_one``. Writes (atomically) to
``--out-dir`` (default ``benchmarks/results``): ``tau_sweep.json`` (per tau: overall J, F, J&F on
0-100, reuse rate, fps, and per sequence), ``tau_sweep.md`` (a table) and ``tau_sweep.png``
(J&F vs reuse rate, each point labelled with its tau; drawn with OpenCV, no plotting dependency).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from reusevos_edge.cli.common import add_runner_args, add_selection_args, make_setup, run_cli, selected_sequences, selection_json
from reusevos_edge.errors import InputError
from reusevos_edge.fileio import prepare_output_dir, write_json, write_text
from reusevos_edge.metrics.evaluate import evaluate_one
from reusevos_edge.metrics.plot import pyplot, save
from reusevos_edge.metrics.report import overall_json, sequence_json, summarize

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
DEFAULT_TAUS = "1.0,0.9,0.8,0.7,0.6,0.5,0.3,0.1"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tau_sweep", description=__doc__.split("\n\n")[0])
    add_selection_args(p)  # --davis ROOT --res --split | --sequences
    p.add_argument("--taus", default=DEFAULT_TAUS, help=f"comma-separated thresholds (default {DEFAULT_TAUS})")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--progress", action="store_true", help="show per-sequence progress bars")
    add_runner_args(p)  # --model --checkpoint --size --tau (unused) --keyframe-bound --locality-radius --bundle
    return p


def parse_taus(text: str) -> list[float]:
    try:
        taus = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"--taus {text!r}: expected comma-separated numbers") from None
    if not taus or any(not 0.0 <= t <= 1.0 for t in taus):
        raise InputError(f"--taus {text!r}: expected one or more probabilities in [0, 1]")
    return taus


# ------------------------------------------------------------------ sweep


def sweep(args: argparse.Namespace, taus: list[float]):
    """(one entry per tau: {"tau", "overall": overall_json, "sequences": {name: sequence_json}}, the Setup)."""
    from reusevos_edge.tracker.tracker import Tracker

    sequences = selected_sequences(args)
    setup = make_setup(args)  # loaded once, shared by every tau
    rows = []
    for tau in taus:
        tracker = Tracker(runner=setup.runner, config=setup.config.replace(tau=tau))
        results = [evaluate_one(tracker, seq, progress=args.progress) for seq in sequences]
        overall = overall_json(summarize(results))
        rows.append({"tau": tau, "overall": overall, "sequences": {r.name: sequence_json(r) for r in results}})
        print(f"tau {tau:.2f}: J&F {_fmt(overall['jf'], 1)}  J {_fmt(overall['J'], 1)}  F {_fmt(overall['F'], 1)}  "
              f"reuse {_fmt(overall['reuse_rate'], 3)}  fps {_fmt(overall['fps'], 1)}", flush=True)
    return rows, setup


def _fmt(value, digits: int) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(rows: list[dict], config: dict) -> str:
    lines = [
        "# tau sweep: accuracy vs reuse rate",
        "",
        f"model `{config['model']}`, checkpoint `{config['checkpoint']}`, bundle `{config['bundle']}`, "
        f"size {config['size']}, DAVIS `{config['davis']}` {config['res']} "
        f"{'split ' + str(config['split']) if config['split'] else 'sequences ' + str(config['sequences'])}, "
        f"tracker options {config['tracker']} (tau swept; None = unbounded / off)",
        "",
        "| tau | J&F | J | F | reuse rate | fps |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        o = row["overall"]
        lines.append(f"| {row['tau']:.2f} | {_fmt(o['jf'], 1)} | {_fmt(o['J'], 1)} | {_fmt(o['F'], 1)} | "
                     f"{_fmt(o['reuse_rate'], 3)} | {_fmt(o['fps'], 1)} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ plot (matplotlib)


def plot(rows: list[dict], *, title: str, path: Path) -> Path:
    """J&F (y, 0-100) vs reuse rate (x, 0-1), points joined in tau order, each labelled with its tau; 900x600 PNG."""
    plt = pyplot()
    pts = sorted(((r["tau"], r["overall"]["reuse_rate"], r["overall"]["jf"]) for r in rows
                  if r["overall"]["reuse_rate"] is not None and r["overall"]["jf"] is not None), key=lambda p: -p[0])
    fig, ax = plt.subplots(figsize=(9, 6))
    ax.plot([x for _, x, _ in pts], [y for _, _, y in pts], "o-", color="#1f5fbf")
    for tau, x, y in pts:
        ax.annotate(f"tau={tau:g}", (x, y), textcoords="offset points", xytext=(6, 6), fontsize=9)
    ax.set(xlim=(0.0, 1.0), xlabel="reuse rate", ylabel="J&F (%)", title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, path)


# ------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> dict:
    taus = parse_taus(args.taus)
    out = args.out_dir
    prepare_output_dir(out, flag="--out-dir", allow_existing=True)
    out.mkdir(exist_ok=True)
    rows, setup = sweep(args, taus)
    config = {**selection_json(args), **setup.to_json(), "taus": taus}
    payload = {"config": config, "taus": rows}
    write_json(out / "tau_sweep.json", payload)
    write_text(out / "tau_sweep.md", markdown(rows, config))
    title = f"J&F vs reuse rate ({config['model']}, {config['size']}, DAVIS {config['res']})"
    plot(rows, title=title, path=out / "tau_sweep.png")
    print(f"wrote {out / 'tau_sweep.json'}, {out / 'tau_sweep.md'}, {out / 'tau_sweep.png'}")
    return payload


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
