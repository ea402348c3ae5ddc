"""ReuseVOSKit (ios_demo/ReuseVOSKit), the Swift package of the iOS demo, on Linux with Swift 6 in a Debian
trixie chroot (ios_demo/tools/swift_chroot.sh; bookworm has no Swift): `swift build` and `swift test`, the
`reusevos-track` tool, the Core ML plan the Swift runner loads against the exported packages' specs, and
`reusevos-bench --device ios` through a stand-in `xcrun devicectl` whose "app" is the package's benchmark
mode. Its Tracker runs the native core through the C API (libreusevos_c, built by the native_build fixture)
over the tiny ExecuTorch bundle, and must make the Python tracker's decisions.

Without the chroot (or root, which chroot needs) these tests skip, unless REUSEVOS_REQUIRE_SWIFT=1 (CI sets
it and installs the chroot: there a skip would hide a broken package). Nothing here runs on Apple platforms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import missing_toolchain
from test_native import python_track, write_clip

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ios_demo" / "ReuseVOSKit"
CHROOT = REPO / "ios_demo" / "tools" / "swift_chroot.sh"
SWIFT_ROOT = Path(os.environ.get("SWIFT_ROOT", "/opt/trixie"))


class Swift:
    """Runs commands in the chroot with the package, the native build, the Python environment and the
    session's temporary folders visible at their own paths."""

    def __init__(self, native_build: Path, tmp_root: Path) -> None:
        self.lib = native_build
        self.binds = sorted({str(REPO / "native"), str(native_build), str(tmp_root), sys.prefix})

    def run(self, command: str, *, timeout: float = 1200) -> subprocess.CompletedProcess:
        return subprocess.run([str(CHROOT), "run", str(PACKAGE), f"export REUSEVOS_NATIVE_LIB={self.lib}; {command}",
                               *self.binds], capture_output=True, text=True, timeout=timeout)

    @property
    def tool(self) -> Path:
        return PACKAGE / ".build" / "debug" / "reusevos-track"


@pytest.fixture(scope="module")
def swift(native_build, tmp_path_factory) -> Swift:
    """The package built (library and reusevos-track) once for this module."""
    if not (SWIFT_ROOT / ".reusevos-swift").exists() or os.geteuid() != 0:
        missing_toolchain(f"no Swift chroot at {SWIFT_ROOT} (ios_demo/tools/swift_chroot.sh install, as root)",
                          require="REUSEVOS_REQUIRE_SWIFT")
    s = Swift(native_build, tmp_path_factory.getbasetemp())
    proc = s.run("swift build -j 2 2>&1")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return s


def clip_with_jpegs(folder: Path, frames: list[np.ndarray], starts: dict) -> None:
    """The PNM clip (write_clip), plus what the app reads: jpg/NNNNN.jpg (as reusevos-bench writes them),
    mask.png (palette PNG of the first frame's ids) and frame0.rgb (OpenCV's decoding of jpg/00000.jpg)."""
    from reusevos_edge.data.masks_io import write_mask

    write_clip(folder, frames, starts)
    (folder / "jpg").mkdir()
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / "jpg" / f"{index:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    ids = np.zeros(frames[0].shape[:2], np.uint8)
    for obj_id, mask in starts[0].items():
        ids[mask] = obj_id
    write_mask(folder / "mask.png", ids)
    decoded = cv2.cvtColor(cv2.imread(str(folder / "jpg" / "00000.jpg")), cv2.COLOR_BGR2RGB)
    (folder / "frame0.rgb").write_bytes(decoded.tobytes())


def decision_lines(records: list[dict]) -> list[str]:
    return [" ".join(f"{k}:{v['decision']}" for k, v in sorted(r["objects"].items(), key=lambda kv: int(kv[0])))
            for r in records]


def test_swift_package_tests_pass(swift, tiny_bundles, tmp_path):
    """XCTest: the tracker makes the Python tracker's decisions (RGB) and BGRA gives RGB's results, bad input
    is named, a Swift runner gets every call, launch arguments, the palette PNG codec against Python's
    masks, JPEG decoding against OpenCV's, the benchmark mode's measurement and error files, status line."""
    from reusevos_edge.data.synthetic import make_clip

    bundle = tiny_bundles("executorch").path
    frames, masks = make_clip(num_frames=6, height=64, width=96, num_objects=2, speed_px=1.0, seed=7)
    starts = {0: {1: masks[0] == 1, 2: masks[0] == 2}}
    clip = tmp_path / "clip"
    clip_with_jpegs(clip, list(frames), starts)
    records, _ = python_track(bundle, list(frames), starts)
    (clip / "decisions.txt").write_text("\n".join(decision_lines(records)) + "\n")
    proc = swift.run(f"REUSEVOS_TEST_BUNDLE={bundle} REUSEVOS_TEST_CLIP={clip} swift test -j 2 2>&1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Executed 11 tests, with 0 failures" in out, out[-3000:]
    assert "skipped" not in out.lower(), out[-3000:]


def test_reusevos_track_tool_tracks_jpeg_frames_like_python(swift, tiny_bundles, tmp_path):
    """`reusevos-track track` on a folder of JPEGs: palette PNG masks and records with the Python tracker's
    decisions on the same decoded frames; bad input named before anything is written."""
    from reusevos_edge.data.masks_io import read_mask
    from reusevos_edge.data.synthetic import make_clip

    bundle = tiny_bundles("executorch").path
    frames, masks = make_clip(num_frames=8, height=64, width=96, num_objects=2, speed_px=1.5, seed=3)
    starts = {0: {1: masks[0] == 1, 2: masks[0] == 2}}
    clip = tmp_path / "clip"
    clip_with_jpegs(clip, list(frames), starts)
    decoded = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted((clip / "jpg").glob("*.jpg"))]
    records, labels = python_track(bundle, decoded, starts)
    out = tmp_path / "out"
    proc = swift.run(f"{swift.tool} track {bundle} {clip / 'jpg'} {clip / 'mask.png'} {out} --threads 1 2>&1")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "8 frames -> " in proc.stdout and "FPS" in proc.stdout, proc.stdout
    got = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert decision_lines(got) == decision_lines(records)
    for index, expected in enumerate(labels):
        assert (read_mask(out / f"{index:05d}.png") == expected).mean() > 0.999, index
    assert not (tmp_path / "out.partial").exists()

    for args, message in [(f"{bundle} {clip / 'jpg'} {clip / 'nothere.png'} {tmp_path / 'o2'}", "nothere.png: no such file"),
                          (f"{clip} {clip / 'jpg'} {clip / 'mask.png'} {tmp_path / 'o2'}", "no manifest.json"),
                          (f"{bundle} {clip / 'jpg'} {clip / 'mask.png'} {tmp_path / 'o2'} --tau 3", "--tau 3")]:
        proc = swift.run(f"{swift.tool} track {args} 2>&1")
        assert proc.returncode == 2 and message in proc.stdout, (args, proc.stdout[-2000:])
        assert not (tmp_path / "o2").exists() and not (tmp_path / "o2.partial").exists()


def _spec_features(features) -> list[dict]:
    dtypes = {65568: "float32", 65552: "float16"}  # ArrayFeatureType.ArrayDataType
    return [{"name": f.name, "shape": [int(d) for d in f.type.multiArrayType.shape],
             "dtype": dtypes.get(f.type.multiArrayType.dataType, str(f.type.multiArrayType.dataType))} for f in features]


@pytest.mark.parametrize("options", [{}, {"layout": "per_subgraph", "precision": "fp16"}], ids=["multifunction", "per_subgraph"])
def test_coreml_plan_matches_the_exported_packages(swift, tiny_bundles, options):
    """What CoreMLRunner loads (`reusevos-track coreml-plan`: package, function, feature names, shapes, dtypes)
    against the Core ML specs `reusevos-export --target coreml` wrote, read with coremltools."""
    ct = pytest.importorskip("coremltools")
    bundle = tiny_bundles("coreml", **options).path
    proc = swift.run(f"{swift.tool} coreml-plan {bundle}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = json.loads(proc.stdout)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert plan["multifunction"] == (options.get("layout", "multifunction") == "multifunction")
    assert [f["subgraph"] for f in plan["functions"]] == [s["name"] for s in manifest["subgraphs"]]
    for function in plan["functions"]:
        spec = ct.utils.load_spec(str(bundle / function["package"]))
        if plan["multifunction"]:
            desc = next(f for f in spec.description.functions if f.name == function["function"])
        else:
            assert "function" not in function or function["function"] is None
            desc = spec.description
        assert _spec_features(desc.input) == function["inputs"], function["subgraph"]
        assert _spec_features(desc.output) == function["outputs"], function["subgraph"]
    proc = swift.run(f"{swift.tool} coreml-plan {tiny_bundles('executorch').path} 2>&1")
    assert proc.returncode == 2 and 'target "executorch"; a Core ML plan needs a coreml bundle' in proc.stdout


FAKE_XCRUN = r'''#!PYTHON
"""A stand-in `xcrun devicectl`: a folder as the app's data container, ReuseVOSKit's benchmark mode (the code
the app runs, as `reusevos-track bench`) in the Swift chroot as the app."""
import json, os, shlex, shutil, subprocess, sys
container, app, udid = os.environ["FAKE_CONTAINER"], "org.reusevos.demo", "STAND-IN-UDID"
args = sys.argv[1:]
with open(container + ".log", "a") as f:
    f.write(json.dumps(args) + "\n")
assert args[0] == "devicectl", args
args = args[1:]
opt = lambda name: args[args.index(name) + 1]
if args[:2] == ["list", "devices"]:
    with open(opt("--json-output"), "w") as f:
        json.dump({"result": {"devices": [{"identifier": udid, "deviceProperties": {"name": "stand-in", "osVersionNumber": "18.0"},
                   "hardwareProperties": {"udid": udid, "marketingName": "Stand-in (Linux, Swift)", "cpuType": {"name": "x86_64"}}}]}}, f)
elif args[:3] == ["device", "copy", "to"]:
    assert opt("--device") == udid and opt("--domain-identifier") == app, args
    source, dest = opt("--source"), os.path.join(container, opt("--destination"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.isdir(dest):  # a copy replaces what is there
        shutil.rmtree(dest)
    (shutil.copytree if os.path.isdir(source) else shutil.copy2)(source, dest)
elif args[:3] == ["device", "copy", "from"]:
    shutil.copy2(os.path.join(container, opt("--source")), opt("--destination"))
elif args[:3] == ["device", "process", "launch"]:
    at = args.index("--")
    assert args[at + 1] == app and "--console" in args, args
    command = " ".join(shlex.quote(a) for a in [os.environ["FAKE_TOOL"], "bench", "--home", container, *args[at + 2:]])
    proc = subprocess.run([os.environ["FAKE_CHROOT"], "run", os.environ["FAKE_PACKAGE"], command, *os.environ["FAKE_BINDS"].split(":")])
    sys.exit(proc.returncode)
else:
    sys.exit(f"stand-in xcrun: unknown command {args}")
'''


def test_reusevos_bench_ios_through_a_stand_in_devicectl(swift, tiny_bundles, tmp_path, monkeypatch, capsys):
    """reusevos-bench --device ios end to end: the copies, the launch with the app's arguments and the copy
    back are the harness's own; the app is ReuseVOSKit's benchmark mode (JPEG frames, palette mask, the core's
    benchmark over the bundle, the probe's memory and thermal readings). Same decisions and subgraph calls as
    the host's Python tracker on the same clip."""
    from reusevos_edge.bench.schema import check_run
    from reusevos_edge.cli.bench import main

    bundle = tiny_bundles("executorch").path
    (tmp_path / "bin").mkdir()
    xcrun = tmp_path / "bin" / "xcrun"
    xcrun.write_text(FAKE_XCRUN.replace("PYTHON", sys.executable))
    xcrun.chmod(0o755)
    container = tmp_path / "container"
    container.mkdir()
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    for key, value in {"FAKE_CONTAINER": container, "FAKE_TOOL": swift.tool, "FAKE_CHROOT": CHROOT,
                       "FAKE_PACKAGE": PACKAGE, "FAKE_BINDS": ":".join(swift.binds)}.items():
        monkeypatch.setenv(key, str(value))
    common = ["--bundle", str(bundle), "--frames", "6", "--no-eager", "--no-plots", "--cooldown", "0", "--warmup", "1",
              "--no-progress"]
    assert main(["--device", "ios:STAND-IN-UDID", *common, "--out", str(tmp_path / "ios")]) == 0
    assert main([*common, "--out", str(tmp_path / "host")]) == 0
    run = check_run(json.loads((tmp_path / "ios" / "bench.json").read_text()), where="ios")
    phone, host = run.results[0], check_run(json.loads((tmp_path / "host" / "bench.json").read_text()), where="host").results[0]
    assert run.device.model == "Stand-in (Linux, Swift)" and run.device.os == "iOS 18.0"
    assert (phone.frames, phone.computed, phone.reused, phone.calls) == (6, host.computed, host.reused, host.calls)
    assert "native tracker core (C++) over ExecuTorch" in phone.notes
    assert any(n.startswith("iOS app benchmark mode; thermal state unknown -> unknown") for n in phone.notes), phone.notes
    assert phone.memory.peak_mb > 0 and phone.energy.measured_joules_per_frame is None
    calls = [json.loads(line) for line in (tmp_path / "container.log").read_text().splitlines()]
    launch = next(c for c in calls if c[1:4] == ["device", "process", "launch"])
    assert launch[launch.index("--") + 1:][:3] == ["org.reusevos.demo", "--bundle", f"Documents/reusevos/bundles/{bundle.name}"]
    assert (container / "Documents/reusevos/bench" / f"{phone.name}.json").is_file()

    # the app's failure (here: a Core ML bundle off Apple platforms) comes back as one error line
    coreml = tiny_bundles("coreml").path
    capsys.readouterr()
    assert main(["--device", "ios:STAND-IN-UDID", *common[2:], "--bundle", str(coreml), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "the app's benchmark failed on the phone" in err and "a Core ML bundle runs on iOS 17" in err, err


def test_app_sources_parse_and_the_project_spec_names_what_the_harness_launches(swift):
    """The SwiftUI app cannot compile here (no SwiftUI / AVFoundation off Apple platforms): its sources are
    parsed by swiftc, and the XcodeGen spec must give the bundle identifier reusevos-bench launches, the
    camera permission text and the local package."""
    from reusevos_edge.bench.phone import APP_ID

    app = REPO / "ios_demo" / "ReuseVOSDemo"
    sources = sorted(p.name for p in (app / "ReuseVOSDemo").glob("*.swift"))
    assert {"ReuseVOSDemoApp.swift", "ContentView.swift", "TrackingModel.swift", "CameraFeed.swift"} <= set(sources)
    proc = subprocess.run([str(CHROOT), "run", str(app), "swiftc -parse ReuseVOSDemo/*.swift 2>&1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    spec = (app / "project.yml").read_text()
    assert f"PRODUCT_BUNDLE_IDENTIFIER: {APP_ID}" in spec
    assert "NSCameraUsageDescription:" in spec and "path: ../ReuseVOSKit" in spec
    assert "BenchmarkMode.run(arguments: arguments" in (app / "ReuseVOSDemo" / "ReuseVOSDemoApp.swift").read_text()
