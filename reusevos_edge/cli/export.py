"""``reusevos-export``: export the model to on-device bundles, check parity, print one table.

    reusevos-export --target {executorch,tflite,coreml,onnx,all} [--model lite0|r18|tiny]
                    [--checkpoint PATH] [--size HxW] [--precision fp32|fp16|int8] [--out DIR] [--json PATH]
                    [--davis ROOT] [--calibrate DAVIS_ROOT] [--verbose]

Every bundle is run through the tracker next to PyTorch eager where its runtime exists on this
machine (Core ML is checked statically off Apple platforms), on DAVIS ``blackswan`` (480p) when
``--davis`` names a DAVIS tree, else on a synthetic clip. The bundle stores the tracker options it
runs with: the ones the weights were tuned with, or the ones given here. What the export toolchains
print goes to ``OUT/export.log`` (``--verbose`` shows it). Every option and output path is checked
before any work; bad options -> ``error: ...`` and exit status 2; a failed export or parity -> 1.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, MissingExtraError
from ..fileio import prepare_output_dir, prepare_output_file, removed_on_failure, write_json
from ..targets import TARGETS
from .capture import output_to
from .common import Terminated, add_runner_args, check_model_args, run_cli, tracker_config

LOG_NAME = "export.log"
CALIBRATION_RES, CALIBRATION_SPLIT = "288p", "train"


@dataclass
class Row:
    """One line of the final table."""

    target: str
    status: str  # ✅ exported and validated, ❎ exported but failed validation, ❌ export failed
    size_mb: float | None = None
    parity: str = ""
    ms_per_frame: float | None = None
    seconds: float | None = None
    path: str | None = None
    detail: dict | None = None

    def cells(self) -> list[str]:
        fps = f"{1e3 / self.ms_per_frame:.1f}" if self.ms_per_frame else "-"
        return [self.target, self.status, f"{self.size_mb:.2f}" if self.size_mb is not None else "-",
                self.parity or "-", f"{self.ms_per_frame:.1f}" if self.ms_per_frame else "-", fps,
                f"{self.seconds:.0f}" if self.seconds is not None else "-"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reusevos-export", description=__doc__.split("\n\n")[0])
    p.add_argument("--target", required=True, choices=[*TARGETS, "all"])
    p.add_argument("--precision", default="fp32", help="fp32, fp16 (coreml) or int8 (the bundled or --checkpoint QAT model, or --calibrate)")
    p.add_argument("--calibrate", type=Path, default=None,
                   help="int8: DAVIS root whose train split (288p) calibrates the activation ranges (PTQ)")
    p.add_argument("--out", type=Path, default=Path("out"), help="folder that receives the bundles (created)")
    p.add_argument("--json", type=Path, default=None, help="also write the results table as JSON here")
    p.add_argument("--coreml-layout", default=None, choices=TARGETS["coreml"].layouts,
                   help="one multifunction package (iOS 18) or one package per subgraph (iOS 17)")
    p.add_argument("--davis", type=Path, default=None,
                   help="DAVIS 2016 root: parity runs on its 480p blackswan (default: a synthetic clip)")
    p.add_argument("--frames", type=int, default=20, help="frames of the parity clip")
    p.add_argument("--verbose", action="store_true", help=f"show the toolchains' own output (default: OUT/{LOG_NAME})")
    add_runner_args(p, bundle=False)
    return p


def run(args: argparse.Namespace) -> int:
    """Check every option and output path first, then build the model once and export each target."""
    options = _validated(args)
    created = prepare_output_dir(args.out, allow_existing=True)
    created += prepare_output_file(args.json, flag="--json") if args.json else []
    if not args.out.exists():
        created.append(args.out)
    log = None if args.verbose else args.out / LOG_NAME
    with removed_on_failure(created):
        try:
            args.out.mkdir(exist_ok=True)
            if log is not None:
                log.write_text("")
            session = _Session(options[0], args, log)
            rows = [session.export(opt, single=len(options) == 1) for opt in options]
        except (KeyboardInterrupt, Terminated):
            if log is not None and args.out in created:
                log.unlink(missing_ok=True)  # an interrupted first run leaves no folder behind
            raise
    print(format_table(rows))
    if log is not None:
        print(f"the export toolchains' own output: {log}")
    if args.json:
        write_json(args.json, [vars(r) for r in rows])
    print_next(rows)
    return 0 if all(r.status == "✅" for r in rows) else 1


def _validated(args: argparse.Namespace) -> list:
    from ..converters.targets import validate_options
    from ..model.registry import DEFAULT_MODEL, DEFAULT_SIZE, parse_size

    check_model_args(args)
    height, width = parse_size(args.size) if args.size else DEFAULT_SIZE
    names = list(TARGETS) if args.target == "all" else [args.target]
    if args.target == "all" and args.precision != "fp32":
        names = [n for n in names if args.precision in {p.value for p in TARGETS[n].precisions}]
    model = args.model or DEFAULT_MODEL
    checkpoint = _int8_source(args, model)
    if args.precision == "int8" and args.calibrate is None:
        names = _qat_lowerable(names, checkpoint, single=args.target != "all")
    options = [validate_options(target=n, model=model, height=height, width=width, precision=args.precision,
                                checkpoint=checkpoint, out_dir=args.out, layout=args.coreml_layout) for n in names]
    if args.frames < 2:
        raise InputError(f"--frames {args.frames}: parity needs at least 2 frames")
    if args.davis is not None and not (args.davis / "JPEGImages" / "480p" / "blackswan").is_dir():
        raise InputError(f"--davis {args.davis}: no JPEGImages/480p/blackswan in it (expected a DAVIS 2016 tree)")
    return options


def _qat_lowerable(names: list[str], checkpoint: Path, *, single: bool) -> list[str]:
    """The targets that can export a QAT checkpoint: those that lower its programs, and those whose own
    recipe takes its parameters (the checkpoint records the few tensors its recipe leaves float:
    ``quant.transfer``). One target that cannot is an error; ``--target all`` leaves it out with a note."""
    from ..model.checkpoint import read_checkpoint_info

    recorded = read_checkpoint_info(checkpoint).get("quantization", {}).get("recorded_qparams", {})
    refused = [n for n in names if not TARGETS[n].lowers_qat and n not in recorded]
    for name in refused:
        why = (f"--target {name} --precision int8 cannot export the QAT checkpoint {checkpoint.name}: it records no "
               f"parameters for the tensors {name}'s int8 recipe quantizes and its own leaves float (reusevos-train "
               f"--qat records them when the {TARGETS[name].extra!r} extra is installed); pass --calibrate DAVIS_ROOT "
               f"to quantize with {name}'s own recipe")
        if single:
            raise InputError(why)
        print(f"{name}: skipped: {why}", file=sys.stderr)
    return [n for n in names if n not in refused]


def _int8_source(args: argparse.Namespace, model: str) -> Path | None:
    """Where the int8 quantization comes from, checked before any work; returns the checkpoint to export.

    fp32/fp16: no calibration, and a QAT checkpoint is refused. int8: a QAT checkpoint (``--checkpoint``,
    else the variant's bundled int8 one) carries its quantization parameters; ``--calibrate DAVIS_ROOT``
    calibrates instead (post-training quantization, the baseline), of the float or QAT weights.
    """
    from ..data.davis import DavisDataset
    from ..model.checkpoint import is_quantized
    from ..model.registry import default_checkpoint

    if args.precision != "int8":
        if args.calibrate is not None:
            raise InputError(f"--calibrate {args.calibrate}: only --precision int8 is calibrated")
        if args.checkpoint is not None and is_quantized(args.checkpoint):
            raise InputError(f"--checkpoint {args.checkpoint} is an int8 QAT checkpoint: export it with --precision "
                             f"int8, or pass the float checkpoint it was trained from for --precision {args.precision}")
        return args.checkpoint
    if args.calibrate is None:
        checkpoint = args.checkpoint or default_checkpoint(model, precision="int8")
        if checkpoint is None or not is_quantized(checkpoint):
            what = f"--checkpoint {args.checkpoint} holds" if args.checkpoint else f"--model {model} ships"
            raise InputError(f"--precision int8: {what} no int8 quantization parameters; pass --calibrate DAVIS_ROOT "
                             "(its 288p train split calibrates the activation ranges) or a QAT checkpoint "
                             "(reusevos-train --qat)")
        return checkpoint
    dataset = DavisDataset(root=args.calibrate, res=CALIBRATION_RES)
    names = dataset.split_names(CALIBRATION_SPLIT)
    if not names:
        raise InputError(f"--calibrate {args.calibrate}: its {CALIBRATION_RES} {CALIBRATION_SPLIT} split holds no frames")
    dataset.sequences(names=names[:1])  # listed, with frames (InputError naming the folder otherwise)
    return args.checkpoint


class _Session:
    """The model, its subgraphs, the eager reference and the parity clip, shared by all targets."""

    def __init__(self, options, args, log: Path | None) -> None:
        from ..model.checkpoint import load_checkpoint, read_checkpoint_info
        from ..model.registry import build_model
        from ..model.subgraphs import build_subgraphs
        from ..runtime.torch_runner import TorchRunner
        from ..tracker.config import tracker_defaults

        self.model = build_model(options.model, use_default_checkpoint=options.checkpoint is None)
        quant = load_checkpoint(self.model, options.checkpoint, quantized=True) if options.checkpoint else {}
        qat = options.checkpoint is not None and options.precision.value == "int8" and args.calibrate is None
        self.qat_state = quant if qat else {}
        self.qat_info = read_checkpoint_info(options.checkpoint).get("quantization", {}) if qat else {}
        self.subgraphs = build_subgraphs(self.model, height=options.height, width=options.width)
        self.config = tracker_config(args, tracker_defaults(self.model, checkpoint=options.checkpoint))
        self.reference = TorchRunner(model=self.model, height=options.height, width=options.width,
                                     threads=args.threads)
        self.args, self.log, self._clip, self._feeds, self._qat, self._qat_source = args, log, None, None, None, None
        self.options = options

    def clip(self, options):
        from ..data.clip import parity_clip

        if self._clip is None:
            self._clip = parity_clip(height=options.height, width=options.width, num_frames=self.args.frames,
                                     davis_root=self.args.davis)
        return self._clip

    def calibration_feeds(self) -> dict:
        """Feeds every subgraph saw while the float model tracked the calibration clips (computed once)."""
        from ..quant.calibration import collect_feeds, davis_calibration_clips

        if self._feeds is None:
            clips = davis_calibration_clips(self.args.calibrate, height=self.options.height, width=self.options.width,
                                            res=CALIBRATION_RES, split=CALIBRATION_SPLIT)
            self._feeds = collect_feeds(self.reference, clips, self.config)
        return self._feeds

    def programs(self, options) -> tuple[list, dict | None]:
        """The subgraphs to export for ``options`` (int8: PT2E-quantized), and the quantization record."""
        if options.precision.value != "int8":
            return self.subgraphs, None
        if self.qat_state:
            return self.qat_programs(options.target)
        from ..quant.ptq import quantize_subgraphs

        feeds = self.calibration_feeds()
        quantized = quantize_subgraphs(self.subgraphs, feeds, target=options.target.name)
        record = {"method": "ptq", "quantizer": options.target.name,
                  "calibration": {"davis": str(self.args.calibrate), "res": CALIBRATION_RES, "split": CALIBRATION_SPLIT,
                                  "calls": {name: len(f) for name, f in feeds.items()}}}
        return quantized, record

    def qat_programs(self, target) -> tuple[list, dict]:
        """The QAT checkpoint's int8 programs for ``target``, and their quantization record.

        The checkpoint's own recipe (its stored scales, converted once) serves every target that lowers
        it (``Target.lowers_qat``): ExecuTorch runs it as is, ONNX moves its activations to uint8 exactly,
        Core ML converts it. Any other target gets its own recipe with the same parameters
        (``quant.transfer``).
        """
        from ..quant.programs import QuantizedPrograms
        from ..quant.transfer import transfer

        recipe = self.qat_info.get("recipe", "executorch")
        record = {"method": "qat", "recipe": recipe, "checkpoint": self.options.checkpoint.name}
        if self._qat is None:
            self._qat_source = QuantizedPrograms.prepare(self.subgraphs, target=recipe, qat=True)
            self._qat_source.load_state_dict(self.qat_state, source=f"checkpoint {self.options.checkpoint}")
            self._qat = self._qat_source.convert()
        if target.lowers_qat:
            return self._qat, record
        own = QuantizedPrograms.prepare(self.subgraphs, target=target.name)
        recorded = self.qat_info.get("recorded_qparams", {}).get(target.name, {})
        report = transfer(self._qat_source, own, recorded=recorded)
        return own.convert(), {**record, "transferred_to": target.name, "transfer": report.to_json()}

    def export(self, options, *, single: bool) -> Row:
        from ..converters.bundle import export_bundle

        print(f"{options.target.name}: exporting {options.bundle_name} ...", flush=True)
        try:
            with output_to(self.log), warnings.catch_warnings():
                warnings.simplefilter("ignore", (FutureWarning, DeprecationWarning))
                subgraphs, quantization = self.programs(options)
                bundle = export_bundle(options, model=self.model, subgraphs=subgraphs, tracker_config=self.config,
                                       quantization=quantization)
        except (InputError, MissingExtraError) as exc:
            if single:
                raise
            print(f"{options.target.name}: not exported: {exc}", file=sys.stderr)
            return Row(options.target.name, "❌", parity=f"missing extra '{options.target.extra}'")
        except Exception as exc:  # an exporter failure is reported in the table, not hidden
            if single:
                where = f" (the toolchain's output is in {self.log})" if self.log is not None else ""
                raise InputError(f"export to {options.target.name} failed: {exc}{where}") from exc
            print(f"{options.target.name}: export failed: {exc}", file=sys.stderr)
            return Row(options.target.name, "❌", parity=f"export failed: {str(exc).splitlines()[0][:80]}")
        print(f"{options.target.name}: exported in {bundle.seconds:.0f} s -> {bundle.path} ({bundle.size_mb:.2f} MB)",
              flush=True)
        try:
            return self.validate(options, bundle, subgraphs)
        except (InputError, MissingExtraError, RuntimeError) as exc:  # one target's runtime must not end the run
            if single:
                raise
            print(f"{options.target.name}: written but could not be run: {exc}", file=sys.stderr)
            return Row(options.target.name, "❎", bundle.size_mb, parity=f"not run: {str(exc).splitlines()[0][:80]}",
                       seconds=bundle.seconds, path=str(bundle.path))

    def validate(self, options, bundle, subgraphs) -> Row:
        from ..converters.parity import INT8_FLOORS, measure_parity
        from ..runtime.bundle import load_bundle_runner
        from ..runtime.torch_runner import TorchRunner

        row = Row(options.target.name, "✅", bundle.size_mb, seconds=bundle.seconds, path=str(bundle.path))
        if not options.target.runnable_here:
            row.parity = "static check only (Core ML runs on Apple platforms)"
            return row
        with output_to(self.log):
            runner = load_bundle_runner(bundle.path, num_threads=self.args.threads)
            if subgraphs is self.subgraphs:
                report = measure_parity(runner, self.reference, self.clip(options), self.config)
                versus_fp32 = None
            else:  # int8: against the fake-quantized PyTorch programs, and reported beside fp32 eager
                reference = TorchRunner(model=self.model, height=options.height, width=options.width,
                                        threads=self.args.threads, subgraphs=subgraphs)
                report = measure_parity(runner, reference, self.clip(options), self.config, floors=INT8_FLOORS)
                versus_fp32 = measure_parity(runner, self.reference, self.clip(options), self.config,
                                             floors=INT8_FLOORS)
        row.parity = f"IoU {report.mean_iou:.4f}, gate {report.gate_agreement:.3f}"
        if versus_fp32 is not None:
            row.parity += f" (vs fp32: IoU {versus_fp32.mean_iou:.4f}, gate {versus_fp32.gate_agreement:.3f})"
        row.ms_per_frame, row.detail = report.ms_per_frame, report.to_json()
        if versus_fp32 is not None:
            row.detail["versus_fp32"] = versus_fp32.to_json()
        if not report.passed:
            row.status = "❎"
            print(f"{options.target.name}: parity failed: {report.summary()}", file=sys.stderr)
        return row


def format_table(rows: list[Row]) -> str:
    """Markdown table: target | status | size MB | parity | ms/frame | FPS | export s."""
    header = ["target", "status", "size MB", "parity (mean mask IoU vs PyTorch, gate agreement)", "ms/frame", "FPS",
              "export s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def print_next(rows: list[Row]) -> None:
    """The next commands to run with the first validated, runnable bundle."""
    good = next((r for r in rows if r.status == "✅" and r.ms_per_frame), None)
    if good is not None:
        name = Path(good.path).name
        print(f"\nnext: reusevos-track --demo --bundle {good.path} --out runs/demo_{name}")
        print(f"      reusevos-bench --bundle {good.path} --out runs/bench_{name}")


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
