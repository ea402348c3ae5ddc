"""Choose a training run's epoch and the tracker options on held-out *training* sequences, by fixed rules.

    python benchmarks/select_options.py --davis DAVIS2016 --run-dir RUN [--res 288p] [--out-dir RUN/selection]
                                        [--epochs 3,6,9] [--threads N]

RUN is a ``reusevos-train`` output folder holding ``epoch_NNN.safetensors`` (``--keep-every``). Every
measurement is on ``train-holdout`` (``reusevos_edge/data/splits.py``), the gate map is fitted on
``train-fit``; val sequences are never read. The rules, fixed before any number is seen:

1. **epoch**: the highest J&F at tau 1 (locality radius 1); within ``EPOCH_TIE`` of the best, the later epoch.
2. **decoder reach** B (``HeadConfig.residual_bound``, no weight depends on it) at tau 1, among ``BOUNDS``
   and the bound the run trained at: the highest J&F; within ``BOUND_TIE`` of the best, the larger B.
3. **locality radius** at tau 1, among ``RADII`` (-1 = off): the highest J&F.
4. **gate calibration**: the map P -> sigmoid(a logit(P) + b) fitted on the ``train-fit`` (P_gate, IoU of
   consecutive ground-truth masks) pairs at tau 1 (none when P_gate does not rise with the IoU); its ECE and
   Spearman reported on ``train-holdout``.
5. **reuse options** over ``TAUS`` x ``KEYFRAME_BOUNDS`` x ``DELTA_SCALES``: the highest reuse rate whose
   J&F is within ``MAX_DROP`` of tau 1; among settings whose reuse rate is within ``REUSE_TIE`` of that,
   the paper's delta path (delta scale 1) first, then the higher J&F.

Writes (atomically) ``selection.json`` (every measurement and each decision), ``selection.md`` and
``selected.safetensors`` (+ ``.json``): the chosen epoch's weights with the chosen options as its
``tracker`` section, which ``reusevos-eval --checkpoint``, ``reusevos-track`` and the exporters read.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reusevos_edge.cli.common import run_cli
from reusevos_edge.errors import InputError
from reusevos_edge.fileio import prepare_output_dir, write_json, write_text

EPOCH_TIE = 0.5
BOUNDS = (3.0, 2.0, 1.5, 1.0, 0.5)
BOUND_TIE = 0.5
RADII = (-1, 1, 2)
TAUS = (0.95, 0.9, 0.85, 0.8, 0.7)  # on the calibrated scale, where P_gate ~ the IoU of consecutive masks
KEYFRAME_BOUNDS = (1, 2, -1)
DELTA_SCALES = (0.0, 1.0)
MAX_DROP = 1.0
REUSE_TIE = 0.02
EPOCH_FILE = re.compile(r"epoch_(\d{3})\.safetensors$")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="select_options", description=__doc__.split("\n\n")[0])
    p.add_argument("--davis", type=Path, required=True, help="DAVIS-layout root (its train list is split)")
    p.add_argument("--res", default="288p")
    p.add_argument("--run-dir", type=Path, required=True, help="a reusevos-train output folder with epoch_NNN files")
    p.add_argument("--epochs", default=None, help="comma-separated epochs to consider (default: every kept one)")
    p.add_argument("--size", default="384x672", help="model frame size HxW")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out-dir", type=Path, default=None, help="default RUN/selection")
    return p


def kept_epochs(run_dir: Path, only: str | None) -> dict[int, Path]:
    """epoch -> checkpoint of ``run_dir``'s ``epoch_NNN.safetensors`` (restricted to ``only``, comma-separated)."""
    found = {int(m.group(1)): f for f in sorted(run_dir.glob("epoch_*.safetensors")) if (m := EPOCH_FILE.search(f.name))}
    if only:
        try:
            wanted = {int(e) for e in only.split(",") if e.strip()}
        except ValueError:
            raise InputError(f"--epochs {only!r}: expected comma-separated integers") from None
        missing = sorted(wanted - set(found))
        if missing:
            raise InputError(f"--epochs: {run_dir} holds no epoch_NNN.safetensors for {missing} (has {sorted(found)})")
        found = {e: f for e, f in found.items() if e in wanted}
    if not found:
        raise InputError(f"--run-dir {run_dir}: no epoch_NNN.safetensors (train with reusevos-train --keep-every N)")
    return found


@dataclass
class Candidate:
    """One loaded checkpoint: its runner and the tracker options it starts from."""

    epoch: int
    path: Path
    runner: object
    config: object


def load(epoch: int, path: Path, *, size: tuple[int, int], threads: int | None) -> Candidate:
    from reusevos_edge.model.checkpoint import read_checkpoint_info
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.runtime.torch_runner import TorchRunner
    from reusevos_edge.tracker.config import tracker_defaults

    variant = read_checkpoint_info(path).get("variant", "lite0")
    model = build_model(variant, checkpoint=path)
    runner = TorchRunner(model=model, height=size[0], width=size[1], threads=threads)
    return Candidate(epoch, path, runner, tracker_defaults(model, checkpoint=path))


def score(runner, config, sequences) -> dict:
    """J&F (0-100), reuse rate and per-sequence J&F of ``config`` over ``sequences``."""
    from reusevos_edge.metrics.evaluate import evaluate_one
    from reusevos_edge.metrics.report import overall_json, sequence_json, summarize
    from reusevos_edge.tracker.tracker import Tracker

    tracker = Tracker(runner=runner, config=config)
    results = [evaluate_one(tracker, seq, progress=False) for seq in sequences]
    overall = overall_json(summarize(results))
    return {"jf": overall["jf"], "reuse_rate": overall["reuse_rate"],
            "sequences": {r.name: sequence_json(r)["jf"] for r in results}}


def _none(value: int) -> int | None:
    return None if value == -1 else value


def choose_epoch(rows: list[dict]) -> int:
    """Rule 1 on rows {"epoch", "jf"}."""
    best = max(r["jf"] for r in rows)
    return max(r["epoch"] for r in rows if r["jf"] >= best - EPOCH_TIE)


def choose_bound(rows: list[dict]) -> float:
    """Rule 2 on rows {"bound", "jf"}."""
    best = max(r["jf"] for r in rows)
    return max(r["bound"] for r in rows if r["jf"] >= best - BOUND_TIE)


def choose_radius(rows: list[dict]) -> int:
    """Rule 3 on rows {"radius", "jf"} (the first of equal ones)."""
    return max(rows, key=lambda r: r["jf"])["radius"]


def choose_reuse(rows: list[dict], tau1_jf: float) -> dict | None:
    """Rule 5 on rows {"tau", "keyframe_bound", "delta_scale", "jf", "reuse_rate"}; None when no row qualifies."""
    ok = [r for r in rows if r["jf"] >= tau1_jf - MAX_DROP]
    if not ok:
        return None
    top = max(r["reuse_rate"] for r in ok)
    near = [r for r in ok if r["reuse_rate"] >= top - REUSE_TIE]
    return max(near, key=lambda r: (r["delta_scale"] > 0, r["jf"]))


def calibrate(cand: Candidate, fit_seqs, holdout_seqs) -> dict:
    """Rule 4: the map fitted on ``fit_seqs``, judged on ``holdout_seqs``."""
    from reusevos_edge.metrics.calibration import (expected_calibration_error, fit_logit_affine, logit_affine,
                                                   reliability_bins, spearman)
    from reusevos_edge.metrics.evaluate import gate_pairs

    def pairs(seqs):
        both = [gate_pairs(cand.runner, cand.config, s) for s in seqs]
        return np.concatenate([p for p, _ in both]), np.concatenate([i for _, i in both])

    p_fit, iou_fit = pairs(fit_seqs)
    p_hold, iou_hold = pairs(holdout_seqs)
    result = {"a": None, "b": None, "fit_pairs": int(p_fit.size), "holdout_pairs": int(p_hold.size),
              "holdout_ece_raw": expected_calibration_error(reliability_bins(p_hold, iou_hold)),
              "holdout_spearman": spearman(p_hold, iou_hold)}
    try:
        a, b = fit_logit_affine(p_fit, iou_fit)
    except ValueError as exc:  # P_gate does not rise with the IoU: no monotone map; the gate stays raw
        return {**result, "holdout_ece": result["holdout_ece_raw"], "error": str(exc)}
    mapped = logit_affine(p_hold, a, b)
    return {**result, "a": a, "b": b, "holdout_ece": expected_calibration_error(reliability_bins(mapped, iou_hold))}


def markdown(sel: dict) -> str:
    lines = ["# Options chosen on train-holdout", "", f"run `{sel['run_dir']}`; rules in `benchmarks/select_options.py`", "",
             "## 1. epoch (tau 1, locality radius 1)", "", "| epoch | J&F |", "|---:|---:|"]
    lines += [f"| {r['epoch']} | {r['jf']:.1f} |" for r in sel["epochs"]]
    lines += ["", f"chosen: **epoch {sel['epoch']}**", "", "## 2. decoder reach B (tau 1, locality radius 1)", "",
              "| B | J&F |", "|---:|---:|"]
    lines += [f"| {r['bound']:g} | {r['jf']:.1f} |" for r in sel["bounds"]]
    lines += ["", f"chosen: **B = {sel['bound']:g}**", "", "## 3. locality radius (tau 1)", "", "| radius | J&F |", "|---:|---:|"]
    lines += [f"| {r['radius']} | {r['jf']:.1f} |" for r in sel["radii"]]
    cal = sel["calibration"]
    fitted = (f"a = {cal['a']:.4f}, b = {cal['b']:.4f} on {cal['fit_pairs']} train-fit pairs" if cal["a"] is not None
              else f"no map ({cal['error']})")
    lines += ["", f"chosen: **{sel['radius']}** (-1 = off)", "", "## 4. gate calibration",
              "", f"{fitted}; train-holdout ECE {cal['holdout_ece_raw']:.3f} -> {cal['holdout_ece']:.3f}, "
              f"Spearman {cal['holdout_spearman']:.3f}",
              "", "## 5. reuse options", "", "| tau | keyframe bound | delta scale | J&F | reuse rate |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['tau']:.2f} | {r['keyframe_bound']} | {r['delta_scale']:g} | {r['jf']:.1f} | {r['reuse_rate']:.3f} |"
              for r in sel["reuse"]]
    pick = sel["reuse_choice"]
    lines += ["", "chosen: " + ("none within the drop (reuse off: tau 1)" if pick is None else
                                f"**tau {pick['tau']:.2f}, keyframe bound {pick['keyframe_bound']}, delta scale "
                                f"{pick['delta_scale']:g}**: J&F {pick['jf']:.1f} vs {sel['tau1_jf']:.1f} at tau 1, "
                                f"reuse {pick['reuse_rate']:.3f}")]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> dict:
    from reusevos_edge.cli.common import parse_size
    from reusevos_edge.data.davis import DavisDataset
    from reusevos_edge.model.checkpoint import checkpoint_extra, save_checkpoint

    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads {args.threads}: expected at least 1")
    size = parse_size(args.size)
    epochs = kept_epochs(args.run_dir, args.epochs)
    out = args.out_dir or args.run_dir / "selection"
    prepare_output_dir(out, flag="--out-dir", allow_existing=True)
    data = DavisDataset(root=args.davis, res=args.res)
    holdout, fit = data.sequences(split="train-holdout"), data.sequences(split="train-fit")
    sel: dict = {"run_dir": str(args.run_dir), "res": args.res, "size": args.size,
                 "holdout": [s.name for s in holdout], "epochs": []}
    best: dict[int, Candidate] = {}  # the leading epoch's loaded model, kept for the later steps
    for epoch, path in epochs.items():
        cand = load(epoch, path, size=size, threads=args.threads)
        sel["epochs"].append({"epoch": epoch, **score(cand.runner, cand.config.replace(tau=1.0, locality_radius=1), holdout)})
        print(f"epoch {epoch}: J&F {sel['epochs'][-1]['jf']:.1f}", flush=True)
        if choose_epoch(sel["epochs"]) == epoch:
            best = {epoch: cand}
    sel["epoch"] = choose_epoch(sel["epochs"])
    cand = best[sel["epoch"]]
    model = cand.runner.model
    sel["bounds"] = [{"bound": model.config.head.residual_bound,
                      "jf": next(r["jf"] for r in sel["epochs"] if r["epoch"] == sel["epoch"])}]
    for bound in (b for b in BOUNDS if b != sel["bounds"][0]["bound"]):
        model.set_residual_bound(bound)
        sel["bounds"].append({"bound": bound, **score(cand.runner, cand.config.replace(tau=1.0, locality_radius=1), holdout)})
        print(f"decoder reach {bound:g}: J&F {sel['bounds'][-1]['jf']:.1f}", flush=True)
    sel["bound"] = choose_bound(sel["bounds"])
    model.set_residual_bound(sel["bound"])
    sel["radii"] = [{"radius": 1, "jf": next(r["jf"] for r in sel["bounds"] if r["bound"] == sel["bound"])}]
    for radius in (r for r in RADII if r != 1):
        sel["radii"].append({"radius": radius, **score(cand.runner, cand.config.replace(tau=1.0, locality_radius=_none(radius)), holdout)})
        print(f"radius {radius}: J&F {sel['radii'][-1]['jf']:.1f}", flush=True)
    sel["radius"] = choose_radius(sel["radii"])
    sel["tau1_jf"] = next(r["jf"] for r in sel["radii"] if r["radius"] == sel["radius"])
    cand.config = cand.config.replace(locality_radius=_none(sel["radius"]), gate_calibration=None)
    sel["calibration"] = calibrate(cand, fit, holdout)
    cal = sel["calibration"]
    print(f"gate map a={cal['a']} b={cal['b']} {cal.get('error', '')}: holdout ECE {cal['holdout_ece']:.3f}", flush=True)
    if cal["a"] is not None:
        cand.config = cand.config.replace(gate_calibration=(cal["a"], cal["b"]))
    sel["reuse"] = []
    for kb in KEYFRAME_BOUNDS:
        for ds in DELTA_SCALES:
            for tau in TAUS:
                config = cand.config.replace(tau=tau, keyframe_bound=_none(kb), delta_scale=ds)
                sel["reuse"].append({"tau": tau, "keyframe_bound": kb, "delta_scale": ds, **score(cand.runner, config, holdout)})
                r = sel["reuse"][-1]
                print(f"tau {tau} kb {kb} ds {ds}: J&F {r['jf']:.1f} reuse {r['reuse_rate']:.3f}", flush=True)
    pick = sel["reuse_choice"] = choose_reuse(sel["reuse"], sel["tau1_jf"])
    final = cand.config.replace(tau=1.0) if pick is None else cand.config.replace(
        tau=pick["tau"], keyframe_bound=_none(pick["keyframe_bound"]), delta_scale=pick["delta_scale"])
    sel["tracker"] = final.to_json()
    save_checkpoint(cand.runner.model, out / "selected.safetensors",
                    extra={**checkpoint_extra(cand.path), "tracker": sel["tracker"], "selection": {
                        "epoch": sel["epoch"], "residual_bound": sel["bound"], "rules": "benchmarks/select_options.py"}})
    write_json(out / "selection.json", sel)
    write_text(out / "selection.md", markdown(sel))
    print(markdown(sel))
    print(f"wrote {out / 'selection.json'}, {out / 'selection.md'}, {out / 'selected.safetensors'}")
    return sel


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
