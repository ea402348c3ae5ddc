"""Fit the object-centred reuse gate on training sequences, its window and length chosen by grouped cross-validation.

    python benchmarks/fit_gate.py --davis ROOT [--res 288p] [--split train-fit | --sequences a,b]
                                  [--model lite0] [--checkpoint CKPT] [--size HxW] --out NEW.safetensors
                                  [--folds 5] [--report-dir DIR]

Why: the paper's gate (``ReuseGate``: conv layers over D_t pooled across the whole frame) trained end to end on
24 train sequences ranks their frames by the IoU of consecutive masks (Spearman 0.80) and barely ranks held-out
ones (0.14): it learns the sequences apart. ``ObjectGate`` reads D_t only around the previous object's score
and has one linear layer (2T + 1 weights).

How: every sequence is tracked at tau 1 with the checkpoint's heads (every frame computed, as
``gate_calibration.py`` does); each object-frame after the object's first gives the gate's inputs (D_t from the
frozen template matcher, the previous score at 1/8) and its target, the IoU of the object's ground-truth masks on
this frame and the previous one (the gate-probability loss with margin 0). The features z of every window in
WINDOWS are computed once; the linear layer is fitted to them by full-batch AdamW (lr 3e-3, weight decay 0.1,
MSE of sigmoid(linear(z)) to the IoU) for a number of STEPS. The rule: sequence-grouped K-fold cross-validation
over WINDOWS x STEPS; the highest Spearman of the pooled out-of-fold predictions, ties within SPEARMAN_TIE
broken by the mean within-sequence Spearman (does P_gate rank a video's own frames?). The chosen setting is
fitted on every pair and written as ``--out``: the checkpoint's tensors with the object gate, its JSON's
``config.head.gate`` "object" and ``gate_window``, the tracker options kept but ``gate_calibration`` dropped
(P_gate is fitted to the IoU itself). Its tau, keyframe bound and delta scale were chosen for the old gate:
choose them again on held-out training sequences. Fit on training sequences only (``--split train`` or
``train-fit``, or train sequences by name). Writes ``fit_gate_<split>.json`` and ``.md`` to ``--report-dir``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reusevos_edge.cli.common import add_runner_args, add_selection_args, make_setup, run_cli, selected_sequences, selection_json
from reusevos_edge.errors import InputError
from reusevos_edge.fileio import prepare_output_dir, write_json, write_text
from reusevos_edge.metrics.calibration import expected_calibration_error, reliability_bins, spearman

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
WINDOWS = (2, 4, 8)
STEPS = (150, 400, 1000)
SPEARMAN_TIE = 0.02
LR, WEIGHT_DECAY = 3e-3, 0.1


@dataclass
class GatePairs:
    """Per gated object-frame: z[window] Nx2T (ObjectGate features), iou N (the target), seq N (its sequence)."""

    z: dict[int, np.ndarray]
    iou: np.ndarray
    seq: np.ndarray


class _Capture:
    """The runner, plus a copy of every ``match_gate`` call's feeds (what the gate reads)."""

    def __init__(self, runner) -> None:
        self.runner, self.feeds = runner, []

    def __getattr__(self, name):
        return getattr(self.runner, name)

    def run(self, name, feeds):
        if name == "match_gate":
            self.feeds.append({k: np.array(v) for k, v in feeds.items()})
        return self.runner.run(name, feeds)


def collect(setup, sequences, *, windows=WINDOWS) -> GatePairs:
    """Track every sequence at tau 1 (``gate_pairs``: its pairs' IoU is the target) and turn the gate's inputs
    on each gated object-frame, in the same order, into every window's features."""
    import torch

    from reusevos_edge.metrics.evaluate import gate_pairs
    from reusevos_edge.model.layers import resize_to
    from reusevos_edge.model.reuse_gate import ObjectGate

    model = setup.runner.model
    gates = {r: ObjectGate(ch=model.config.head.tm_ch, window=r, open_init=0.5) for r in windows}
    z, iou, names = {r: [] for r in windows}, [], []
    for seq in sequences:
        capture = _Capture(setup.runner)
        _, seq_iou = gate_pairs(capture, setup.config, seq)
        if len(capture.feeds) != seq_iou.size:  # one match_gate call per gated object-frame
            raise RuntimeError(f"{seq.name}: {len(capture.feeds)} match_gate calls for {seq_iou.size} gated object-frames")
        for call in capture.feeds:
            feeds = {k: torch.from_numpy(v) for k, v in call.items()}
            with torch.no_grad():
                d = model.matcher(feeds["f8"], feeds["prev_score"], feeds["template"])
                s8 = resize_to(feeds["prev_score"], feeds["f8"])
                for r, gate in gates.items():
                    z[r].append(gate.features(d, s8)[0].numpy())
        iou.extend(seq_iou.tolist())
        names.extend([seq.name] * seq_iou.size)
        print(f"{seq.name}: {seq_iou.size} pairs", flush=True)
    return GatePairs(z={r: np.stack(v).astype(np.float32) for r, v in z.items()}, iou=np.asarray(iou, np.float32),
                     seq=np.asarray(names))


def fit_linear(z: np.ndarray, iou: np.ndarray, *, steps: int, seed: int = 0):
    """The gate's linear layer fitted to (z Nx2T, iou N): returns (weight 1x2T, bias 1) as float32 arrays."""
    import torch

    torch.manual_seed(seed)
    layer = torch.nn.Linear(z.shape[1], 1)
    opt = torch.optim.AdamW(layer.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    x, y = torch.from_numpy(z), torch.from_numpy(iou)
    for _ in range(steps):
        opt.zero_grad()
        ((torch.sigmoid(layer(x))[:, 0] - y) ** 2).mean().backward()
        opt.step()
    return layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()


def predict(z: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(z @ weight.T + bias)[:, 0]))


def _within(p: np.ndarray, iou: np.ndarray, seq: np.ndarray) -> float:
    """Mean over sequences of the Spearman correlation inside one sequence (constant ones left out)."""
    values = [spearman(p[seq == s], iou[seq == s]) for s in np.unique(seq)]
    values = [v for v in values if v == v]
    return float(np.mean(values)) if values else float("nan")


def cross_validate(pairs: GatePairs, *, folds: int) -> list[dict]:
    """Rows {window, steps, spearman, within, ece} from sequence-grouped ``folds``-fold out-of-fold predictions."""
    names = sorted(set(pairs.seq.tolist()))
    if len(names) < folds:
        raise InputError(f"--folds {folds}: needs at least as many sequences, got {len(names)}")
    fold_of = {n: i % folds for i, n in enumerate(names)}
    fold = np.array([fold_of[s] for s in pairs.seq])
    rows = []
    for r, z in pairs.z.items():
        for steps in STEPS:
            p = np.zeros_like(pairs.iou)
            for k in range(folds):
                w, b = fit_linear(z[fold != k], pairs.iou[fold != k], steps=steps)
                p[fold == k] = predict(z[fold == k], w, b)
            rows.append({"window": r, "steps": steps, "spearman": spearman(p, pairs.iou),
                         "within": _within(p, pairs.iou, pairs.seq),
                         "ece": expected_calibration_error(reliability_bins(p, pairs.iou))})
            print(f"window {r} steps {steps}: CV Spearman {rows[-1]['spearman']:.3f} within {rows[-1]['within']:.3f} "
                  f"ECE {rows[-1]['ece']:.3f}", flush=True)
    return rows


def choose(rows: list[dict]) -> dict:
    """The rule: highest pooled CV Spearman; within SPEARMAN_TIE of it, the highest within-sequence Spearman."""
    best = max(r["spearman"] for r in rows)
    near = [r for r in rows if r["spearman"] >= best - SPEARMAN_TIE]
    return max(near, key=lambda r: (r["within"] if r["within"] == r["within"] else -1.0, r["spearman"]))


def write_gate_checkpoint(setup, path: Path, *, window: int, weight: np.ndarray, bias: np.ndarray, record: dict) -> None:
    """``path``: ``setup``'s weights with the fitted object gate; tracker options kept, gate_calibration dropped."""
    import torch

    from reusevos_edge.model.checkpoint import checkpoint_extra, save_checkpoint

    model = setup.runner.model
    model.set_gate("object", window=window)
    with torch.no_grad():
        model.gate.linear.weight.copy_(torch.from_numpy(weight))
        model.gate.linear.bias.copy_(torch.from_numpy(bias))
    tracker = setup.config.replace(gate_calibration=None).to_json()
    save_checkpoint(model, path, extra={**checkpoint_extra(setup.checkpoint), "tracker": tracker, "gate_fit": record})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fit_gate", description=__doc__.split("\n\n")[0])
    add_selection_args(p)
    p.set_defaults(split="train-fit", res="288p")
    p.add_argument("--out", type=Path, required=True, help="the checkpoint to write (.safetensors)")
    p.add_argument("--folds", type=int, default=5, help="sequence-grouped cross-validation folds (default 5)")
    p.add_argument("--report-dir", type=Path, default=RESULTS_DIR)
    add_runner_args(p, bundle=False)
    return p


def check_args(args: argparse.Namespace) -> None:
    if args.sequences is None and args.split not in ("train", "train-fit"):
        raise InputError(f"--split {args.split!r}: the gate is fitted on training sequences only (train or train-fit)")
    if args.out.suffix != ".safetensors":
        raise InputError(f"--out {str(args.out)!r}: expected a .safetensors path")
    if args.folds < 2:
        raise InputError(f"--folds {args.folds}: expected at least 2")


def markdown(result: dict) -> str:
    c = result["config"]
    lines = [f"# Object-centred gate fitted on {c['split'] or c['sequences']} ({c['model']}, {c['size']})", "",
             f"Checkpoint `{c['checkpoint']}` -> `{result['out']}`; {result['pairs']} pairs of {result['sequences']} "
             f"sequences; {result['folds']}-fold cross-validation grouped by sequence (`benchmarks/fit_gate.py`).", "",
             "| window (1/8 cells) | steps | CV Spearman | within-sequence | CV ECE |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['window']} | {r['steps']} | {r['spearman']:.3f} | {r['within']:.3f} | {r['ece']:.3f} |" for r in result["cv"]]
    ch, fit = result["chosen"], result["fit"]
    lines += ["", f"Chosen: window **{ch['window']}**, **{ch['steps']}** steps. Fitted on every pair: Spearman "
              f"{fit['spearman']:.3f}, ECE {fit['ece']:.3f} (training pairs, optimistic; the CV columns are the estimate)."]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> dict:
    check_args(args)
    sequences = selected_sequences(args)
    prepare_output_dir(args.report_dir, flag="--report-dir", allow_existing=True)
    setup = make_setup(args)
    pairs = collect(setup, sequences)
    if pairs.iou.size == 0:
        raise InputError("no gated object-frames in the selected sequences (each needs two frames or more)")
    rows = cross_validate(pairs, folds=args.folds)
    chosen = choose(rows)
    z = pairs.z[chosen["window"]]
    weight, bias = fit_linear(z, pairs.iou, steps=chosen["steps"])
    p = predict(z, weight, bias)
    fit = {"spearman": spearman(p, pairs.iou), "ece": expected_calibration_error(reliability_bins(p, pairs.iou))}
    result = {"config": {**selection_json(args), **setup.to_json()}, "out": str(args.out), "pairs": int(pairs.iou.size),
              "sequences": len(set(pairs.seq.tolist())), "folds": args.folds, "cv": rows, "chosen": chosen, "fit": fit,
              "recipe": {"lr": LR, "weight_decay": WEIGHT_DECAY, "windows": list(WINDOWS), "steps": list(STEPS),
                         "spearman_tie": SPEARMAN_TIE}}
    record = {"split": result["config"]["split"], "sequences": result["config"]["sequences"], "pairs": result["pairs"],
              "window": chosen["window"], "steps": chosen["steps"], "cv_spearman": chosen["spearman"],
              "rules": "benchmarks/fit_gate.py"}
    write_gate_checkpoint(setup, args.out, window=chosen["window"], weight=weight, bias=bias, record=record)
    args.report_dir.mkdir(parents=True, exist_ok=True)
    stem = args.report_dir / f"fit_gate_{args.split if args.sequences is None else 'sequences'}"
    write_json(stem.with_suffix(".json"), result)
    write_text(stem.with_suffix(".md"), markdown(result))
    print(markdown(result))
    print(f"wrote {args.out}, {stem}.json, .md; choose tau, keyframe bound and delta scale again on held-out sequences")
    return result


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
