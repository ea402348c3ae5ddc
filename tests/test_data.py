"""Mask I/O, the DAVIS-layout reader, the video reader and the synthetic clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from reusevos_edge.data.davis import DavisDataset, first_masks
from reusevos_edge.data.masks_io import davis_palette, read_mask, write_mask
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.data.video import check_frame_size, open_video
from reusevos_edge.errors import InputError

# --- masks ------------------------------------------------------------------------------------

def test_mask_roundtrip_palette(tmp_path):
    ids = np.zeros((12, 16), dtype=np.uint8)
    ids[2:5, 3:9] = 1
    ids[6:10, 1:4] = 7
    write_mask(tmp_path / "m.png", ids)
    with Image.open(tmp_path / "m.png") as image:
        assert image.mode == "P"
        assert image.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
    assert np.array_equal(read_mask(tmp_path / "m.png"), ids)
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]  # no temp file left


def test_davis_palette_known_colours():
    palette = davis_palette()
    assert len(palette) == 768
    assert palette[3 * 3:3 * 4] == [128, 128, 0]
    assert palette[3 * 4:3 * 5] == [0, 0, 128]
    assert palette[3 * 255:] == [224, 224, 192]


def test_read_grayscale_0_255_as_binary(tmp_path):
    values = np.zeros((8, 8), dtype=np.uint8)
    values[2:4, 2:6] = 255
    Image.fromarray(values, mode="L").save(tmp_path / "g.png")
    assert np.array_equal(read_mask(tmp_path / "g.png"), (values > 0).astype(np.uint8))


def test_read_mask_rejects_rgb_and_garbage(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match=r"rgb\.png.*palette \(P\) or grayscale"):
        read_mask(tmp_path / "rgb.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"bad\.png"):
        read_mask(tmp_path / "bad.png")


def test_write_mask_rejects_non_uint8(tmp_path):
    with pytest.raises(InputError, match="HxW uint8"):
        write_mask(tmp_path / "m.png", np.zeros((4, 4), dtype=np.int32))


# --- DAVIS reader -----------------------------------------------------------------------------

def test_davis2016_split_and_binary_masks(davis2016_tree):
    dataset = DavisDataset(root=davis2016_tree, res="480p")
    seqs = dataset.sequences("val")
    assert [s.name for s in seqs] == ["slow", "fast"]
    for seq in seqs:
        assert len(seq) == 6
        assert seq.load_frame(0).shape == (48, 64, 3) and seq.load_frame(0).dtype == np.uint8
        masks = seq.load_masks()
        assert masks.shape == (6, 48, 64)
        assert set(np.unique(masks).tolist()) == {0, 1}  # 0/255 grayscale read as 0/1
        assert list(seq.first_masks()) == [1]


def test_davis_frames_are_rgb(davis2016_tree):
    seq = DavisDataset(root=davis2016_tree).sequences(names=["slow"])[0]
    frames, _ = make_clip(num_frames=6, height=48, width=64, speed_px=1.0, seed=1)
    loaded = np.stack(list(seq.iter_frames())).astype(float)
    error = np.abs(loaded - frames).mean()
    assert error < 12  # JPEG-close
    assert np.abs(loaded[..., ::-1] - frames).mean() > error + 5  # channel order kept


def test_davis2017_object_appearing_later(davis2017_tree):
    seq = DavisDataset(root=davis2017_tree, res="480p").sequences(names=["multi"])[0]
    firsts = seq.first_masks()
    assert {obj_id: first.frame_index for obj_id, first in firsts.items()} == {1: 0, 2: 0, 3: 2}
    masks = seq.load_masks()
    assert np.array_equal(firsts[3].mask, masks[2] == 3)
    assert firsts[3].mask.dtype == bool
    assert {k: v.frame_index for k, v in first_masks(masks).items()} == {1: 0, 2: 0, 3: 2}


def test_davis_explicit_names(davis2016_tree):
    dataset = DavisDataset(root=davis2016_tree)
    assert [s.name for s in dataset.sequences(["fast"])] == ["fast"]
    assert [s.name for s in dataset.sequences(names=("fast", "slow"))] == ["fast", "slow"]


def test_davis_unknown_sequence_lists_available(davis2016_tree):
    dataset = DavisDataset(root=davis2016_tree)
    with pytest.raises(InputError, match=r"\['nope'\].*available: fast, slow"):
        dataset.sequences(names=["slow", "nope"])


def test_davis_missing_split_and_resolution(davis2016_tree, tmp_path):
    with pytest.raises(InputError, match=r"split 'train'.*splits found: \['val'\]"):
        DavisDataset(root=davis2016_tree).sequences("train")
    with pytest.raises(InputError, match=r"resolution '1080p'.*resolutions found: \['480p'\]"):
        DavisDataset(root=davis2016_tree, res="1080p")
    with pytest.raises(InputError, match="resolutions found: none"):
        DavisDataset(root=tmp_path / "nowhere")


def test_davis_frame_without_annotation(davis2016_tree):
    (davis2016_tree / "Annotations" / "480p" / "slow" / "00003.png").unlink()
    seq = DavisDataset(root=davis2016_tree).sequences(names=["slow"])[0]
    assert seq.annotation_paths[3] is None
    assert seq.first_masks()[1].frame_index == 0
    with pytest.raises(InputError, match="00003.jpg has no annotation"):
        seq.load_masks()


# --- video reader -----------------------------------------------------------------------------

def _write_mp4(path: Path, frames: np.ndarray, fps: float = 10.0) -> None:
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def _write_frame_dir(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir()
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:05d}.png")
    return folder


def test_video_file(tmp_path):
    frames, _ = make_clip(num_frames=5, height=48, width=64, seed=4)
    _write_mp4(tmp_path / "clip.mp4", frames)
    video = open_video(tmp_path / "clip.mp4")
    assert (video.frame_count, video.height, video.width) == (5, 48, 64)
    assert video.fps == pytest.approx(10.0)
    read = np.stack(list(video))
    assert read.shape == (5, 48, 64, 3) and read.dtype == np.uint8
    assert np.abs(read.astype(int) - frames).mean() < 20  # lossy, but RGB order kept
    assert np.abs(read[..., ::-1].astype(int) - frames).mean() > np.abs(read.astype(int) - frames).mean()


def test_frame_dir(tmp_path):
    frames, _ = make_clip(num_frames=4, height=32, width=40, seed=5)
    folder = _write_frame_dir(tmp_path / "frames", frames)
    (folder / "notes.txt").write_text("ignored")
    video = open_video(folder, dir_fps=12.0)
    assert (len(video), video.fps, video.height, video.width) == (4, 12.0, 32, 40)
    assert np.array_equal(np.stack(list(video)), frames)  # PNG is lossless


def test_frame_dir_size_change_names_frame(tmp_path):
    frames, _ = make_clip(num_frames=4, height=32, width=40, seed=5)
    folder = _write_frame_dir(tmp_path / "frames", frames)
    Image.fromarray(np.zeros((30, 40, 3), dtype=np.uint8)).save(folder / "00002.png")
    with pytest.raises(InputError, match=r"frame 2 \(00002.png\) is 40x30 \(WxH\) but frame 0 is 40x32"):
        open_video(folder)


def test_frame_size_check_mid_stream():
    frame = np.zeros((30, 40, 3), dtype=np.uint8)
    check_frame_size(frame, index=3, expected=(30, 40), path=Path("v.mp4"))
    with pytest.raises(InputError, match=r"v.mp4: frame 7 is 40x30 \(WxH\) but frame 0 is 50x20"):
        check_frame_size(frame, index=7, expected=(20, 50), path=Path("v.mp4"))


def test_unreadable_inputs(tmp_path):
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(InputError, match=r"bad\.mp4: OpenCV cannot decode it"):
        open_video(tmp_path / "bad.mp4")
    with pytest.raises(InputError, match="no such file or folder"):
        open_video(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no .jpg/.png frames"):
        open_video(tmp_path / "empty")


# --- synthetic clips --------------------------------------------------------------------------

def test_synthetic_deterministic_per_seed():
    a = make_clip(num_frames=5, height=40, width=48, num_objects=2, seed=7)
    b = make_clip(num_frames=5, height=40, width=48, num_objects=2, seed=7)
    c = make_clip(num_frames=5, height=40, width=48, num_objects=2, seed=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (5, 40, 48, 3) and a[1].shape == (5, 40, 48)
    assert a[0].dtype == np.uint8 and a[1].dtype == np.uint8
    assert set(np.unique(a[1]).tolist()) == {0, 1, 2}


@pytest.mark.parametrize("speed", [1.0, 3.0])
def test_synthetic_motion_speed(speed):
    _, masks = make_clip(num_frames=8, height=160, width=200, speed_px=speed, seed=11)
    centres = np.array([np.argwhere(m == 1).mean(axis=0) for m in masks])
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    assert np.median(steps) == pytest.approx(speed, abs=0.3)


def test_synthetic_static_clip():
    frames, masks = make_clip(num_frames=4, height=32, width=32, speed_px=0, seed=1)
    assert all(np.array_equal(frames[0], f) for f in frames)
    assert all(np.array_equal(masks[0], m) for m in masks)


def test_synthetic_object_appearing_later():
    _, masks = make_clip(num_frames=6, height=48, width=64, num_objects=2, seed=3, appear_at=3)
    assert [bool((m == 2).any()) for m in masks] == [False] * 3 + [True] * 3
    assert all((m == 1).any() for m in masks)
    assert {k: v.frame_index for k, v in first_masks(masks).items()} == {1: 0, 2: 3}


def test_synthetic_bad_arguments():
    with pytest.raises(InputError, match="speed_px"):
        make_clip(num_frames=3, height=32, width=32, speed_px=-1)
    with pytest.raises(InputError, match="appear_at"):
        make_clip(num_frames=3, height=32, width=32, appear_at=3)


# --- the real data ----------------------------------------------------------------------------

def test_shared_davis2016(shared_davis):
    val = DavisDataset(root=shared_davis, res="480p").sequences("val")
    assert [s.name for s in val] == ["blackswan", "car-shadow", "dog", "libby", "kite-surf"]
    seq = val[0]
    assert len(seq) == 50 and all(p is not None for p in seq.annotation_paths)
    assert seq.load_frame(0).shape == (480, 854, 3)
    mask = seq.load_mask(0)
    assert mask.shape == (480, 854) and set(np.unique(mask).tolist()) == {0, 1}
    assert list(seq.first_masks()) == [1] and seq.first_masks()[1].frame_index == 0
    train = DavisDataset(root=shared_davis, res="288p").sequences("train")
    assert len(train) == 30 and train[0].load_frame(0).shape == (288, 512, 3)
