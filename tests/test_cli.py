"""The CLIs end to end with the ``tiny`` model at 64x96: outputs, JSON keys, bad input -> exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from reusevos_edge.cli import eval as eval_cli
from reusevos_edge.cli import track as track_cli
from reusevos_edge.data.masks_io import read_mask, write_mask
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.errors import InputError

TINY = ["--model", "tiny", "--untrained", "--size", "64x96", "--no-progress"]
KEYS = ("J", "F", "jf", "reuse_rate", "fps")


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


# --- reusevos-eval ----------------------------------------------------------------------------

def test_eval_writes_table_and_json(davis2016_tree, tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = eval_cli.main(["--davis", str(davis2016_tree), "--res", "480p", "--split", "val",
                        "--tau", "0.5", "--keyframe-bound", "2", "--json", str(out), *TINY])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| sequence" in printed and "| overall" in printed
    report = json.loads(out.read_text())
    assert list(report["sequences"]) == ["slow", "fast"]
    for seq in report["sequences"].values():
        assert all(key in seq for key in KEYS)
        assert 0 <= seq["jf"] <= 100 and seq["fps"] > 0 and seq["num_frames"] == 6
    assert all(key in report["overall"] for key in KEYS)
    assert report["config"]["tracker"]["tau"] == 0.5 and report["config"]["tracker"]["keyframe_bound"] == 2
    assert (report["config"]["model"], report["config"]["size"], report["config"]["bundle"]) == ("tiny", "64x96", None)


def test_eval_multi_object_with_late_object(davis2017_tree, tmp_path):
    out = tmp_path / "r.json"
    rc = eval_cli.main(["--davis", str(davis2017_tree), "--sequences", "multi", "--json", str(out), *TINY])
    assert rc == 0
    report = json.loads(out.read_text())
    assert list(report["sequences"]["multi"]["objects"]) == ["1", "2", "3"]
    assert report["overall"]["num_objects"] == 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--sequences", "slow,nope"], "available: fast, slow"),
        (["--sequences", "slow,slow"], "listed more than once"),
        (["--bundle", "somewhere"], "bundle 'somewhere' is not a folder"),
        (["--bundle", "."], "bundle '.' has no manifest.json"),
        (["--size", "50x96"], "--size '50x96'"),
        (["--tau", "1.5"], "--tau 1.5"),
        (["--res", "1080p"], "resolution '1080p'"),
        (["--checkpoint", "missing.safetensors"], "--checkpoint missing.safetensors: no such file"),
        (["--threads", "0"], "--threads 0: expected at least 1"),
    ],
)
def test_eval_bad_input_exits_2(davis2016_tree, tmp_path, capsys, extra, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r.json"
    args = ["--davis", str(davis2016_tree), "--json", str(out), *TINY]
    rc = eval_cli.main(args + extra)  # later options win over TINY's
    assert rc == 2
    assert message in _error(capsys)
    assert not out.exists()


# --- reusevos-track ---------------------------------------------------------------------------

@pytest.fixture
def clip():
    return make_clip(num_frames=5, height=48, width=64, num_objects=2, seed=9)


def _write_mp4(path: Path, frames: np.ndarray) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _count_video_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def _check_outputs(out: Path, num_frames: int, size: tuple[int, int]) -> dict:
    pngs = sorted(out.glob("0*.png"))
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(num_frames)]
    assert read_mask(pngs[-1]).shape == size
    with Image.open(pngs[0]) as image:
        assert image.mode == "P"
    assert _count_video_frames(out / "overlay.mp4") == num_frames
    records = json.loads((out / "records.json").read_text())
    assert len(records["frames"]) == num_frames == records["num_frames"]
    first = records["frames"][0]["objects"]
    assert all(obj["decision"] == "init" for obj in first.values())
    later = records["frames"][1]["objects"]
    assert all(obj["decision"] in ("compute", "reuse") and 0 <= obj["p_gate"] <= 1 for obj in later.values())
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".partial")]
    return records


def test_track_video_file(clip, tmp_path):
    frames, masks = clip
    video = _write_mp4(tmp_path / "clip.mp4", frames)
    write_mask(tmp_path / "first.png", masks[0])
    out = tmp_path / "out"
    rc = track_cli.main([str(video), "--mask", str(tmp_path / "first.png"), "--out", str(out), *TINY])
    assert rc == 0
    records = _check_outputs(out, 5, (48, 64))
    assert list(records["frames"][0]["objects"]) == ["1", "2"]


def test_track_frame_dir_into_empty_out(clip, tmp_path):
    frames, masks = clip
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:05d}.jpg")
    write_mask(tmp_path / "first.png", masks[0])
    out = tmp_path / "out"
    out.mkdir()  # an empty folder is accepted
    rc = track_cli.main([str(folder), "--mask", str(tmp_path / "first.png"), "--out", str(out),
                         "--tau", "0", "--keyframe-bound", "-1", *TINY])
    assert rc == 0
    records = _check_outputs(out, 5, (48, 64))
    assert all(obj["decision"] == "reuse" for obj in records["frames"][2]["objects"].values())
    assert "backbone_high" not in records["frames"][2]["ran"]


def test_track_demo(tmp_path):
    out = tmp_path / "demo"
    assert track_cli.main(["--demo", "--demo-frames", "4", "--out", str(out), *TINY]) == 0
    _check_outputs(out, 4, (64, 96))
    assert set(np.unique(read_mask(out / "first_mask.png")).tolist()) == {0, 1, 2}


def _track_bad(tmp_path, capsys, argv) -> str:
    out = tmp_path / "out"
    rc = track_cli.main([*argv, "--out", str(out), *TINY])
    assert rc == 2
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    return _error(capsys)


def test_track_empty_first_mask(clip, tmp_path, capsys):
    video = _write_mp4(tmp_path / "clip.mp4", clip[0])
    write_mask(tmp_path / "first.png", np.zeros((48, 64), dtype=np.uint8))
    err = _track_bad(tmp_path, capsys, [str(video), "--mask", str(tmp_path / "first.png")])
    assert "first.png: the mask holds no object" in err


def test_track_mask_size_mismatch(clip, tmp_path, capsys):
    video = _write_mp4(tmp_path / "clip.mp4", clip[0])
    write_mask(tmp_path / "first.png", np.ones((40, 64), dtype=np.uint8))
    err = _track_bad(tmp_path, capsys, [str(video), "--mask", str(tmp_path / "first.png")])
    assert "mask is 64x40 (WxH) but the video frames are 64x48" in err


def test_track_unreadable_video(clip, tmp_path, capsys):
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 512)
    write_mask(tmp_path / "first.png", clip[1][0])
    err = _track_bad(tmp_path, capsys, [str(tmp_path / "bad.mp4"), "--mask", str(tmp_path / "first.png")])
    assert "bad.mp4: OpenCV cannot decode it" in err


def test_track_missing_mask_argument(clip, tmp_path, capsys):
    video = _write_mp4(tmp_path / "clip.mp4", clip[0])
    assert "--mask FIRST.png are required" in _track_bad(tmp_path, capsys, [str(video)])


def test_track_failure_midway_leaves_nothing(clip, tmp_path, capsys, monkeypatch):
    frames, masks = clip
    video = _write_mp4(tmp_path / "clip.mp4", frames)
    write_mask(tmp_path / "first.png", masks[0])
    real = track_cli.render_overlay  # the name track_into calls

    def failing(frame, labels, record):
        if record.index == 2:
            raise InputError("simulated failure on frame 2")
        return real(frame, labels, record)

    monkeypatch.setattr(track_cli, "render_overlay", failing)
    err = _track_bad(tmp_path, capsys, [str(video), "--mask", str(tmp_path / "first.png")])
    assert "simulated failure on frame 2" in err


def test_track_refuses_non_empty_out(clip, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    rc = track_cli.main(["--demo", "--out", str(out), *TINY])
    assert rc == 2
    assert "already exists and is not empty" in _error(capsys)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_frame_label_and_overlay():
    from reusevos_edge.tracker import overlay as track_cli  # the overlay lives in the library
    from reusevos_edge.tracker.state import FrameRecord, ObjectRecord

    record = FrameRecord(index=3, objects={1: ObjectRecord(p_gate=0.91, decision="reuse")},
                         ran=["backbone_low", "match_gate"])
    assert track_cli.frame_label(record) == "REUSED"
    assert track_cli.object_lines(record) == ["#1 reuse P_gate 0.91"]
    record.ran.append("backbone_high")
    assert track_cli.frame_label(record) == "COMPUTED"
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    labels = np.zeros((48, 64), dtype=np.uint8)
    labels[10:30, 10:40] = 1
    out = track_cli.render_overlay(frame, labels, record)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert out[20, 20, 0] > 0 and out[40, 60].sum() == 0  # tinted object, untouched background


@pytest.mark.slow
def test_eval_on_shared_davis(shared_davis, tmp_path):
    out = tmp_path / "r.json"
    rc = eval_cli.main(["--davis", str(shared_davis), "--res", "480p", "--sequences", "blackswan",
                        "--json", str(out), *TINY])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["sequences"]["blackswan"]["num_frames"] == 50
    assert all(report["overall"][key] is not None for key in ("J", "F", "jf", "fps"))
