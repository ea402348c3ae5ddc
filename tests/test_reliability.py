"""What a new user hits with bad input, odd output locations, signals and corrupt files (tiny model, 64x96).

Each test here failed before its fix: output paths are checked before any work and their parents
created, write failures and signals end in one line and a clean folder, written files follow the
umask, corrupt frames/videos/checkpoints are refused, DAVIS void pixels are ignored, records say
what ran and why.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from reusevos_edge.cli import common as common_cli
from reusevos_edge.cli import eval as eval_cli
from reusevos_edge.cli import export as export_cli
from reusevos_edge.cli import track as track_cli
from reusevos_edge.data.davis import read_rgb
from reusevos_edge.data.masks_io import read_mask, write_mask
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.errors import InputError
from reusevos_edge.fileio import write_json

TINY = ["--model", "tiny", "--untrained", "--size", "64x96", "--no-progress"]
REPO = Path(__file__).resolve().parents[1]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1, err
    return err


def _never(*args, **kwargs):
    raise AssertionError("the long work started before the bad input was found")


# -- output locations ----------------------------------------------------------------------------------


def test_eval_json_that_is_a_folder_is_refused_before_any_work(davis2016_tree, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(eval_cli, "make_setup", _never)
    folder = tmp_path / "reports"
    folder.mkdir()
    assert eval_cli.main(["--davis", str(davis2016_tree), "--json", str(folder), *TINY]) == 2
    assert f"--json {folder}: is a folder" in _one_error_line(capsys)


def test_eval_json_in_missing_folders_is_written_there(davis2016_tree, tmp_path):
    report = tmp_path / "new" / "deeper" / "r.json"
    assert eval_cli.main(["--davis", str(davis2016_tree), "--sequences", "slow", "--json", str(report), *TINY]) == 0
    assert json.loads(report.read_text())["sequences"]["slow"]["num_frames"] == 6


def test_export_json_that_is_a_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(export_cli, "_Session", _never)
    out = tmp_path / "new_out"
    assert export_cli.main(["--target", "onnx", *TINY[:-1], "--out", str(out), "--json", str(tmp_path)]) == 2
    assert "is a folder; expected a file path" in _one_error_line(capsys)
    assert not out.exists()


def test_track_out_creates_missing_parents_and_removes_them_on_failure(tmp_path, capsys):
    out = tmp_path / "runs" / "today" / "demo"
    assert track_cli.main(["--demo", "--demo-frames", "3", "--out", str(out), *TINY]) == 0
    assert (out / "records.json").is_file()
    bad = tmp_path / "other" / "x" / "demo"
    assert track_cli.main(["--demo", "--demo-frames", "2", "--out", str(bad), *TINY]) == 2
    _one_error_line(capsys)
    assert not (tmp_path / "other").exists()


def test_out_below_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert track_cli.main(["--demo", "--out", str(tmp_path / "file" / "out"), *TINY]) == 2
    assert "is a file, not a folder" in _one_error_line(capsys)


@pytest.mark.parametrize("code, text", [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")])
def test_a_full_or_read_only_disk_is_one_error_line_and_leaves_nothing(tmp_path, capsys, monkeypatch, code, text):
    def failing(path, mask):
        raise OSError(code, text, str(path))

    monkeypatch.setattr(track_cli, "write_mask", failing)
    out = tmp_path / "out"
    assert track_cli.main(["--demo", "--demo-frames", "3", "--out", str(out), *TINY]) == 2
    err = _one_error_line(capsys)
    assert text in err and "first_mask.png" in err
    assert list(tmp_path.iterdir()) == []


def test_eval_report_on_a_full_disk_is_one_error_line(davis2016_tree, tmp_path, capsys, monkeypatch):
    def failing(path, payload):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(eval_cli, "write_json", failing)
    assert eval_cli.main(["--davis", str(davis2016_tree), "--sequences", "slow", "--json",
                          str(tmp_path / "r.json"), *TINY]) == 2
    assert "No space left on device" in capsys.readouterr().err.splitlines()[-1]


def test_json_is_strict_and_atomic(tmp_path):
    with pytest.raises(ValueError):
        write_json(tmp_path / "r.json", {"p_gate": float("nan")})
    assert list(tmp_path.iterdir()) == []


# -- file modes ----------------------------------------------------------------------------------------


def test_written_files_follow_the_umask(davis2016_tree, tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "demo"
        assert track_cli.main(["--demo", "--demo-frames", "3", "--out", str(out), *TINY]) == 0
        report = tmp_path / "r.json"
        assert eval_cli.main(["--davis", str(davis2016_tree), "--sequences", "slow", "--json", str(report), *TINY]) == 0
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(out) == 0o750
    for name in ("00000.png", "records.json", "overlay.mp4", "first_mask.png"):
        assert mode(out / name) == 0o640, name
    assert mode(report) == 0o640


# -- signals -------------------------------------------------------------------------------------------


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    """The CLI as a user's terminal starts it: SIGINT at its default even where this test process
    inherited it ignored (a shell's background job: Python then keeps ignoring it, so Ctrl-C is not seen)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", "import sys; from reusevos_edge.cli.{0} import main; "
                             "sys.exit(main(sys.argv[1:]))".format(args[0]), *args[1:]],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"finished before the signal: {proc.communicate()}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError("timed out waiting for the run to start writing")
        time.sleep(0.05)


def _hidden(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*")] if folder.exists() else []


@pytest.mark.parametrize("signum, status, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_track_signal_cleans_up_with_one_line(tmp_path, signum, status, word):
    out = tmp_path / "runs" / "demo"
    proc = _start(["track", "--demo", "--demo-frames", "2000", "--out", str(out), *TINY], tmp_path)
    _wait_for(lambda: any(p.name.endswith(".partial") for p in _hidden(tmp_path)) and
              any(_hidden(tmp_path)[0].glob("0000*.png")), proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert word in err and "Traceback" not in err and err.strip().count("\n") == 0, err
    assert list(tmp_path.iterdir()) == []  # no partial folder, no empty parents


@pytest.mark.backend
def test_export_signal_leaves_no_partial_bundle_and_no_empty_out(tmp_path):
    pytest.importorskip("onnxscript")
    out = tmp_path / "bundles"
    proc = _start(["export", "--target", "onnx", "--out", str(out), *TINY[:-1]], tmp_path)
    _wait_for(lambda: any(p.name.endswith(".partial") for p in _hidden(out)), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# -- the export's own output ---------------------------------------------------------------------------


@pytest.mark.backend
def test_export_prints_its_own_lines_and_logs_the_toolchains(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out, report = tmp_path / "new" / "bundles", tmp_path / "missing" / "r.json"
    cmd = [sys.executable, "-m", "reusevos_edge.cli.export", "--target", "onnx", "--out", str(out), "--json",
           str(report), "--frames", "4", *TINY[:-1]]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path,
                          preexec_fn=lambda: os.umask(0o022), timeout=600)
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) <= 12, lines  # ours only: progress, table, where the log is, next steps
    assert any("| onnx | ✅ |" in line for line in lines)
    log = out / export_cli.LOG_NAME
    assert log.is_file() and str(log) in done.stdout
    assert json.loads(report.read_text())[0]["status"] == "✅"
    bundle = out / "tiny_64x96_fp32_onnx"
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o755
    assert stat.S_IMODE((bundle / "manifest.json").stat().st_mode) == 0o644


# -- corrupt input -------------------------------------------------------------------------------------


@pytest.fixture
def clip():
    return make_clip(num_frames=6, height=48, width=64, num_objects=2, seed=9)


def test_truncated_jpeg_frame_is_refused_before_tracking(clip, tmp_path, capsys, monkeypatch):
    frames, masks = clip
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:05d}.jpg", quality=95)
    victim = folder / "00003.jpg"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(InputError, match="the JPEG is truncated"):
        read_rgb(victim)
    write_mask(tmp_path / "first.png", masks[0])
    monkeypatch.setattr(track_cli, "make_setup", _never)
    assert track_cli.main([str(folder), "--mask", str(tmp_path / "first.png"), "--out", str(tmp_path / "o"), *TINY]) == 2
    assert "00003.jpg: the JPEG is truncated" in _one_error_line(capsys)


def test_truncated_video_is_refused_before_tracking(clip, tmp_path, capsys, monkeypatch):
    frames, masks = clip
    frames = np.concatenate([frames] * 4)  # 24 frames
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    video.write_bytes(video.read_bytes()[: int(video.stat().st_size * 0.55)])
    write_mask(tmp_path / "first.png", masks[0])
    monkeypatch.setattr(track_cli, "make_setup", _never)
    assert track_cli.main([str(video), "--mask", str(tmp_path / "first.png"), "--out", str(tmp_path / "o"), *TINY]) == 2
    err = _one_error_line(capsys)
    assert "its header says 24 frames but only" in err and "truncated" in err


@pytest.mark.parametrize("cli", ["track", "eval", "export"])
def test_a_variant_without_trained_heads_needs_a_checkpoint(cli, davis2016_tree, tmp_path, capsys):
    work = tmp_path / "work"
    argv = {"track": ["--demo", "--out", str(work / "o")],
            "eval": ["--davis", str(davis2016_tree), "--json", str(work / "r.json")],
            "export": ["--target", "onnx", "--out", str(work / "o")]}[cli]
    main = {"track": track_cli.main, "eval": eval_cli.main, "export": export_cli.main}[cli]
    assert main([*argv, "--model", "r18"]) == 2
    assert "--model r18 ships no trained heads: pass --checkpoint PATH" in _one_error_line(capsys)
    assert not work.exists()


# -- bundles: the records say what ran, contradictory flags are refused -------------------------------------


class _FakeBundleRunner:
    variant, frame_size, bundle_dir = "tiny", (64, 96), Path("b")
    manifest = {"tracker": {"tau": 0.3, "keyframe_bound": 2, "locality_radius": None, "delta_scale": 1.0,
                            "update_every": 2, "learning_rate": 0.1}, "model": {"checkpoint": None}}

    def __init__(self, inner):
        self.subgraphs, self.run = inner.subgraphs, inner.run


@pytest.fixture
def fake_bundle(monkeypatch):
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.runtime import bundle as bundle_runtime
    from reusevos_edge.runtime.torch_runner import TorchRunner

    runner = _FakeBundleRunner(TorchRunner(model=build_model("tiny"), height=64, width=96))
    monkeypatch.setattr(bundle_runtime, "load_bundle_runner", lambda path, num_threads=None: runner)
    return runner


def test_track_records_name_the_bundle_its_model_size_and_tuned_options(fake_bundle, tmp_path):
    out = tmp_path / "o"
    assert track_cli.main(["--demo", "--demo-frames", "3", "--out", str(out), "--bundle", "b", "--no-progress"]) == 0
    config = json.loads((out / "records.json").read_text())["config"]
    assert (config["bundle"], config["model"], config["size"]) == ("b", "tiny", "64x96")
    assert config["tracker"] == fake_bundle.manifest["tracker"]


@pytest.mark.parametrize("flags, needle", [(["--model", "lite0"], "--model lite0 contradicts --bundle b"),
                                           (["--size", "128x96"], "--size 128x96 contradicts --bundle b")])
def test_flags_that_contradict_the_bundle_are_refused(fake_bundle, tmp_path, capsys, flags, needle):
    assert track_cli.main(["--demo", "--out", str(tmp_path / "o"), "--bundle", "b", *flags]) == 2
    assert needle in _one_error_line(capsys)


def test_gate_flags_override_the_bundles_options(fake_bundle, tmp_path):
    out = tmp_path / "o"
    assert track_cli.main(["--demo", "--demo-frames", "3", "--out", str(out), "--bundle", "b", "--tau", "0.9",
                           "--no-progress"]) == 0
    tracker = json.loads((out / "records.json").read_text())["config"]["tracker"]
    assert (tracker["tau"], tracker["keyframe_bound"]) == (0.9, 2)


# -- DAVIS void pixels and late objects ---------------------------------------------------------------------


def _with_void(root: Path, seq: str) -> None:
    """Paint a void (255) band over the top rows of every annotation of ``seq``."""
    for path in (root / "Annotations" / "480p" / seq).glob("*.png"):
        ids = read_mask(path)
        ids[:4] = 255
        write_mask(path, ids)


def test_eval_ignores_void_pixels_like_the_davis_toolkit(davis2017_tree, tmp_path):
    _with_void(davis2017_tree, "multi")
    report = tmp_path / "r.json"
    assert eval_cli.main(["--davis", str(davis2017_tree), "--sequences", "multi", "--json", str(report), *TINY]) == 0
    assert list(json.loads(report.read_text())["sequences"]["multi"]["objects"]) == ["1", "2", "3"]


def test_void_pixels_count_for_no_object_in_j_and_f():
    from reusevos_edge.metrics.jf import evaluate_sequence

    gt = np.zeros((3, 20, 20), np.uint8)
    gt[:, 5:15, 5:15] = 1
    void = np.zeros_like(gt, bool)
    void[:, 5:15, 15:18] = True  # the prediction spills into void pixels only
    pred = gt.copy()
    pred[:, 5:15, 15:18] = 1
    (scores,) = evaluate_sequence(pred, gt, void=void)
    assert scores.j.mean == 1.0 and scores.f.mean == 1.0
    (plain,) = evaluate_sequence(pred, gt)
    assert plain.j.mean < 1.0


def test_track_mask_with_void_pixels_tracks_the_objects_and_says_so(clip, tmp_path, capsys):
    frames, masks = clip
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:05d}.png")
    first = masks[0].copy()
    first[:3] = 255
    write_mask(tmp_path / "first.png", first)
    out = tmp_path / "o"
    assert track_cli.main([str(folder), "--mask", str(tmp_path / "first.png"), "--out", str(out), *TINY]) == 0
    assert "void pixels (id 255) are ignored" in capsys.readouterr().err
    assert list(json.loads((out / "records.json").read_text())["frames"][0]["objects"]) == ["1", "2"]


def test_eval_sequence_whose_first_annotation_is_empty(davis2016_tree, tmp_path):
    first = davis2016_tree / "Annotations" / "480p" / "slow" / "00000.png"
    write_mask(first, np.zeros_like(read_mask(first)))
    report = tmp_path / "r.json"
    assert eval_cli.main(["--davis", str(davis2016_tree), "--sequences", "slow", "--json", str(report), *TINY]) == 0
    assert list(json.loads(report.read_text())["sequences"]["slow"]["objects"]) == ["1"]


# -- records and overlay say what forced a computed frame ----------------------------------------------------


def test_overlay_says_when_the_keyframe_bound_forced_a_computed_frame():
    from reusevos_edge.tracker.overlay import object_lines
    from reusevos_edge.tracker.state import FrameRecord, ObjectRecord

    record = FrameRecord(index=4, objects={1: ObjectRecord(p_gate=0.8, decision="compute", forced="keyframe_bound"),
                                           2: ObjectRecord(p_gate=0.2, decision="compute")})
    assert object_lines(record) == ["#1 compute (forced: keyframe bound) P_gate 0.80", "#2 compute P_gate 0.20"]


def test_track_records_say_what_forced_a_computed_frame(tmp_path):
    out = tmp_path / "o"
    assert track_cli.main(["--demo", "--demo-frames", "5", "--out", str(out), "--tau", "0", "--keyframe-bound", "1",
                           *TINY]) == 0
    frames = json.loads((out / "records.json").read_text())["frames"]
    assert [frames[i]["objects"]["1"]["forced"] for i in (1, 2, 3, 4)] == [None, "keyframe_bound", None, "keyframe_bound"]


def test_common_cli_module_is_the_one_place_for_shared_options():
    """Every CLI and the tau sweep take the shared options from cli.common (not from another command)."""
    for path in [*(REPO / "reusevos_edge" / "cli").glob("*.py"), REPO / "benchmarks" / "tau_sweep.py"]:
        text = path.read_text()
        assert "from .eval import" not in text and "cli.eval import" not in text, path
    assert callable(common_cli.make_setup) and callable(common_cli.run_cli)
