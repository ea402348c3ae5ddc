"""Is P_gate calibrated against the IoU of consecutive masks? A reliability plot, ECE and rank correlation.

    python benchmarks/gate_calibration.py --davis ROOT [--res 288p] [--split train-holdout | --sequences a,b]
                                          [--model lite0] [--checkpoint PATH] [--size HxW] [--bundle DIR]
                                          [--near 0.05] [--out-dir DIR]

Every sequence is tracked at tau 1 (every frame computed, so the gate's inputs are the previous frame's
score map and the template, and no decision feeds back into the next one); each object-frame after the
object's first gives a pair (P_gate, IoU of the object's ground-truth masks on this frame and the
previous one), the quantity the gate-probability loss trains P_gate towards. Reported per sequence and
overall: mean P_gate, mean IoU, expected calibration error over 10 bins, Spearman rank correlation
(does P_gate tell still frames from moving ones?), and the share of P_gate within ``--near`` of the
tracker's tau (decisions a small perturbation, e.g. int8 rounding, flips).

Choose on ``--split train-holdout`` (the default: held-out DAVIS train sequences); run ``--split val``
only to report. ``--fit-out CKPT`` (``--split train-fit`` or ``train`` only, PyTorch eager only) also fits
the monotone map P -> sigmoid(a logit(P) + b) of the program's P that best matches the pairs and
writes checkpoint ``CKPT``: the same weights, the tracker section's ``gate_calibration`` set to
[a, b] and tau moved onto the new scale (the same decisions: choose tau again on held-out data).
Writes ``gate_calibration_<split>.json``, ``.md`` and ``.png`` (atomically) to ``--out-dir`` (default
``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from reusevos_edge.cli.common import add_runner_args, add_selection_args, make_setup, run_cli, selected_sequences, selection_json
from reusevos_edge.errors import InputError
from reusevos_edge.fileio import prepare_output_dir, write_json, write_text
from reusevos_edge.metrics.calibration import expected_calibration_error, fit_logit_affine, reliability_bins, spearman
from reusevos_edge.metrics.evaluate import gate_pairs
from reusevos_edge.metrics.plot import pyplot, save

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gate_calibration", description=__doc__.split("\n\n")[0])
    add_selection_args(p)
    p.set_defaults(split="train-holdout", res="288p")
    p.add_argument("--near", type=float, default=0.05, help="report the share of P_gate within this of tau")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--fit-out", type=Path, default=None,
                   help="fit the gate's calibration on these (training) pairs and write the calibrated checkpoint here")
    add_runner_args(p)
    return p


def _num(value: float) -> float | None:
    """JSON has no NaN: an undefined statistic (an empty bin, a constant input) is null."""
    return None if value != value else value


def summary(p: np.ndarray, iou: np.ndarray, *, tau: float, near: float) -> dict:
    bins = reliability_bins(p, iou)
    return {"pairs": int(p.size), "mean_p_gate": float(p.mean()) if p.size else None,
            "mean_iou": float(iou.mean()) if iou.size else None, "ece": _num(expected_calibration_error(bins)),
            "spearman": _num(spearman(p, iou)), "near_tau_share": float(np.mean(np.abs(p - tau) < near)) if p.size else None,
            "bins": [{k: _num(v) for k, v in vars(b).items()} for b in bins]}


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(result: dict) -> str:
    c, o = result["config"], result["overall"]
    lines = [f"# Gate calibration: P_gate vs IoU of consecutive ground-truth masks ({c['model']}, {c['size']})", "",
             f"DAVIS `{c['res']}` {c['split'] or c['sequences']}, tracked at tau 1; checkpoint `{c['checkpoint']}`, "
             f"bundle `{c['bundle']}`. Near tau: |P_gate - {c['tau']}| < {c['near']}.", "",
             "| sequence | pairs | mean P_gate | mean IoU | ECE | Spearman | near tau |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in [*result["sequences"].items(), ("**all**", o)]:
        lines.append(f"| {name} | {s['pairs']} | {_fmt(s['mean_p_gate'])} | {_fmt(s['mean_iou'])} | {_fmt(s['ece'])} | "
                     f"{_fmt(s['spearman'])} | {_fmt(s['near_tau_share'])} |")
    lines += ["", "| P_gate bin | pairs | mean P_gate | mean IoU |", "|---|---:|---:|---:|"]
    lines += [f"| {b['lo']:.1f}-{b['hi']:.1f} | {b['count']} | {_fmt(b['mean_p'])} | {_fmt(b['mean_target'])} |"
              for b in o["bins"]]
    return "\n".join(lines) + "\n"


def plot(result: dict, *, path: Path) -> Path:
    """Reliability diagram: mean IoU (y) vs mean P_gate (x) per bin, dot area by count, and the diagonal."""
    plt = pyplot()
    o = result["overall"]
    fig, ax = plt.subplots(figsize=(7, 6.4))
    ax.plot([0, 1], [0, 1], color="#e07b00", linewidth=1, label="perfect calibration")
    total = max(o["pairs"], 1)
    bins = [b for b in o["bins"] if b["count"]]
    ax.scatter([b["mean_p"] for b in bins], [b["mean_target"] for b in bins], color="#1f5fbf",
               s=[30 + 900 * b["count"] / total for b in bins], label="bins (area: pairs)")
    for b in bins:
        ax.annotate(str(b["count"]), (b["mean_p"], b["mean_target"]), textcoords="offset points", xytext=(7, 7),
                    fontsize=8)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="P_gate (bin mean)", ylabel="IoU of consecutive masks (bin mean)",
           title=f"P_gate reliability ({result['config']['split'] or 'sequences'}): ECE {_fmt(o['ece'])}, "
                 f"Spearman {_fmt(o['spearman'], 2)}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return save(fig, path)


FIT_SPLITS = ("train", "train-fit")


def check_fit_args(args: argparse.Namespace) -> None:
    if args.fit_out is None:
        return
    if args.sequences is not None or args.split not in FIT_SPLITS:
        raise InputError(f"--fit-out: the calibration is fitted on training sequences only: pass --split "
                         f"{' or '.join(FIT_SPLITS)} (got {args.sequences or args.split!r})")
    if args.bundle is not None:
        raise InputError("--fit-out writes a checkpoint (the weights plus the map): run it on the PyTorch model, "
                         "without --bundle")
    if args.fit_out.suffix != ".safetensors":
        raise InputError(f"--fit-out {str(args.fit_out)!r}: expected a .safetensors path")


def write_calibrated(setup, path: Path, p: np.ndarray, iou: np.ndarray, *, split: str) -> dict:
    """Checkpoint ``path``: ``setup``'s weights and training record with the map fitted on (program P, IoU) pairs."""
    from reusevos_edge.model.checkpoint import checkpoint_extra, save_checkpoint

    try:
        a, b = fit_logit_affine(p, iou)
    except ValueError as exc:
        raise InputError(f"--fit-out: {exc} on {p.size} pairs of split {split!r}") from None
    config = setup.config.replace(gate_calibration=(a, b))
    config = config.replace(tau=round(config.gate_probability(setup.config.replace(gate_calibration=None).tau), 4))
    record = {"a": a, "b": b, "split": split, "pairs": int(p.size), "weights": str(setup.checkpoint)}
    save_checkpoint(setup.runner.model, path, extra={**checkpoint_extra(setup.checkpoint), "tracker": config.to_json(), "gate_calibration_fit": record})
    print(f"gate calibration a={a:.4f} b={b:.4f} on {p.size} pairs, tau -> {config.tau}: {path}")
    return record


def run(args: argparse.Namespace) -> dict:
    check_fit_args(args)
    prepare_output_dir(args.out_dir, flag="--out-dir", allow_existing=True)
    sequences = selected_sequences(args)
    setup = make_setup(args)
    tau = setup.config.tau
    per_seq, all_p, all_iou = {}, [], []
    calibrate = np.vectorize(setup.config.gate_probability, otypes=[np.float64])
    raw_p = []
    for seq in sequences:
        raw, iou = gate_pairs(setup.runner, setup.config, seq)
        p = calibrate(raw) if raw.size else raw
        per_seq[seq.name] = {k: v for k, v in summary(p, iou, tau=tau, near=args.near).items() if k != "bins"}
        raw_p.append(raw)
        all_p.append(p)
        all_iou.append(iou)
        s = per_seq[seq.name]
        print(f"{seq.name}: P_gate {_fmt(s['mean_p_gate'])} IoU {_fmt(s['mean_iou'])} Spearman {_fmt(s['spearman'])}", flush=True)
    result = {"config": {**selection_json(args), **setup.to_json(), "tau": tau, "near": args.near},
              "overall": summary(np.concatenate(all_p), np.concatenate(all_iou), tau=tau, near=args.near),
              "sequences": per_seq}
    if args.fit_out is not None:
        result["fit"] = write_calibrated(setup, args.fit_out, np.concatenate(raw_p), np.concatenate(all_iou),
                                         split=args.split)
    args.out_dir.mkdir(exist_ok=True)
    stem = args.out_dir / f"gate_calibration_{args.split if args.sequences is None else 'sequences'}"
    write_json(stem.with_suffix(".json"), result)
    write_text(stem.with_suffix(".md"), markdown(result))
    plot(result, path=stem.with_suffix(".png"))
    print(markdown(result))
    print(f"wrote {stem}.json, .md, .png")
    return result


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
