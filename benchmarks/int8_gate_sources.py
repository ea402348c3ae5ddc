"""Which int8 subgraphs move the reuse decisions? fp32 and int8 bundles of one target, mixed per subgraph.

    python benchmarks/int8_gate_sources.py --davis ROOT --fp32 FP32_BUNDLE --int8 INT8_BUNDLE
                                           [--res 288p] [--split train-holdout] [--threads 2] [--out DIR]

Each row tracks the sequences with the int8 bundle's programs for the named subgraphs and the fp32
bundle's for the rest (both bundles: same target, model, size), and reports J&F, the reuse rate and
the share of object-frames whose decision equals the all-fp32 run's (as ``int8_report.py`` counts
it: after a first disagreement both runs follow their own masks). A last row separates the gate from
that divergence: the fp32 bundle tracks, and on every ``match_gate`` call the int8 gate decides on the
same ``prev_score`` with its own ``f8`` and template (:class:`ShadowGate`, "teacher-forced"); it reports
the share of gate calls where both say the same (P_gate > tau, before the keyframe bound) and their mean
|P_gate difference|. The tracker options are the fp32 bundle's. Default sequences: the held-out training ones. Writes
``int8_gate_sources_<target>_<qat|ptq>_<split>.json`` and ``.md`` into ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from int8_report import agreement, track_sequences  # benchmarks/ is the script's folder

from reusevos_edge.fileio import write_json, write_text
from reusevos_edge.quant.image_codes import feeds_for

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BACKBONE = ("backbone_low", "backbone_high")
GATE_PATH = ("template_build", "match_gate")
REFINE = ("refine_deep", "refine_translate", "refine_shallow")
ROWS = {"all int8": BACKBONE + GATE_PATH + REFINE, "backbone only": BACKBONE, "gate path only": GATE_PATH,
        "refinement only": REFINE, "all but the gate path": BACKBONE + REFINE}


class MixedRunner:
    """Runs ``names`` on ``int8`` and every other subgraph on ``fp32`` (two bundle runners of one contract)."""

    def __init__(self, *, fp32, int8, names) -> None:
        self.fp32, self.int8, self.names = fp32, int8, frozenset(names)
        self.subgraphs = fp32.subgraphs  # the contract (the tracker reads its shapes)

    def run(self, name: str, feeds):
        if name in self.names:
            return self.int8.run(name, _as_int8_takes_them(self.int8, name, feeds))
        return self.fp32.run(name, feeds)


def _as_int8_takes_them(int8, name: str, feeds):
    """The fp32 run's ``feeds`` as ``int8``'s program ``name`` takes them (its image as int8 codes)."""
    graph = int8.subgraphs.get(name)
    return feeds if graph is None else feeds_for(graph, feeds)


class ShadowGate:
    """Runs the contract on ``fp32`` and, beside it, the int8 gate on the same state: ``int8``'s
    ``backbone_low`` on each frame, its ``template_build`` at each object start and its ``match_gate``
    on every gate call, with the fp32 run's ``prev_score``. ``pairs``: (P_gate fp32, P_gate int8) per
    gate call, as the program outputs them. One object at a time (the int8 template of the last start)."""

    def __init__(self, *, fp32, int8) -> None:
        self.fp32, self.int8, self.subgraphs = fp32, int8, fp32.subgraphs
        self.pairs: list[tuple[float, float]] = []
        self._f8 = self._template = None

    def run(self, name: str, feeds):
        out = self.fp32.run(name, feeds)
        if name == "backbone_low":
            self._f8 = self.int8.run(name, _as_int8_takes_them(self.int8, name, feeds))["f8"]
        elif name == "template_build":
            self._template = self.int8.run(name, {**feeds, "f8": self._f8})["template"]
        elif name == "match_gate":
            shadow = self.int8.run(name, {**feeds, "f8": self._f8, "template": self._template})
            self.pairs.append((_p(out), _p(shadow)))
        return out


def _p(out) -> float:
    return float(out["p_gate"].reshape(-1)[0])


def teacher_forced(pairs, config) -> dict:
    """Share of gate calls where both P_gate (read through ``config``) fall on the same side of tau,
    and their mean absolute difference."""
    if not pairs:
        return {"gate_agreement": 1.0, "mean_abs_dp": 0.0, "gates": 0}
    p = [(config.gate_probability(a), config.gate_probability(b)) for a, b in pairs]
    same = sum((a > config.tau) == (b > config.tau) for a, b in p)
    return {"gate_agreement": same / len(p), "mean_abs_dp": sum(abs(a - b) for a, b in p) / len(p), "gates": len(p)}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--davis", type=Path, required=True)
    p.add_argument("--fp32", type=Path, required=True, help="fp32 bundle")
    p.add_argument("--int8", type=Path, required=True, help="int8 bundle of the same target, model and size")
    p.add_argument("--res", default="288p")
    p.add_argument("--split", default="train-holdout")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    return p.parse_args(argv)


def main(argv=None) -> int:
    from reusevos_edge.data.davis import DavisDataset
    from reusevos_edge.errors import InputError
    from reusevos_edge.runtime.bundle import load_bundle_runner
    from reusevos_edge.tracker.config import bundle_tracker_config

    args = parse_args(argv)
    fp32, int8 = (load_bundle_runner(path, num_threads=args.threads) for path in (args.fp32, args.int8))
    for key in ("target", "frame_size"):
        if fp32.manifest[key] != int8.manifest[key]:
            raise InputError(f"--fp32 and --int8 differ in {key}: {fp32.manifest[key]} vs {int8.manifest[key]}")
    sequences = DavisDataset(root=args.davis, res=args.res).sequences(args.split)
    config = bundle_tracker_config(fp32.manifest, where=str(args.fp32))
    reference = track_sequences(fp32, config, sequences)
    rows = [{"int8": [], "jf": reference["jf"], "reuse_rate": reference["reuse_rate"], "gate_agreement": 1.0}]
    print(f"all fp32: J&F {reference['jf']:.1f}, reuse {reference['reuse_rate']:.3f}", flush=True)
    for label, names in ROWS.items():
        run = track_sequences(MixedRunner(fp32=fp32, int8=int8, names=names), config, sequences)
        rows.append({"label": label, "int8": list(names), "jf": run["jf"], "reuse_rate": run["reuse_rate"],
                     "gate_agreement": agreement(run["decisions"], reference["decisions"])})
        print(f"{label}: J&F {run['jf']:.1f}, reuse {run['reuse_rate']:.3f}, agreement {rows[-1]['gate_agreement']:.3f}",
              flush=True)
    shadow = ShadowGate(fp32=fp32, int8=int8)
    track_sequences(shadow, config, sequences)
    forced = teacher_forced(shadow.pairs, config)
    rows.append({"label": "int8 gate on the fp32 run's state (teacher-forced)", "int8": list(GATE_PATH + ("backbone_low",)),
                 "jf": reference["jf"], "reuse_rate": reference["reuse_rate"], **forced})
    print(f"teacher-forced: agreement {forced['gate_agreement']:.3f} over {forced['gates']} gate calls, "
          f"mean |dP| {forced['mean_abs_dp']:.4f}", flush=True)
    rows[0]["label"] = "all fp32"
    result = {"fp32": str(args.fp32), "int8": str(args.int8), "target": fp32.manifest["target"],
              "split": args.split, "res": args.res, "sequences": [s.name for s in sequences],
              "tracker": config.to_json(), "rows": rows}
    result["method"] = (int8.manifest.get("quantization") or {}).get("method")
    lines = [f"# Which int8 subgraphs move the reuse decisions ({result['target']} {result['method']}, {args.split}, "
             f"{args.res})", "",
             f"fp32 `{args.fp32}`, int8 `{args.int8}`; sequences: {', '.join(result['sequences'])}.", "",
             "| int8 subgraphs | J&F | reuse | gate agreement vs all fp32 |", "|---|---:|---:|---:|"]
    lines += [f"| {r['label']} | {r['jf']:.1f} | {r['reuse_rate']:.3f} | {r['gate_agreement']:.3f} |" for r in rows]
    lines += ["", f"Teacher-forced row: agreement over {forced['gates']} gate calls (P_gate > tau, before the keyframe "
              f"bound), mean |P_gate fp32 - int8| {forced['mean_abs_dp']:.4f}; its J&F and reuse are the fp32 run's."]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"int8_gate_sources_{result['target']}_{result['method']}_{args.split}"
    write_json(stem.with_suffix(".json"), result)
    write_text(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    print(f"wrote {stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
