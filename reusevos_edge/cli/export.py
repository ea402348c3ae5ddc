"""``reusevos-export``: export the model to on-device bundles, check parity, print one table.

    reusevos-export --target {executorch,tflite,coreml,onnx,all} [--model lite0|r18|tiny]
                    [--checkpoint PATH] [--size HxW] [--precision fp32|fp16] [--out DIR] [--json PATH]

Every bundle is run through the tracker next to PyTorch eager on a real clip (DAVIS when present)
where its runtime exists on this machine; Core ML is checked statically off Apple platforms.
Bad options -> ``error: ...`` on stderr and exit status 2; a failed export or parity -> exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, MissingExtraError
from .eval import add_gate_args

log = logging.getLogger("reusevos_edge.export")


@dataclass
class Row:
    """One line of the final table."""

    target: str
    status: str  # ✅ exported and validated, ❎ exported but failed validation, ❌ export failed
    size_mb: float | None = None
    parity: str = ""
    ms_per_frame: float | None = None
    path: str | None = None
    detail: dict | None = None

    def cells(self) -> list[str]:
        fps = f"{1e3 / self.ms_per_frame:.1f}" if self.ms_per_frame else "-"
        return [self.target, self.status, f"{self.size_mb:.2f}" if self.size_mb is not None else "-",
                self.parity or "-", f"{self.ms_per_frame:.1f}" if self.ms_per_frame else "-", fps]


def build_parser() -> argparse.ArgumentParser:
    from ..converters.targets import COREML_LAYOUTS, MODEL_VARIANTS, TARGETS

    p = argparse.ArgumentParser(prog="reusevos-export", description=__doc__.split("\n\n")[0])
    p.add_argument("--target", required=True, choices=[*TARGETS, "all"])
    p.add_argument("--model", default="lite0", choices=MODEL_VARIANTS)
    p.add_argument("--checkpoint", default=None, help="checkpoint to load (strict); default: the bundled one")
    p.add_argument("--size", default=None, help="frame size HxW, multiples of 32 (default: the model's)")
    p.add_argument("--precision", default="fp32", help="fp32 or fp16 (fp16: coreml only)")
    p.add_argument("--out", default="out", help="directory that receives the bundles")
    p.add_argument("--json", default=None, help="also write the results table as JSON here")
    p.add_argument("--coreml-layout", default="multifunction", choices=COREML_LAYOUTS,
                   help="one multifunction package (iOS 18) or one package per subgraph (iOS 17)")
    add_gate_args(p)  # stored in the manifest and used for parity
    p.add_argument("--frames", type=int, default=20, help="frames of the parity clip")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for every runtime")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)  # exporters' deprecation chatter
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("reusevos_edge").setLevel(logging.INFO)
    try:
        rows = run(args)
    except (InputError, MissingExtraError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([vars(r) for r in rows], indent=2) + "\n")
    print_next(rows)
    return 0 if all(r.status == "✅" for r in rows) else 1


def run(args) -> list[Row]:
    """Validate every option first, then build the model once and export each target."""
    from ..converters.targets import TARGETS, validate_options
    from ..model.registry import DEFAULT_SIZE, parse_size

    height, width = parse_size(args.size) if args.size else DEFAULT_SIZE
    names = list(TARGETS) if args.target == "all" else [args.target]
    if args.target == "all" and args.precision != "fp32":
        names = [n for n in names if args.precision in {p.value for p in TARGETS[n].precisions}]
    options = [validate_options(target=n, model=args.model, height=height, width=width, precision=args.precision,
                                checkpoint=args.checkpoint, out_dir=args.out, coreml_layout=args.coreml_layout)
               for n in names]
    if args.frames < 2:
        raise InputError(f"--frames {args.frames}: parity needs at least 2 frames")
    session = _Session(options[0], args)
    return [session.export(opt, single=len(options) == 1) for opt in options]


class _Session:
    """The model, its subgraphs, the eager reference and the parity clip, shared by all targets."""

    def __init__(self, options, args) -> None:
        from ..model.registry import build_model
        from ..model.subgraphs import build_subgraphs
        from ..runtime.torch_runner import TorchRunner
        from .eval import tracker_config

        self.model = build_model(options.model, checkpoint=options.checkpoint)
        self.subgraphs = build_subgraphs(self.model, height=options.height, width=options.width)
        self.config = tracker_config(args)
        self.reference = TorchRunner(model=self.model, height=options.height, width=options.width,
                                     threads=args.threads)
        self.args, self._clip = args, None

    def clip(self, options):
        from ..converters.parity import load_clip

        if self._clip is None:
            self._clip = load_clip(height=options.height, width=options.width, num_frames=self.args.frames)
        return self._clip

    def export(self, options, *, single: bool) -> Row:
        from ..converters.bundle import export_bundle

        try:
            bundle = export_bundle(options, model=self.model, subgraphs=self.subgraphs, tracker_config=self.config)
        except (InputError, MissingExtraError):
            if single:
                raise
            return Row(options.target.name, "❌", parity=f"missing extra '{options.target.extra}'")
        except Exception as exc:  # an exporter failure is reported in the table, not hidden
            if single:
                raise InputError(f"export to {options.target.name} failed: {exc}") from exc
            log.error("%s: export failed: %s", options.target.name, exc)
            return Row(options.target.name, "❌", parity=f"export failed: {str(exc).splitlines()[0][:80]}")
        return self.validate(options, bundle)

    def validate(self, options, bundle) -> Row:
        from ..converters.parity import measure_parity
        from ..runtime.bundle import load_bundle_runner

        row = Row(options.target.name, "✅", bundle.size_mb, path=str(bundle.path))
        if not options.target.runnable_here:
            row.parity = "static check only (Core ML runs on Apple platforms)"
            return row
        runner = load_bundle_runner(bundle.path, num_threads=self.args.threads)
        report = measure_parity(runner, self.reference, self.clip(options), self.config)
        row.parity = f"IoU {report.mean_iou:.4f}, gate {report.gate_agreement:.3f}"
        row.ms_per_frame, row.detail = report.ms_per_frame, report.to_json()
        if not report.passed:
            row.status = "❎"
            log.error("%s: parity failed: %s", options.target.name, report.summary())
        return row


def format_table(rows: list[Row]) -> str:
    """Markdown table: target | status | size MB | parity | ms/frame | FPS."""
    header = ["target", "status", "size MB", "parity (mean mask IoU vs PyTorch, gate agreement)", "ms/frame", "FPS"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def print_next(rows: list[Row]) -> None:
    """The next commands to run with the first validated, runnable bundle."""
    good = next((r for r in rows if r.status == "✅" and r.ms_per_frame), None)
    if good is not None:
        name = Path(good.path).name
        print(f"\nnext: reusevos-track --demo --bundle {good.path} --out runs/demo_{name}")
        print(f"      python benchmarks/bench_runtimes.py --bundles {Path(good.path).parent}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
