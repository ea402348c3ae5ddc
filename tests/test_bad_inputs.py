"""Bad user input raises InputError naming the input: tracker frames/masks/ids, checkpoints, model names, sizes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from reusevos_edge.errors import InputError
from reusevos_edge.model.checkpoint import load_checkpoint, save_checkpoint
from reusevos_edge.model.registry import build_model, parse_size
from reusevos_edge.model.subgraphs import build_subgraphs
from reusevos_edge.runtime.torch_runner import TorchRunner
from reusevos_edge.tracker.config import TrackerConfig
from reusevos_edge.tracker.tracker import Tracker

H, W = 64, 96


@pytest.fixture(scope="module")
def runner() -> TorchRunner:
    return TorchRunner(model=build_model("tiny", use_default_checkpoint=False), height=H, width=W)


@pytest.fixture
def tracker(runner) -> Tracker:
    return Tracker(runner=runner, config=TrackerConfig(tau=0.5))


def frame(h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, size=(h, w, 3), dtype=np.uint8)


def mask(h: int = H, w: int = W) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[10:30, 20:50] = True
    return m


# -- tracker ------------------------------------------------------------------------------------


def test_empty_first_mask(tracker):
    with pytest.raises(InputError, match=r"mask of object 1 on frame 0 is empty"):
        tracker.step(frame(), {1: np.zeros((H, W), bool)})


def test_mask_frame_size_mismatch(tracker):
    with pytest.raises(InputError, match=r"mask of object 1: size \(90, 60\) does not match the frame \(96, 64\)"):
        tracker.step(frame(), {1: mask(60, 90)})


def test_mask_with_channels(tracker):
    with pytest.raises(InputError, match="mask of object 2"):
        tracker.step(frame(), {2: np.ones((H, W, 3), bool)})


@pytest.mark.parametrize("obj_id", [0, 255, 300, -1, "a", 1.0, None, True])
def test_bad_object_ids(tracker, obj_id):
    with pytest.raises(InputError, match=r"object id .*expected an integer in 1\.\.254") as info:
        tracker.step(frame(), {obj_id: mask()})
    assert repr(obj_id) in str(info.value)


def test_numpy_integer_ids_are_fine(tracker):
    r = tracker.step(frame(), {np.int64(254): mask(), np.uint8(1): mask()[::-1].copy()})
    assert tracker.object_ids == [1, 254] and set(np.unique(r.labels)) <= {0, 1, 254}


def test_frame_of_another_size_mid_video(tracker):
    tracker.step(frame(), {1: mask()})
    tracker.step(frame())
    with pytest.raises(InputError) as info:
        tracker.step(frame(48, 80))
    msg = str(info.value)
    assert msg.startswith("frame 2:"), msg
    assert "80x48" in msg and "96x64" in msg
    # the video goes on at its size after the rejected frame
    assert tracker.step(frame()).record.index == 2


@pytest.mark.parametrize("bad", [
    np.zeros((H, W, 3), np.float32), np.zeros((H, W, 3), np.uint16), np.zeros((H, W), np.uint8),
    np.zeros((H, W, 4), np.uint8), [[0, 0, 0]], None,
])
def test_bad_frame_arrays(tracker, bad):
    with pytest.raises(InputError, match=r"frame 0: expected an HxWx3 uint8 RGB array"):
        tracker.step(bad, {1: mask()})


def test_rejected_calls_leave_the_tracker_unchanged(tracker):
    """A rejected first frame must not count: the retry is frame 0 again and still needs masks."""
    with pytest.raises(InputError):
        tracker.step(frame().astype(np.float32), {1: mask()})
    with pytest.raises(InputError):
        tracker.step(frame(), {1: np.zeros((H, W), bool)})
    assert tracker.frame_index == -1 and tracker.frame_size is None and tracker.object_ids == []
    with pytest.raises(InputError):  # a bad size on the (still) first frame does not fix the video size
        tracker.step(frame(32, 32), {1: mask()})
    assert tracker.frame_size is None
    r = tracker.step(frame(), {1: mask()})
    assert r.record.index == 0 and tracker.frame_size == (H, W)


def test_remove_unknown_object(tracker):
    tracker.step(frame(), {1: mask()})
    with pytest.raises(InputError, match=r"object id 7 is not tracked; tracked ids: \[1\]"):
        tracker.remove_object(7)
    assert tracker.object_ids == [1]


def test_negative_keyframe_bound():
    with pytest.raises(InputError, match="keyframe_bound=-1"):
        TrackerConfig(keyframe_bound=-1)


@pytest.mark.parametrize("scale", [-0.1, 1.5, "1"])
def test_delta_scale_out_of_range(scale):
    with pytest.raises(InputError, match="delta_scale="):
        TrackerConfig(delta_scale=scale)


@pytest.mark.parametrize("argv, flag", [
    (["--tau", "1.5"], "--tau 1.5"),
    (["--keyframe-bound", "-2"], "--keyframe-bound -2"),
    (["--locality-radius", "-3"], "--locality-radius -3"),
    (["--delta-scale", "2"], "--delta-scale 2.0"),
])
def test_gate_flags_name_the_bad_flag(argv, flag):
    import argparse

    from reusevos_edge.cli.common import add_gate_args, tracker_config

    parser = argparse.ArgumentParser()
    add_gate_args(parser)
    with pytest.raises(InputError, match=re.escape(flag)):
        tracker_config(parser.parse_args(argv), TrackerConfig())


def test_gate_flags_minus_one_means_none_and_unset_flags_keep_the_weights_defaults():
    import argparse

    from reusevos_edge.cli.common import add_gate_args, tracker_config

    parser = argparse.ArgumentParser()
    add_gate_args(parser)
    tuned = TrackerConfig(tau=0.4, keyframe_bound=3, locality_radius=2, delta_scale=0.5, update_every=4)
    assert tracker_config(parser.parse_args([]), tuned) == tuned
    config = tracker_config(parser.parse_args(["--keyframe-bound", "-1", "--locality-radius", "-1", "--tau", "0.3"]),
                            tuned)
    assert (config.keyframe_bound, config.locality_radius, config.tau, config.update_every) == (None, None, 0.3, 4)


def test_runner_rejects_wrong_feed_shape(runner):
    with pytest.raises(InputError, match=r"subgraph 'backbone_low' input 'image'"):
        runner.run("backbone_low", {"image": np.zeros((1, 3, 32, 32), np.float32)})
    with pytest.raises(InputError, match="subgraph 'nope' is not in model 'tiny'"):
        runner.run("nope", {})


# -- checkpoints --------------------------------------------------------------------------------


def _outputs(model) -> dict[str, tuple[torch.Tensor, ...]]:
    with torch.inference_mode():
        return {g.name: g.module(*g.example_inputs(seed=3)) for g in build_subgraphs(model, height=H, width=W)}


def _assert_same_outputs(a, b) -> None:
    oa, ob = _outputs(a), _outputs(b)
    for name in oa:
        for x, y in zip(oa[name], ob[name]):
            assert torch.equal(x, y), name


def _perturbed_tiny(seed: int = 5):
    """A tiny model whose head differs from a fresh build (as if trained), BN statistics included."""
    model = build_model("tiny", use_default_checkpoint=False, seed=seed)
    with torch.no_grad():
        for k, t in model.state_dict().items():
            if t.is_floating_point():
                t.add_(0.01 * torch.rand(t.shape, generator=torch.Generator().manual_seed(len(k))))
    return model


def test_checkpoint_round_trip_full(tmp_path):
    src = _perturbed_tiny()
    path = tmp_path / "full.safetensors"
    save_checkpoint(src, path, include_backbone=True, extra={"note": "x"})
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["variant"] == "tiny" and info["note"] == "x" and info["config"]["name"] == "tiny"
    dst = build_model("tiny", use_default_checkpoint=False, seed=1)
    load_checkpoint(dst, path)
    _assert_same_outputs(src, dst)
    # and via build_model(checkpoint=)
    _assert_same_outputs(src, build_model("tiny", checkpoint=path, seed=2))


def test_checkpoint_round_trip_head_only(tmp_path):
    src = _perturbed_tiny()
    path = tmp_path / "head.safetensors"
    save_checkpoint(src, path)
    dst = build_model("tiny", use_default_checkpoint=False, seed=1)
    backbone_before = {k: v.clone() for k, v in dst.backbone_low.state_dict().items()}
    load_checkpoint(dst, path)
    for k, v in dst.head_state_dict().items():
        if v.dtype != torch.long:
            assert torch.equal(v, src.head_state_dict()[k]), k
    for k, v in dst.backbone_low.state_dict().items():
        assert torch.equal(v, backbone_before[k]), k  # backbone kept as built


def test_checkpoint_torch_state_dict_file(tmp_path):
    """A plain torch.save(model.state_dict()) (which carries BN num_batches_tracked) loads too."""
    src = _perturbed_tiny()
    path = tmp_path / "model.pt"
    torch.save(src.state_dict(), path)
    dst = build_model("tiny", use_default_checkpoint=False, seed=1)
    load_checkpoint(dst, path)
    _assert_same_outputs(src, dst)


def _write(path: Path, tensors: dict, variant: str | None = "tiny") -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"variant": variant} if variant else None)
    return path


def _head(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.head_state_dict().items() if v.dtype != torch.long}


@pytest.fixture(scope="module")
def tiny():
    return build_model("tiny", use_default_checkpoint=False)


def test_checkpoint_missing_key(tmp_path, tiny):
    tensors = _head(tiny)
    del tensors["gate.conv2.bias"]
    path = _write(tmp_path / "m.safetensors", tensors)
    with pytest.raises(InputError, match=r"m\.safetensors does not fit model 'tiny': missing keys \['gate\.conv2\.bias'\]"):
        load_checkpoint(build_model("tiny", use_default_checkpoint=False), path)


def test_checkpoint_extra_key(tmp_path, tiny):
    path = _write(tmp_path / "e.safetensors", {**_head(tiny), "gate.extra.weight": torch.zeros(2)})
    with pytest.raises(InputError, match=r"unexpected keys \['gate\.extra\.weight'\]"):
        load_checkpoint(build_model("tiny", use_default_checkpoint=False), path)


def test_checkpoint_wrong_shape(tmp_path, tiny):
    tensors = _head(tiny)
    tensors["gate.conv2.bias"] = torch.zeros(3)
    path = _write(tmp_path / "s.safetensors", tensors)
    with pytest.raises(InputError, match=r"wrong shapes \['gate\.conv2\.bias: \(3,\) != \(2,\)'\]"):
        load_checkpoint(build_model("tiny", use_default_checkpoint=False), path)


def test_checkpoint_failed_load_changes_nothing(tmp_path, tiny):
    tensors = {k: v + 1 for k, v in _head(tiny).items()}
    tensors["gate.conv2.bias"] = torch.zeros(3)
    path = _write(tmp_path / "s.safetensors", tensors)
    model = build_model("tiny", use_default_checkpoint=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(InputError):
        load_checkpoint(model, path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_checkpoint_wrong_variant(tmp_path, tiny):
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(tiny, path)
    r18 = build_model("r18", use_default_checkpoint=False)
    with pytest.raises(InputError, match=r"made for model 'tiny', not 'r18'"):
        load_checkpoint(r18, path)


def test_checkpoint_wrong_variant_without_metadata(tmp_path, tiny):
    """Without the variant tag the shapes still give it away."""
    path = _write(tmp_path / "anon.safetensors", _head(tiny), variant=None)
    with pytest.raises(InputError, match=r"does not fit model 'r18'.*wrong shapes"):
        load_checkpoint(build_model("r18", use_default_checkpoint=False), path)


def test_checkpoint_missing_file(tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(InputError, match=r"nope\.safetensors: no such file"):
        load_checkpoint(build_model("tiny", use_default_checkpoint=False), path)
    with pytest.raises(InputError, match="no such file"):
        build_model("tiny", checkpoint=path)


@pytest.mark.parametrize("name", ["garbage.safetensors", "garbage.pt", "garbage.bin"])
def test_checkpoint_garbage_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\x01not a checkpoint at all" * 50)
    with pytest.raises(InputError, match=rf"checkpoint .*{name}: not a"):
        load_checkpoint(build_model("tiny", use_default_checkpoint=False), path)


def test_checkpoint_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(InputError, match="expected a state dict of tensors, got list"):
        load_checkpoint(build_model("tiny", use_default_checkpoint=False), path)


# -- registry -----------------------------------------------------------------------------------


def test_unknown_model():
    with pytest.raises(InputError, match=r"model 'nope' is not registered; choose one of \['lite0', 'r18', 'tiny'\]"):
        build_model("nope")


def test_unknown_backbone_is_an_error_not_tiny():
    from reusevos_edge.model.registry import _backbone

    with pytest.raises(InputError, match="backbone 'lite9' is unknown"):
        _backbone("lite9", pretrained=False)


def test_checkpoint_with_nan_weights_is_refused(tmp_path, tiny):
    tensors = _head(tiny)
    tensors["gate.conv2.bias"][0] = float("nan")
    path = _write(tmp_path / "nan.safetensors", tensors)
    with pytest.raises(InputError, match=r"nan\.safetensors: tensors hold NaN or infinite values: \['gate\.conv2\.bias'\]"):
        load_checkpoint(build_model("tiny", use_default_checkpoint=False), path)


def test_checkpoint_json_carries_the_tracker_defaults(tmp_path, tiny):
    from reusevos_edge.tracker.config import tracker_defaults

    tuned = TrackerConfig(tau=0.35, keyframe_bound=2, locality_radius=None, delta_scale=0.25, update_every=3)
    path = tmp_path / "tuned.safetensors"
    save_checkpoint(tiny, path, extra={"tracker": tuned.to_json()})
    assert tracker_defaults(tiny, checkpoint=path) == tuned
    save_checkpoint(tiny, tmp_path / "plain.safetensors")
    plain = tracker_defaults(tiny, checkpoint=tmp_path / "plain.safetensors")
    assert plain == TrackerConfig(update_every=tiny.config.fit.update_every)  # the paper's tracker
    lite0 = tracker_defaults(build_model("lite0", pretrained=False))  # the bundled checkpoint's section
    assert (lite0.tau, lite0.keyframe_bound, lite0.locality_radius, lite0.delta_scale) == (0.6382, 1, 1, 0.0)
    bad = tmp_path / "bad.safetensors"
    save_checkpoint(tiny, bad, extra={"tracker": {"tau": 0.5, "gamma": 2}})
    with pytest.raises(InputError, match=r"unknown tracker options \['gamma'\]"):
        tracker_defaults(tiny, checkpoint=bad)


@pytest.mark.parametrize("text", ["100x96", "288x500", "0x32", "-32x64", "288", "288x512x3", "axb", "", "288*512"])
def test_parse_size_rejects(text):
    with pytest.raises(InputError, match=re.escape(f"--size '{text}'")):
        parse_size(text)


def test_parse_size_accepts():
    assert parse_size("288x512") == (288, 512)
    assert parse_size("64X96") == (64, 96)
