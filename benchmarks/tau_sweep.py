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

import cv2
import numpy as np

from reusevos_edge.cli.common import add_runner_args, add_selection_args, make_setup, run_cli, selected_sequences, selection_json
from reusevos_edge.errors import InputError
from reusevos_edge.fileio import atomic_write, prepare_output_dir, write_json, write_text
from reusevos_edge.metrics.evaluate import evaluate_one
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


# ------------------------------------------------------------------ plot (OpenCV)


def _nice_step(span: float, target: int = 6) -> float:
    raw = max(span, 1e-9) / target
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def plot(rows: list[dict], *, title: str, width: int = 900, height: int = 600) -> np.ndarray:
    """J&F (y, 0-100) vs reuse rate (x, 0-1), points joined in tau order, each labelled with its tau."""
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 80, 40, 50, 70
    x0, x1, y0, y1 = left, width - right, height - bottom, top  # pixel box (y grows downwards)
    pts = [(r["tau"], r["overall"]["reuse_rate"], r["overall"]["jf"]) for r in rows]
    pts = [(t, x, y) for t, x, y in pts if x is not None and y is not None]
    ys = [y for _, _, y in pts] or [0.0, 100.0]
    step = _nice_step(max(max(ys) - min(ys), 1.0))
    lo = max(math.floor((min(ys) - step / 2) / step) * step, 0.0)
    hi = min(math.ceil((max(ys) + step / 2) / step) * step, 100.0)
    if hi <= lo:
        lo, hi = max(lo - step, 0.0), min(hi + step, 100.0)
    px = lambda x: int(round(x0 + (x1 - x0) * x))  # noqa: E731  reuse rate in [0, 1]
    py = lambda y: int(round(y0 - (y0 - y1) * (y - lo) / (hi - lo)))  # noqa: E731
    font, black, grey = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0), (225, 225, 225)
    for i in range(11):  # x grid + ticks every 0.1
        x = px(i / 10)
        cv2.line(img, (x, y0), (x, y1), grey, 1)
        cv2.line(img, (x, y0), (x, y0 + 6), black, 1)
        label = f"{i / 10:.1f}"
        (tw, th), _ = cv2.getTextSize(label, font, 0.45, 1)
        cv2.putText(img, label, (x - tw // 2, y0 + 10 + th), font, 0.45, black, 1, cv2.LINE_AA)
    n = int(round((hi - lo) / step))
    for i in range(n + 1):  # y grid + ticks
        v = lo + i * step
        y = py(v)
        cv2.line(img, (x0, y), (x1, y), grey, 1)
        cv2.line(img, (x0 - 6, y), (x0, y), black, 1)
        label = f"{v:g}"
        (tw, th), _ = cv2.getTextSize(label, font, 0.45, 1)
        cv2.putText(img, label, (x0 - 10 - tw, y + th // 2), font, 0.45, black, 1, cv2.LINE_AA)
    cv2.rectangle(img, (x0, y1), (x1, y0), black, 1)
    xlabel, ylabel = "reuse rate", "J&F (%)"
    (tw, _), _ = cv2.getTextSize(xlabel, font, 0.6, 1)
    cv2.putText(img, xlabel, ((x0 + x1 - tw) // 2, height - 18), font, 0.6, black, 1, cv2.LINE_AA)
    (tw, th), _ = cv2.getTextSize(ylabel, font, 0.6, 1)
    text = np.full((th + 10, tw + 10, 3), 255, np.uint8)
    cv2.putText(text, ylabel, (5, th + 3), font, 0.6, black, 1, cv2.LINE_AA)
    text = cv2.rotate(text, cv2.ROTATE_90_COUNTERCLOCKWISE)
    ty = (y0 + y1 - text.shape[0]) // 2
    img[ty : ty + text.shape[0], 8 : 8 + text.shape[1]] = np.minimum(img[ty : ty + text.shape[0], 8 : 8 + text.shape[1]], text)
    (tw, _), _ = cv2.getTextSize(title, font, 0.6, 1)
    cv2.putText(img, title, ((width - tw) // 2, 30), font, 0.6, black, 1, cv2.LINE_AA)
    blue = (200, 90, 20)
    ordered = sorted(pts, key=lambda p: -p[0])
    for (_, xa, ya), (_, xb, yb) in zip(ordered, ordered[1:]):
        cv2.line(img, (px(xa), py(ya)), (px(xb), py(yb)), blue, 2, cv2.LINE_AA)
    for tau, x, y in ordered:
        cv2.circle(img, (px(x), py(y)), 5, blue, -1, cv2.LINE_AA)
        label = f"tau={tau:g}"
        (tw, th), _ = cv2.getTextSize(label, font, 0.45, 1)
        lx = px(x) + 8 if px(x) + 8 + tw < x1 else px(x) - 8 - tw
        cv2.putText(img, label, (lx, py(y) - 8), font, 0.45, black, 1, cv2.LINE_AA)
    return img


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
    ok, png = cv2.imencode(".png", plot(rows, title=title))
    if not ok:
        raise RuntimeError("cv2.imencode failed to encode the plot")
    atomic_write(out / "tau_sweep.png", lambda temp: Path(temp).write_bytes(png.tobytes()))
    print(f"wrote {out / 'tau_sweep.json'}, {out / 'tau_sweep.md'}, {out / 'tau_sweep.png'}")
    return payload


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
