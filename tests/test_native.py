"""The native tracker core (native/, C++ over ExecuTorch) against the Python tracker on the same bundle.

The CMake project is built once per session (cmake from PyPI, the ExecuTorch runtime the wheel ships).
Without a C++ toolchain, cmake or a JDK these tests skip, unless REUSEVOS_REQUIRE_NATIVE=1 (CI sets
it: there a skip would hide a broken build).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import missing_toolchain as _missing
from reusevos_edge.bench.native import write_pnm
from reusevos_edge.tracker.frames import frame_to_input, mask_to_model

pytest.importorskip("executorch.runtime")

ROOT = Path(__file__).resolve().parents[1]
NATIVE = ROOT / "native"
LITE0_SIZE = (192, 320)
JUNIT = Path("/usr/share/java/junit-platform-console-standalone.jar")


def read_pgm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    fields = data.split(maxsplit=4)
    width, height = int(fields[1]), int(fields[2])
    return np.frombuffer(fields[4][: width * height], np.uint8).reshape(height, width)


@pytest.fixture(scope="session")
def lite0_bundle(tmp_path_factory) -> Path:
    """The bundled lite0 heads exported to ExecuTorch (fp32) at 192x320 with their own tracker options."""
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.model.subgraphs import build_subgraphs
    from reusevos_edge.tracker.config import tracker_defaults

    height, width = LITE0_SIZE
    model = build_model("lite0")
    opts = validate_options(target="executorch", model="lite0", height=height, width=width,
                            out_dir=tmp_path_factory.mktemp("lite0"))
    result = export_bundle(opts, model=model, subgraphs=build_subgraphs(model, height=height, width=width),
                           tracker_config=tracker_defaults(model))
    return result.path


def python_track(bundle: Path, frames: list[np.ndarray], starts: dict[int, dict[int, np.ndarray]]):
    """The Python tracker over ``bundle``: (records as JSON dicts, label maps)."""
    from reusevos_edge.runtime.bundle import load_bundle_runner
    from reusevos_edge.tracker.config import bundle_tracker_config
    from reusevos_edge.tracker.tracker import Tracker

    runner = load_bundle_runner(bundle, num_threads=1)
    tracker = Tracker(runner=runner, config=bundle_tracker_config(runner.manifest, where=str(bundle)))
    records, labels = [], []
    for index, frame in enumerate(frames):
        result = tracker.step(frame, new_masks=starts.get(index))
        records.append(result.record.to_json())
        labels.append(result.labels)
    return records, labels


def write_clip(folder: Path, frames: list[np.ndarray], starts: dict[int, dict[int, np.ndarray]]) -> list[str]:
    """Frames as NNNNN.ppm and each start frame's objects as start_NNNNN.pgm (ids); returns --mask arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        write_pnm(folder / f"{index:05d}.ppm", frame)
    args = []
    for index, objects in starts.items():
        ids = np.zeros(frames[0].shape[:2], np.uint8)
        for obj_id, mask in objects.items():
            ids[mask] = obj_id
        args += ["--mask", f"{index}:{write_pnm(folder / f'start_{index:05d}.pgm', ids)}"]
    return args


def native_track(build: Path, bundle: Path, folder: Path, mask_args: list[str], out: Path) -> dict:
    proc = subprocess.run([str(build / "reusevos-native-track"), "--bundle", str(bundle), "--frames", str(folder),
                           *mask_args, "--out", str(out), "--threads", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "records.json").read_text())


def compare(py_records, py_labels, native: dict, out: Path) -> dict:
    """Decision agreement over object-frames, mean per-frame label IoU, largest |P_gate| difference."""
    agree = total = 0
    dp, ious = [0.0], []
    for index, (rec, nrec) in enumerate(zip(py_records, native["frames"], strict=True)):
        assert rec["ran"] == nrec["ran"], f"frame {index}: subgraphs {rec['ran']} vs native {nrec['ran']}"
        assert rec["objects"].keys() == nrec["objects"].keys()
        for key, obj in rec["objects"].items():
            nobj = nrec["objects"][key]
            total += 1
            agree += obj["decision"] == nobj["decision"] and obj["forced"] == nobj["forced"]
            if obj["p_gate"] is not None:
                dp.append(abs(obj["p_gate"] - nobj["p_gate"]))
        theirs = read_pgm(out / "labels" / f"{index:05d}.pgm")
        ours = py_labels[index]
        union = (ours > 0) | (theirs > 0)
        ious.append(float(((ours == theirs) & union).sum() / union.sum()) if union.any() else 1.0)
    return {"agreement": agree / total, "mean_iou": float(np.mean(ious)), "max_dp": max(dp), "object_frames": total}


def davis_or_synthetic(frames_n: int):
    """(frames, starts): blackswan 480p from ../shared when present, else a synthetic one-object clip."""
    import cv2

    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis2016"
    jpgs = sorted(glob.glob(str(root / "JPEGImages" / "480p" / "blackswan" / "*.jpg")))[:frames_n]
    if jpgs:
        frames = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in jpgs]
        ann = cv2.imread(str(root / "Annotations" / "480p" / "blackswan" / "00000.png"), cv2.IMREAD_GRAYSCALE)
        return frames, {0: {1: ann > 0}}
    from reusevos_edge.data.synthetic import make_clip

    frames, masks = make_clip(num_frames=frames_n, height=240, width=432, num_objects=1, speed_px=3.0, seed=3)
    return list(frames), {0: {1: masks[0] == 1}}


# ---------------------------------------------------------------------------------------------- tests
def test_selftest(native_build):
    proc = subprocess.run([str(native_build / "reusevos-native-selftest")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("size", [(480, 854), (240, 320), (288, 512), (100, 97)])
def test_frame_and_mask_preparation_match_opencv(native_build, tmp_path, size):
    """frame_to_input bit for bit where OpenCV's SIMD path covers the row (480p DAVIS); elsewhere within one
    level on a few pixels. mask_to_model (area) to float rounding."""
    rng = np.random.default_rng(size[0])
    frame = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    mask = np.zeros(size, np.uint8)
    mask[size[0] // 5: size[0] // 2, size[1] // 3: size[1] - 7] = 1
    h, w = 384, 672
    tool = str(native_build / "reusevos-native-selftest")
    subprocess.run([tool, "frame", str(write_pnm(tmp_path / "f.ppm", frame)), str(h), str(w), str(tmp_path / "f.bin")], check=True)
    subprocess.run([tool, "mask", str(write_pnm(tmp_path / "m.pgm", mask)), str(h), str(w), str(tmp_path / "m.bin")], check=True)
    ours = np.fromfile(tmp_path / "f.bin", np.float32).reshape(1, 3, h, w)
    want = frame_to_input(frame, height=h, width=w)
    levels = np.abs(ours - want) * 255
    assert levels.max() <= 1.0 + 1e-4
    exact = float((levels < 1e-4).mean())
    assert exact == 1.0 if size == (480, 854) else exact >= 0.99, exact
    m = np.fromfile(tmp_path / "m.bin", np.float32).reshape(h, w)
    np.testing.assert_allclose(m, mask_to_model(mask.astype(bool), height=h, width=w), atol=1e-5)
    # an int8 bundle's input: the same bytes as codes u - 128, in the core and in Python
    subprocess.run([tool, "frame", str(tmp_path / "f.ppm"), str(h), str(w), str(tmp_path / "c.bin"), "int8"], check=True)
    codes = np.fromfile(tmp_path / "c.bin", np.int8).reshape(1, 3, h, w)
    np.testing.assert_array_equal(codes, np.rint(ours * 255).astype(np.int16) - 128)
    want_codes = frame_to_input(frame, height=h, width=w, out=np.empty((1, 3, h, w), np.int8))
    np.testing.assert_array_equal(want_codes, np.rint(want * 255).astype(np.int16) - 128)


def _has_avx2() -> bool:
    try:
        return " avx2 " in f" {Path('/proc/cpuinfo').read_text().split('flags', 1)[1].splitlines()[0]} "
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not _has_avx2(), reason="the AVX2 host ops need a CPU with AVX2")
def test_avx2_host_ops_equal_the_plain_loops(native_build, tmp_path):
    """On a CPU with AVX2 the core gathers with AVX2 (chosen at run time); REUSEVOS_NO_SIMD=1 keeps the plain
    loops. Both pass the selftest (whose fusion checks compare with resize_linear) and prepare frames bit
    for bit alike, at sizes where the last columns take the plain loop."""
    tool = str(native_build / "reusevos-native-selftest")
    plain = {**os.environ, "REUSEVOS_NO_SIMD": "1"}
    for env in (None, plain):
        proc = subprocess.run([tool], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    rng = np.random.default_rng(7)
    for size in [(480, 854), (240, 320), (100, 97), (720, 1280)]:
        frame = write_pnm(tmp_path / "f.ppm", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        for dtype in ([], ["int8"]):
            dumps = []
            for env in (None, plain):
                out = tmp_path / "f.bin"
                subprocess.run([tool, "frame", str(frame), "384", "672", str(out), *dtype], check=True, env=env)
                dumps.append(out.read_bytes())
            assert dumps[0] == dumps[1], (size, dtype)


def test_native_tracker_matches_python_on_a_real_clip(native_build, lite0_bundle, tmp_path):
    """lite0 over ExecuTorch, default options (the gate decides): the same decisions on every object-frame."""
    frames, starts = davis_or_synthetic(24)
    args = write_clip(tmp_path / "clip", frames, starts)
    native = native_track(native_build, lite0_bundle, tmp_path / "clip", args, tmp_path / "out")
    py_records, py_labels = python_track(lite0_bundle, frames, starts)
    got = compare(py_records, py_labels, native, tmp_path / "out")
    assert got["agreement"] == 1.0 and got["mean_iou"] >= 0.99, got
    assert got["max_dp"] < 1e-3, got
    assert 0 < native["decisions"]["reuse"] < got["object_frames"] - 1, native["decisions"]  # both paths ran


def test_native_tracker_two_objects_one_added_later(native_build, lite0_bundle, tmp_path):
    """Fusion of two objects, the second starting on frame 4: same decisions, same label maps."""
    from reusevos_edge.data.synthetic import make_clip

    frames, masks = make_clip(num_frames=16, height=240, width=400, num_objects=2, speed_px=2.0, seed=1)
    starts = {0: {1: masks[0] == 1}, 4: {2: masks[4] == 2}}
    args = write_clip(tmp_path / "clip", list(frames), starts)
    native = native_track(native_build, lite0_bundle, tmp_path / "clip", args, tmp_path / "out")
    py_records, py_labels = python_track(lite0_bundle, list(frames), starts)
    got = compare(py_records, py_labels, native, tmp_path / "out")
    assert got["agreement"] == 1.0 and got["mean_iou"] >= 0.99, got
    assert native["frames"][4]["objects"]["2"]["decision"] == "init"
    both = [i for i in range(4, 16) if {1, 2} <= set(np.unique(read_pgm(tmp_path / "out" / "labels" / f"{i:05d}.pgm")))]
    assert both, "no frame where the two objects were fused into one label map"


def test_native_tracker_state_machine_on_the_tiny_bundle(native_build, tiny_bundles, tmp_path):
    """tau 0 and keyframe bound 2 (the tiny bundle's options): reuse/compute alternate as in Python, score
    updates included."""
    from reusevos_edge.data.synthetic import make_clip

    bundle = tiny_bundles("executorch").path
    frames, masks = make_clip(num_frames=10, height=64, width=96, num_objects=2, speed_px=1.0, seed=2)
    starts = {0: {1: masks[0] == 1, 2: masks[0] == 2}}
    args = write_clip(tmp_path / "clip", list(frames), starts)
    native = native_track(native_build, bundle, tmp_path / "clip", args, tmp_path / "out")
    py_records, py_labels = python_track(bundle, list(frames), starts)
    got = compare(py_records, py_labels, native, tmp_path / "out")
    assert got["agreement"] == 1.0 and got["mean_iou"] >= 0.99, got
    assert any("score_update" in f["ran"] for f in native["frames"])


def test_native_tracker_on_an_int8_bundle_writes_image_codes(native_build, tiny_calibration, tmp_path):
    """An int8 ExecuTorch bundle takes the frame as int8 codes (quant.image_codes): the core writes them and
    tracks as the Python tracker does over the same bundle."""
    pytest.importorskip("executorch.backends.xnnpack.quantizer.xnnpack_quantizer")
    from reusevos_edge.converters.bundle import export_bundle
    from reusevos_edge.converters.targets import validate_options
    from reusevos_edge.data.synthetic import make_clip
    from reusevos_edge.quant.ptq import quantize_subgraphs

    model, subgraphs, config, feeds = tiny_calibration
    (tmp_path / "b").mkdir()
    opts = validate_options(target="executorch", model="tiny", height=64, width=96, precision="int8",
                            out_dir=tmp_path / "b")
    result = export_bundle(opts, model=model, subgraphs=quantize_subgraphs(subgraphs, feeds, target="executorch"),
                           tracker_config=config, quantization={"method": "ptq"})
    image = next(e for e in result.manifest["subgraphs"] if e["name"] == "backbone_low")["inputs"][0]
    assert image["dtype"] == "int8"
    frames, masks = make_clip(num_frames=8, height=64, width=96, num_objects=2, speed_px=1.0, seed=3)
    starts = {0: {1: masks[0] == 1, 2: masks[0] == 2}}
    args = write_clip(tmp_path / "clip", list(frames), starts)
    native = native_track(native_build, result.path, tmp_path / "clip", args, tmp_path / "out")
    py_records, py_labels = python_track(result.path, list(frames), starts)
    got = compare(py_records, py_labels, native, tmp_path / "out")
    assert got["agreement"] == 1.0 and got["mean_iou"] >= 0.99 and got["max_dp"] < 1e-5, got


def test_c_api_from_c_tracks_like_python_and_names_bad_calls(native_build, tiny_bundles, tmp_path):
    """reusevos/c_api.h from a plain C program (reusevos-c-api-test): the same records and masks as the Python
    tracker; bad calls return their error and leave the tracker usable; a caller-supplied backend gets every
    subgraph call with the manifest's input names, and its failure comes back named; rv_benchmark runs the
    protocol over such a backend."""
    from reusevos_edge.data.synthetic import make_clip

    bundle = tiny_bundles("executorch").path
    frames, masks = make_clip(num_frames=6, height=64, width=96, num_objects=2, speed_px=1.0, seed=5)
    starts = {0: {1: masks[0] == 1, 2: masks[0] == 2}}
    write_clip(tmp_path / "clip", list(frames), starts)
    proc = subprocess.run([str(native_build / "reusevos-c-api-test"), str(bundle), str(tmp_path / "clip"),
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    native = json.loads((tmp_path / "out" / "records.json").read_text())
    py_records, py_labels = python_track(bundle, list(frames), starts)
    got = compare(py_records, py_labels, native, tmp_path / "out")
    assert got["agreement"] == 1.0 and got["mean_iou"] >= 0.99, got
    errors = [line for line in proc.stdout.splitlines() if line.startswith("error: ")]
    assert len(errors) == 7, proc.stdout
    for expected, line in zip(["/nonexistent/bundle", "is empty", "differs from the video's",
                               "pixel format 5: expected RV_RGB (3), RV_RGBA (4) or RV_BGRA (0x14)", "object id 300",
                               "subgraph backbone_low: the backend failed: the model is not loaded",
                               "the backend failed to load: no compiled model in the bundle"], errors):
        assert expected in line, (expected, line)
    assert "objects: 2 after 6 frames" in proc.stdout
    assert "callback: backbone_low image rank 4, 1 inputs, 2 outputs" in proc.stdout, proc.stdout
    calls = next(line for line in proc.stdout.splitlines() if line.startswith("callback: ") and " calls, " in line)
    assert '"decision":"init"' in calls and '"ran":["backbone_low","backbone_high","template_build"' in calls, calls
    bench = next(line for line in proc.stdout.splitlines() if line.startswith("benchmark: "))
    assert int(bench.split()[1]) >= 4 and '"notes":["native tracker core (C++) over zeros"]}' in bench, bench


def test_native_bad_input_is_named_and_leaves_nothing(native_build, tiny_bundles, tmp_path):
    bundle = tiny_bundles("executorch").path
    frames = [np.full((64, 96, 3), 90, np.uint8)] * 2
    tool = str(native_build / "reusevos-native-track")

    def run(*args):
        return subprocess.run([tool, *args], capture_output=True, text=True)

    mask = np.zeros((64, 96), np.uint8)
    mask[10:20, 10:30] = 1
    args = write_clip(tmp_path / "clip", frames, {0: {1: mask.astype(bool)}})
    out = tmp_path / "out"
    clip, b = str(tmp_path / "clip"), str(bundle)
    empty = write_pnm(tmp_path / "empty.pgm", np.zeros((64, 96), np.uint8))
    small = write_pnm(tmp_path / "small.pgm", mask[:32])
    cases = {
        "missing bundle": (["--bundle", str(tmp_path / "nope"), "--frames", clip, *args], "is not a folder"),
        "frames folder": (["--bundle", b, "--frames", str(tmp_path / "nothing"), *args], "--frames"),
        "empty mask": (["--bundle", b, "--frames", clip, "--mask", str(empty)], "holds no object"),
        "mask size": (["--bundle", b, "--frames", clip, "--mask", str(small)], "does not match the frames"),
        "start frame": (["--bundle", b, "--frames", clip, "--mask", f"9:{tmp_path / 'clip' / 'start_00000.pgm'}"],
                        "outside the clip"),
        "threads": (["--bundle", b, "--frames", clip, *args, "--threads", "two"], "expected an integer"),
    }
    for name, (argv, expected) in cases.items():
        proc = run(*argv, "--out", str(out))
        assert proc.returncode == 2 and expected in proc.stderr, (name, proc.stderr)
        assert proc.stderr.count("error:") == 1, proc.stderr
        assert not out.exists() and not Path(str(out) + ".partial").exists(), name
    tampered = tmp_path / "tampered"
    shutil.copytree(bundle, tampered)
    program = tampered / json.loads((tampered / "manifest.json").read_text())["artifact"]
    data = bytearray(program.read_bytes())
    data[len(data) // 2] ^= 1
    program.write_bytes(bytes(data))
    proc = run("--bundle", str(tampered), "--frames", str(tmp_path / "clip"), *args, "--out", str(out))
    assert proc.returncode == 2 and "sha256 mismatch" in proc.stderr, proc.stderr
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["tracker"]["tau"] = 0.9
    edited = tmp_path / "edited"
    shutil.copytree(bundle, edited)
    (edited / "manifest.json").write_text(json.dumps(manifest, indent=2))
    proc = run("--bundle", str(edited), "--frames", str(tmp_path / "clip"), *args, "--out", str(out))
    assert proc.returncode == 2 and "modified after export" in proc.stderr, proc.stderr


def test_jni_binding_under_junit(native_build, lite0_bundle, tmp_path):
    """org.reusevos.NativeTracker on this JVM: the clip's decisions and masks as the Python tracker's, bad input named."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        _missing("no JDK (javac/java) on PATH")
    if not JUNIT.exists():
        _missing(f"{JUNIT} is missing (apt-get install junit5)")
    if not (native_build / "libreusevos_jni.so").exists():
        _missing("the JNI library was not built (CMake found no JNI)")
    from reusevos_edge.data.synthetic import make_clip

    frames, masks = make_clip(num_frames=10, height=240, width=400, num_objects=2, speed_px=2.0, seed=4)
    starts = {0: {1: masks[0] == 1}, 3: {2: masks[3] == 2}}
    clip = tmp_path / "clip"
    write_clip(clip, list(frames), starts)
    records, labels = python_track(lite0_bundle, list(frames), starts)
    lines = [" ".join(f"{k}:{o['decision']}" for k, o in r["objects"].items()) for r in records]
    (clip / "decisions.txt").write_text("\n".join(lines) + "\n")
    for index, label in enumerate(labels):
        write_pnm(clip / f"labels_{index:05d}.pgm", label)
    tampered = tmp_path / "tampered"
    shutil.copytree(lite0_bundle, tampered)
    program = tampered / "model.pte"
    data = bytearray(program.read_bytes())
    data[-100] ^= 1
    program.write_bytes(bytes(data))
    classes = tmp_path / "classes"
    jni = NATIVE / "jni"
    sources = [str(p) for p in (jni / "java").rglob("*.java")] + [str(p) for p in (jni / "test").rglob("*.java")]
    compiled = subprocess.run(["javac", "-d", str(classes), "-cp", str(JUNIT), *sources], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    proc = subprocess.run(
        ["java", f"-Djava.library.path={native_build}", f"-Dreusevos.bundle={lite0_bundle}",
         f"-Dreusevos.tampered={tampered}", f"-Dreusevos.clip={clip}", "-jar", str(JUNIT), "-cp", str(classes),
         "--select-class", "org.reusevos.NativeTrackerTest", "--disable-banner", "--details=summary"],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 tests successful" in proc.stdout, proc.stdout[-2000:]


def test_reusevos_bench_native_rows(native_build, tiny_bundles, tmp_path, capsys):
    """reusevos-bench --native: the native runner measures a row beside the Python row, same schema and clip."""
    from reusevos_edge.bench.schema import check_run
    from reusevos_edge.cli.bench import main

    bundle = tiny_bundles("executorch").path
    out = tmp_path / "bench"
    rc = main(["--bundle", str(bundle), "--native", str(native_build), "--no-eager", "--no-plots", "--frames", "8",
               "--cooldown", "0", "--warmup", "1", "--no-progress", "--out", str(out)])
    assert rc == 0
    run = check_run(json.loads((out / "bench.json").read_text()), where="bench.json")
    rows = {r.name: r for r in run.results}
    python_row, native_row = rows[bundle.name], rows[f"{bundle.name}@native"]
    assert native_row.notes == ["native tracker core (C++) over ExecuTorch"]
    assert (native_row.computed, native_row.reused, native_row.calls) == (python_row.computed, python_row.reused,
                                                                         python_row.calls)
    assert native_row.frames == 8 and 0.0 <= native_row.host_share < 1.0 and native_row.memory.peak_mb > 0
    assert "@native" in (out / "bench.md").read_text()
    capsys.readouterr()
    assert main(["--bundle", str(bundle), "--native", str(tmp_path), "--no-eager", "--no-plots",
                 "--out", str(tmp_path / "b2")]) == 2
    assert "no executable reusevos-native-bench" in capsys.readouterr().err
    assert not (tmp_path / "b2").exists()
