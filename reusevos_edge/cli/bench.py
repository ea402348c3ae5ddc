"""``reusevos-bench``: bundles side by side on one device: latency, FPS, reuse, memory, energy proxies.

    reusevos-bench --bundle DIR [--bundle DIR ...] [--device host|android[:SERIAL]|ios[:UDID]]
                   [--clip DAVIS_SEQ_OR_VIDEO [--davis ROOT | --mask FIRST.png]] [--frames N]
                   [--tau T|own ...] [--threads N] [--cooldown S] [--warmup N] [--out DIR]
    reusevos-bench --bundle DIR --calibrate-tau (--reuse-target R | --latency-budget-ms X)
                   --calibration DAVIS_ROOT [--taus 0.4,0.5,...] [--keyframe-bounds 1,2]

Each bundle (any target, any precision), and on the host PyTorch eager as the reference row, runs
the protocol of ``reusevos_edge.bench.protocol`` on the clip (default: the generated demo clip at
the bundles' frame size; ``--clip blackswan --davis ROOT`` a DAVIS 480p sequence; ``--clip VIDEO
--mask PNG`` your own). On the host every bundle runs in a fresh process. Writes into DIR:
``bench.json`` (schema ``reusevos-bench/1``), ``bench.md`` (the table), ``latency.png`` and
``summary.png`` (matplotlib, the ``plot`` extra; ``--no-plots`` skips them) and ``raw/`` (what each
run measured). DIR is written as a hidden sibling and renamed when complete.

``--calibrate-tau`` instead sweeps tau and the keyframe bound over DAVIS training sequences
(``--calibration-split``, default train-holdout, 288p) with the bundle on this host's runtime, picks
the setting that meets the reuse target or the latency budget with the best J&F, writes it into the
bundle's manifest (``tracker`` section plus a ``tracker_calibration`` record; checksums renewed) and
prints the sweep. Every tool that runs the bundle then uses that tau by default.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence as SequenceOf

from ..errors import InputError
from ..fileio import prepare_output_dir, removed_on_failure, staged_dir, write_json, write_text
from ..targets import TARGETS, get_target
from .common import run_cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reusevos-bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", type=Path, action="append", default=[], help="an exported bundle; repeatable")
    p.add_argument("--device", default="host", help="host (default), android[:SERIAL] or ios[:UDID]")
    p.add_argument("--clip", default=None, help="DAVIS sequence name (with --davis), video or frame folder "
                   "(with --mask), or 'synthetic' (default: the generated demo clip)")
    p.add_argument("--davis", type=Path, default=None, help="DAVIS root for --clip SEQUENCE (480p frames)")
    p.add_argument("--mask", type=Path, default=None, help="first-frame palette PNG for --clip VIDEO")
    p.add_argument("--frames", type=int, default=None, help="at most this many frames (synthetic default 48)")
    p.add_argument("--tau", action="append", default=None, metavar="T|own",
                   help="tau for every row (default: each bundle's own); repeat for one row per value, e.g. "
                        "--tau 1 --tau own: the report then sets each row's speed-up next to its analytic bound")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per runtime (default 1)")
    p.add_argument("--cooldown", type=float, default=2.0, help="seconds of rest before each row (default 2)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up frames per row (default 3)")
    p.add_argument("--no-eager", action="store_true", help="leave out the PyTorch eager reference row")
    p.add_argument("--native", type=Path, default=None, metavar="PATH",
                   help="also run each ExecuTorch bundle through the native tracker core: the reusevos-native-bench "
                   "binary or the native build folder (host only; see native/README.md)")
    p.add_argument("--no-plots", action="store_true", help="skip latency.png and summary.png")
    p.add_argument("--op-profile", action="store_true",
                   help="also time every operator inside each ExecuTorch bundle's per-frame programs (XNNPACK's "
                   "own events from an ETDump; host only): op_profile.json and op_profile.md")
    p.add_argument("--apk", type=Path, default=None, help="android: install this demo-app APK first")
    p.add_argument("--app", type=Path, default=None, help="ios: install this demo .app first")
    p.add_argument("--out", type=Path, default=None, help="output folder (default reusevos-bench-<UTC time>)")
    p.add_argument("--no-progress", action="store_true")
    cal = p.add_argument_group("tau calibrated to the device")
    cal.add_argument("--calibrate-tau", action="store_true", help="sweep tau / keyframe bound and write the choice "
                     "into the bundle's manifest")
    cal.add_argument("--reuse-target", type=float, default=None, help="reach this reuse rate (0-1)")
    cal.add_argument("--latency-budget-ms", type=float, default=None, help="stay within this mean ms/frame")
    cal.add_argument("--calibration", type=Path, default=None, help="DAVIS root with the training sequences")
    cal.add_argument("--calibration-split", default="train-holdout", help="its sequences (default train-holdout)")
    cal.add_argument("--calibration-res", default="288p", help="their resolution folder (default 288p)")
    cal.add_argument("--taus", default=None, help="comma-separated taus to sweep (default 0.4,...,0.9,1)")
    cal.add_argument("--keyframe-bounds", default=None, help="comma-separated keyframe bounds, -1 = none "
                     "(default 1,2)")
    return p


def _taus(values: list[str] | None) -> list[float | None]:
    """--tau values: floats in [0, 1] or "own" (None: the row's own tau)."""
    taus = []
    for value in values or ["own"]:
        try:
            tau = None if value == "own" else float(value)
        except ValueError:
            tau = -1.0
        if tau is not None and not 0.0 <= tau <= 1.0:
            raise InputError(f"--tau {value}: expected a probability in [0, 1] or 'own'")
        taus.append(tau)
    return list(dict.fromkeys(taus))


def _check_numbers(args: argparse.Namespace) -> None:
    args.tau_rows = _taus(args.tau)
    if args.threads < 1:
        raise InputError(f"--threads {args.threads}: expected at least 1")
    if args.cooldown < 0 or args.warmup < 0:
        raise InputError(f"--cooldown {args.cooldown} / --warmup {args.warmup}: expected numbers >= 0")


def _bundles(paths: list[Path]) -> list[dict]:
    """Each bundle's verified manifest (checksums included), in order; all must share one frame size."""
    from ..runtime.bundle_format import read_manifest

    manifests = [read_manifest(p) for p in paths]
    sizes = {tuple(m["frame_size"]) for m in manifests}
    if len(sizes) > 1:
        raise InputError(f"--bundle: the bundles have different frame sizes {sorted(sizes)}; one run tracks one "
                         "clip at one size: benchmark them in separate runs")
    return manifests


def _plans(args: argparse.Namespace, manifests: list[dict], device) -> tuple[list, dict]:
    from ..bench.clips import clip_spec
    from ..bench.protocol import EAGER, BenchPlan
    from ..model.registry import DEFAULT_MODEL, DEFAULT_SIZE

    size = tuple(manifests[0]["frame_size"]) if manifests else DEFAULT_SIZE
    variant = (manifests[0].get("model") or {}).get("variant") if manifests else DEFAULT_MODEL
    spec = clip_spec(clip=args.clip, davis=args.davis, mask=args.mask, frames=args.frames, size=size)
    common = dict(clip=spec, size=size, threads=args.threads, warmup_frames=args.warmup, cooldown_s=args.cooldown)
    rows = []  # (name, plan arguments, precision per subgraph)
    if device.runs_eager and not args.no_eager:  # the first bundle's options, and its weights when they are float
        model = (manifests[0].get("model") or {}) if manifests else {}
        float_weights = bool(manifests) and manifests[0].get("precision") == "fp32"
        checkpoint = model.get("checkpoint") if float_weights and model.get("checkpoint") else None
        checkpoint = checkpoint if checkpoint and Path(checkpoint).is_file() else None
        rows.append((EAGER, dict(model=variant or DEFAULT_MODEL, checkpoint=checkpoint,
                                 tracker=manifests[0].get("tracker") if manifests else None), {}))
    native = _native_runner(args, manifests, device)
    for path, manifest in zip(args.bundle, manifests):
        precision = dict(manifest.get("subgraph_precision") or {})
        rows.append((path.resolve().name, dict(bundle=str(path.resolve())), precision))
        if native is not None and get_target(manifest["target"]).native_core:
            rows.append((f"{path.resolve().name}@native", dict(bundle=str(path.resolve()), native=native), precision))
    plans, precisions = [], {}
    for (name, kwargs, precision), tau in itertools.product(rows, args.tau_rows):
        name = name if len(args.tau_rows) == 1 else f"{name}@tau={'own' if tau is None else f'{tau:g}'}"
        name = name if name not in precisions else f"{name}-{len(plans)}"
        plans.append(BenchPlan(name=name, tau=tau, **kwargs, **common))
        precisions[name] = precision
    if not plans:
        raise InputError("nothing to benchmark: pass --bundle DIR (a phone cannot run the PyTorch eager row)")
    return plans, precisions


def _native_runner(args: argparse.Namespace, manifests: list[dict], device) -> str | None:
    """The checked ``--native`` runner path, or None without the flag."""
    if args.native is None:
        return None
    from ..bench.native import find_runner

    if device.kind != "host":
        raise InputError(f"--native runs on --device host only (on {device.kind} the demo app runs the native core)")
    if not any(get_target(m["target"]).native_core for m in manifests):
        names = sorted(t.name for t in TARGETS.values() if t.native_core)
        raise InputError(f"--native: the native tracker core runs {names} bundles; pass one as --bundle")
    return str(find_runner(args.native))


def _tables(manifests: list[dict], size: tuple[int, int]):
    """MAC and weight tables of the first bundle's variant (the default model without bundles) at ``size``."""
    from ..bench.assemble import Tables
    from ..model.registry import DEFAULT_MODEL, build_model
    from ..model.subgraphs import build_subgraphs

    variant = ((manifests[0].get("model") or {}).get("variant") if manifests else None) or DEFAULT_MODEL
    model = build_model(variant, use_default_checkpoint=False, pretrained=False)  # MACs and sizes only
    return Tables.of(build_subgraphs(model, height=size[0], width=size[1]))


def _numbers(text: str | None, default, *, flag: str, kind=float) -> tuple:
    if text is None:
        return tuple(default)
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InputError(f"{flag} {text}: expected comma-separated numbers") from None


def calibrate(args: argparse.Namespace) -> int:
    """--calibrate-tau: checks, the sweep, the choice written into the bundle (see the module doc)."""
    from ..bench.calibrate import DEFAULT_KEYFRAME_BOUNDS, DEFAULT_TAUS, Target, choose, sweep, table, write_choice
    from ..data.davis import DavisDataset
    from ..runtime.bundle import load_bundle_runner
    from ..tracker.config import bundle_tracker_config
    from ..tracker.frames import set_host_threads

    target = Target(reuse=args.reuse_target, latency_ms=args.latency_budget_ms)
    if len(args.bundle) != 1 or args.device != "host":
        raise InputError("--calibrate-tau takes exactly one --bundle and runs on --device host (the demo apps "
                         "have no calibration mode: a phone's sweep would have to run in its app)")
    if args.calibration is None:
        raise InputError("--calibrate-tau needs --calibration DAVIS_ROOT (its training sequences are swept)")
    taus = _numbers(args.taus, DEFAULT_TAUS, flag="--taus")
    bounds = _numbers(args.keyframe_bounds, DEFAULT_KEYFRAME_BOUNDS, flag="--keyframe-bounds", kind=int)
    if not taus or any(not 0.0 <= t <= 1.0 for t in taus):
        raise InputError(f"--taus {args.taus}: expected taus in [0, 1]")
    bounds = tuple(None if b == -1 else b for b in bounds)
    if any(b is not None and b < 0 for b in bounds):
        raise InputError(f"--keyframe-bounds {args.keyframe_bounds}: expected integers >= 0, or -1 for none")
    sequences = DavisDataset(root=args.calibration, res=args.calibration_res).sequences(args.calibration_split)
    manifest = _bundles(args.bundle)[0]
    set_host_threads(args.threads)
    runner = load_bundle_runner(args.bundle[0], num_threads=args.threads)
    base = bundle_tracker_config(manifest, where=f"bundle {args.bundle[0]}")
    rows = sweep(runner, base, sequences, taus=taus, keyframe_bounds=bounds, progress=not args.no_progress)
    choice = choose(rows, target)
    write_choice(args.bundle[0], manifest, base, choice, target=target, rows=rows, sequences=[s.name for s in sequences],
                 device=f"host, {args.threads} thread(s)")
    print(table(rows, choice))
    print(f"chose tau {choice.tau:g}, keyframe bound {choice.keyframe_bound} for {target.describe()}: J&F "
          f"{choice.jf:.1f}, reuse {choice.reuse_rate:.3f}, {choice.ms_per_frame:.1f} ms/frame on "
          f"{args.calibration_split}; written into {args.bundle[0]}/manifest.json")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..bench.devices import open_device
    from ..bench.report import markdown
    from ..bench.run import run_bench

    _check_numbers(args)
    if args.calibrate_tau:
        return calibrate(args)
    device = open_device(args.device, apk=args.apk, app=args.app)
    manifests = _bundles(args.bundle)
    plans, precisions = _plans(args, manifests, device)
    profiled = _op_profiled(args, manifests, device)
    if not args.no_plots:
        from ..metrics.plot import pyplot

        pyplot()  # a missing plot extra fails now, not after the run
    out = args.out or Path(f"reusevos-bench-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    created = prepare_output_dir(out)
    with removed_on_failure(created), staged_dir(out) as temp:
        raw = temp / "raw"
        raw.mkdir()
        clip = {"name": plans[0].clip.sequence or Path(plans[0].clip.path or "synthetic").name,
                **plans[0].clip.to_json()}
        result, warnings = run_bench(device, plans, workdir=raw, tables=_tables(manifests, plans[0].size), precisions=precisions,
                                     clip=clip, progress=not args.no_progress)
        for frames in ("clip", "native_clip"):  # the clip's frames for a phone / the native runner: large, re-creatable
            shutil.rmtree(raw / frames, ignore_errors=True)
        write_json(temp / "bench.json", result.to_json())
        table = markdown(result)
        write_text(temp / "bench.md", table)
        if not args.no_plots:
            from ..bench.plots import plot_run

            plot_run(result, temp)
        if profiled:
            table += "\n" + _op_profiles(args, profiled, temp)
    print(table)
    for warning in warnings:
        print(warning, file=sys.stderr)
    print(f"wrote {out}/bench.json, bench.md" + ("" if args.no_plots else ", latency.png, summary.png")
          + (", op_profile.json, op_profile.md" if profiled else ""))
    return 0


def _op_profiled(args: argparse.Namespace, manifests: list[dict], device) -> list[tuple[Path, dict]]:
    """The (bundle, manifest) pairs ``--op-profile`` covers: the ExecuTorch ones, on this host."""
    if not args.op_profile:
        return []
    if device.kind != "host":
        raise InputError(f"--op-profile runs on this host only, not on --device {args.device}")
    chosen = [(path, m) for path, m in zip(args.bundle, manifests) if get_target(m["target"]).op_profile]
    if not chosen:
        raise InputError("--op-profile: no ExecuTorch bundle among the --bundle folders (it reads ExecuTorch's "
                         "per-operator events)")
    return chosen


def _op_profiles(args: argparse.Namespace, profiled: list[tuple[Path, dict]], folder: Path) -> str:
    """Profile each ExecuTorch bundle's per-frame programs; write op_profile.json/.md; return the tables."""
    from ..bench.op_profile import markdown

    runs, tables, payload = 8, [], []
    for path, manifest in profiled:
        profile = get_target(manifest["target"]).load_op_profiler()
        profiles = profile(path, manifest=manifest, runs=runs, threads=args.threads)
        tables.append(markdown(path.name, profiles, threads=args.threads, runs=runs))
        payload.append({"bundle": str(path), "threads": args.threads, "runs": runs,
                        "programs": [p.to_json() for p in profiles]})
    text = "# Operators inside the ExecuTorch programs\n\n" + "\n".join(tables)
    write_json(folder / "op_profile.json", payload)
    write_text(folder / "op_profile.md", text)
    return text


def main(argv: SequenceOf[str] | None = None) -> int:
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
