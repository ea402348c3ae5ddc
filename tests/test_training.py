"""Training: loss terms, margin schedule, clip sampling, unrolling, Trainer (checkpoints, determinism,
resume), DDP parity over two gloo ranks and the ``reusevos-train`` CLI. Tiny model, synthetic clips."""

from __future__ import annotations

import json

import numpy as np
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reusevos_edge.cli.train import main as train_main
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.model.registry import build_model
from reusevos_edge.training.feature_cache import CachedSequence, cache_sequence
from reusevos_edge.training.losses import delta_loss, gate_probability_loss, margin, mask_loss
from reusevos_edge.training.trainer import TrainConfig, Trainer, head_parameters
from reusevos_edge.training.unroll import ClipPlan, sample_clip, unroll_clip

H, W = 64, 96
REPO_ROOT = Path(__file__).resolve().parents[1]


def _tiny():
    return build_model("tiny", use_default_checkpoint=False, seed=0)


def _cache(model, name: str, *, seed: int, num_frames: int = 8, speed: float = 3.0) -> CachedSequence:
    frames, masks = make_clip(num_frames=num_frames, height=48, width=72, speed_px=speed, seed=seed)
    return cache_sequence(model, name, frames, masks, height=H, width=W)


@pytest.fixture(scope="module")
def data() -> list[CachedSequence]:
    """Two cached synthetic sequences (features of the seed-0 tiny backbone, shared by every tiny model here:
    the backbone is frozen and the score-generator fit has no trainable parameters)."""
    model = _tiny()
    return [_cache(model, "a", seed=1), _cache(model, "b", seed=2, speed=5.0)]


def _heads(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.head_state_dict().items() if v.dtype != torch.long}


def _assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=atol, rtol=0), k


def _differ(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())


# ---------------------------------------------------------------- loss terms


def test_mask_loss_is_bce():
    logits = torch.tensor([[[[2.0, -1.0], [0.5, 0.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    p = torch.sigmoid(logits)
    expected = -(mask * p.log() + (1 - mask) * (1 - p).log()).mean()
    assert torch.allclose(mask_loss(logits, mask), expected, atol=1e-6)


def test_delta_loss_zero_at_target_and_mse_otherwise():
    g = torch.Generator().manual_seed(0)
    y16, prev = torch.rand(1, 1, 4, 6, generator=g), torch.rand(1, 1, 4, 6, generator=g)
    assert float(delta_loss(y16 - prev, y16, prev)) == pytest.approx(0.0, abs=1e-12)
    delta = torch.rand(1, 1, 4, 6, generator=g)
    expected = ((delta - (y16 - prev)) ** 2).mean()
    assert torch.allclose(delta_loss(delta, y16, prev), expected, atol=1e-7)


@pytest.mark.parametrize(
    "p, iou, m, m2, expected",
    [
        (0.9, 0.8, 0.0, 0.0, 0.1**2),  # target = IoU
        (0.9, 0.2, 0.9, 0.0, 0.0),  # margin applied: target = max(0.9, 0.2) = 0.9
        (0.2, 0.2, 0.9, 0.0, 0.7**2),  # p at IoU but the margin pushes the target to 0.9
        (0.5, 0.6, 0.3, 0.0, 0.1**2),  # IoU above the margin wins
        (0.9, 0.8, 0.0, 0.3, 0.3**2),  # m2 floors a small error
        (0.9, 0.9, 0.0, 0.25, 0.25**2),  # ... even a zero one
        (0.1, 0.9, 0.0, 0.3, 0.8**2),  # m2 does not cap a large error
    ],
)
def test_gate_probability_loss(p, iou, m, m2, expected):
    loss = gate_probability_loss(torch.tensor([p]), torch.tensor(iou), m=m, m2=m2)
    assert float(loss.mean()) == pytest.approx(expected, abs=1e-6)


def test_gate_target_iou_is_the_metrics_jaccard_on_1x1xhxw_masks():
    from reusevos_edge.metrics.jf import jaccard

    a = np.zeros((1, 1, 4, 4), bool)
    b = np.zeros((1, 1, 4, 4), bool)
    assert jaccard(a, b) == 1.0  # both empty
    a[..., :2, :] = True  # 8 pixels
    assert jaccard(a, b) == 0.0
    b[..., 1:3, :] = True  # 8 pixels, 4 shared, union 12
    assert jaccard(a, b) == pytest.approx(4 / 12)


def test_margin_schedule():
    assert margin(0, m1=1.0, margin_epochs=120) == 0.0
    assert margin(60, m1=1.0, margin_epochs=120) == pytest.approx(0.5)
    assert margin(30, m1=0.8, margin_epochs=120) == pytest.approx(0.8 * 30 / 120)
    assert margin(120, m1=0.8, margin_epochs=120) == pytest.approx(0.8)
    assert margin(500, m1=0.8, margin_epochs=120) == pytest.approx(0.8)
    assert margin(0, m1=0.7, margin_epochs=0) == pytest.approx(0.7)


# ---------------------------------------------------------------- clips


def _indices(clip) -> list[int]:
    return [clip.init, *clip.frames]


def test_sample_clip(data):
    seq = data[0]
    for seed in range(20):
        clip = sample_clip(seq, length=4, max_stride=2, gen=torch.Generator().manual_seed(seed))
        idx = _indices(clip)
        assert len(idx) == 4 and clip.seed == clip.init  # no gap asked for: contiguous
        assert all(0 <= i < len(seq) for i in idx)
        assert all(a < b for a, b in zip(idx, idx[1:]))
    # a sequence just long enough for stride 1: the stride shrinks to fit, indices stay increasing
    short = CachedSequence(name="s", feats={}, mask=torch.zeros(5, 1, 2, 2), mask8=None, mask16=None)
    for seed in range(20):
        clip = sample_clip(short, length=5, max_stride=4, gen=torch.Generator().manual_seed(seed), max_gap=3, gap_prob=1.0)
        assert _indices(clip) == [0, 1, 2, 3, 4] and clip.seed == 0  # no room for a gap either
    draws = [sample_clip(seq, length=3, max_stride=3, gen=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert draws[0] == draws[1]
    many = {sample_clip(seq, length=3, max_stride=3, gen=torch.Generator().manual_seed(s)) for s in range(20)}
    assert len(many) > 1


def test_sample_clip_gap(data):
    """With gap_prob 1 every clip tracks from a seed frame 1..max_gap after init; the stride follows the seed."""
    seq = data[0]  # 8 frames
    gaps = set()
    for s in range(40):
        clip = sample_clip(seq, length=3, max_stride=1, gen=torch.Generator().manual_seed(s), max_gap=4, gap_prob=1.0)
        assert 1 <= clip.seed - clip.init <= 4
        assert clip.frames == (clip.seed + 1, clip.seed + 2) and clip.frames[-1] < len(seq)
        gaps.add(clip.seed - clip.init)
    assert len(gaps) > 1
    for s in range(20):  # gap_prob 0 never gaps
        clip = sample_clip(seq, length=3, max_stride=2, gen=torch.Generator().manual_seed(s), max_gap=4, gap_prob=0.0)
        assert clip.seed == clip.init


def test_unroll_gap_clip_seeds_state_from_the_seed_frame(data):
    """A gap clip differs from the contiguous clip over the same tracked frames only through its seed state."""
    model = _tiny()
    seq = data[0]
    with torch.no_grad():
        gap = unroll_clip(model, seq, ClipPlan(init=0, seed=3, frames=(4, 5)), tau=1.1, m=0.5, m2=0.0)
        seeded_at_3 = unroll_clip(model, seq, ClipPlan(init=3, seed=3, frames=(4, 5)), tau=1.1, m=0.5, m2=0.0)
        from_0 = unroll_clip(model, seq, ClipPlan(init=0, seed=0, frames=(4, 5)), tau=1.1, m=0.5, m2=0.0)
    assert gap.frames == 2 and gap.reused == 0
    assert float(gap.bce) != float(seeded_at_3.bce)  # the fit and template come from frame 0, not 3
    assert float(gap.delta) != float(from_0.delta)  # S_prev is frame 3's label, not frame 0's


def test_perturb_label16_dilates_erodes_or_shifts():
    from reusevos_edge.training.unroll import perturb_label16

    label = torch.zeros(1, 1, 12, 16)
    label[..., 4:8, 5:10] = 1.0
    seen = set()
    for s in range(40):
        out = perturb_label16(label, torch.Generator().manual_seed(s))
        area, inside = float(out.sum()), float(out[..., 4:8, 5:10].sum())
        if area > label.sum():
            seen.add("dilate")
            assert inside == 20.0  # a dilation keeps the object
        elif area < label.sum():
            seen.add("erode")
            assert area == 2 * 3 and float(out[..., 5:7, 6:9].sum()) == 6  # one cell off every side
        else:
            seen.add("shift or same")
        assert out.shape == label.shape
    assert seen == {"dilate", "erode", "shift or same"}
    a = perturb_label16(label, torch.Generator().manual_seed(3))
    assert torch.equal(a, perturb_label16(label, torch.Generator().manual_seed(3)))


def test_seed_perturb_changes_the_seed_state_only_when_on(data):
    model = _tiny()
    seq, clip = data[0], ClipPlan(init=0, seed=2, frames=(3, 4))

    def delta(p: float, s: int) -> float:
        with torch.no_grad():
            return float(unroll_clip(model, seq, clip, tau=1.1, m=0.5, m2=0.0, seed_perturb=p,
                                     gen=torch.Generator().manual_seed(s)).delta)

    assert delta(0.0, 0) == delta(0.0, 1)
    assert len({delta(1.0, s) for s in range(6)}) > 1  # S_prev differs, so the delta target does


def test_unroll_clip_gating_and_grads(data):
    model = _tiny()
    model.train()
    seq, idx = data[0], [0, 1, 2, 3]
    never = unroll_clip(model, seq, idx, tau=1.1, m=0.5, m2=0.0)
    assert never.reused == 0 and never.frames == 3
    always = unroll_clip(model, seq, idx, tau=0.0, m=0.5, m2=0.0, flip=True)
    assert always.reused == 3 and always.frames == 3
    for losses in (never, always):
        for term in (losses.bce, losses.delta, losses.gate, losses.total):
            assert torch.isfinite(term) and term.requires_grad
    for p in model.backbone_parameters():
        p.requires_grad_(False)
    model.zero_grad(set_to_none=True)
    (never.total + always.total).backward()
    assert all(p.grad is None for p in model.backbone_parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in head_parameters(model))


def test_shadow_reuse_trains_the_reuse_path_on_computed_frames(data):
    """With the gate never reusing, only shadow_reuse gives the translator a gradient; it adds one mask loss
    per computed frame, and reuses states drawn from the clip's earlier computed frames (``gen``)."""
    model = _tiny()
    model.train()
    seq, idx = data[0], [0, 1, 2, 3]
    for shadow in (False, True):
        model.zero_grad(set_to_none=True)
        losses = unroll_clip(model, seq, idx, tau=1.1, m=0.5, m2=0.0, shadow_reuse=shadow,
                             gen=torch.Generator().manual_seed(0))
        assert losses.reused == 0
        losses.total.backward()
        grads = [p.grad for p in model.translator.parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads) == shadow
    plain = float(unroll_clip(model, seq, idx, tau=1.1, m=0.5, m2=0.0).bce)
    runs = {float(unroll_clip(model, seq, idx, tau=1.1, m=0.5, m2=0.0, shadow_reuse=True,
                              gen=torch.Generator().manual_seed(s)).bce) for s in range(6)}
    assert len(runs) > 1 and plain not in runs  # the drawn state varies; the loss is not the plain one


def test_score_jitter_scales_only_computed_scores(data):
    """Jitter changes the computed path's loss, is reproducible for one generator seed, and is off at 0."""
    model = _tiny()
    seq, idx = data[0], [0, 1, 2, 3]

    def bce(jitter: float, seed: int) -> float:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            return float(unroll_clip(model, seq, idx, tau=1.1, m=0.5, m2=0.0, score_jitter=jitter, gen=gen).bce)

    assert bce(0.0, 0) == bce(0.0, 1)
    assert bce(0.5, 3) == bce(0.5, 3)
    assert bce(0.5, 3) != bce(0.0, 3)


def test_optimisation_steps_lower_the_loss(data):
    model = _tiny()
    model.train()
    for p in model.backbone_parameters():
        p.requires_grad_(False)
    params = head_parameters(model)
    opt = torch.optim.Adam(params, lr=5e-3, amsgrad=True)
    seq, idx = data[0], [0, 1, 2]
    before = float(unroll_clip(model, seq, idx, tau=1.1, m=0.5, m2=0.0).total.detach())
    for _ in range(5):
        opt.zero_grad(set_to_none=True)
        unroll_clip(model, seq, idx, tau=1.1, m=0.5, m2=0.0).total.backward()
        opt.step()
    after = float(unroll_clip(model, seq, idx, tau=1.1, m=0.5, m2=0.0).total.detach())
    assert after < before


# ---------------------------------------------------------------- Trainer


def _train(out: Path, data, *, epochs: int = 2, seed: int = 0, resume: bool = False):
    model = _tiny()
    cfg = TrainConfig(epochs=epochs, clips_per_epoch=4, batch=2, clip_len=3, seed=seed)
    trainer = Trainer(model=model, data=data, config=cfg, out=out, progress=False)
    if resume:
        trainer.resume()
    history = trainer.train()
    return model, history


def test_trainer_end_to_end_roundtrip_and_determinism(data, tmp_path):
    model, history = _train(tmp_path / "a", data)
    out = tmp_path / "a"
    for name in ("last.safetensors", "last.json", "state.pt", "history.json"):
        assert (out / name).is_file(), name
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in history)
    assert json.loads((out / "history.json").read_text()) == json.loads(json.dumps(history))
    info = json.loads((out / "last.json").read_text())
    assert info["variant"] == "tiny" and info["epoch"] == 2 and info["train_config"]["seed"] == 0

    trained = _heads(model)
    assert _differ(trained, _heads(_tiny()))
    loaded = build_model("tiny", checkpoint=out / "last.safetensors", use_default_checkpoint=False)
    _assert_same(trained, _heads(loaded))

    again, _ = _train(tmp_path / "b", data)
    _assert_same(trained, _heads(again))
    other, _ = _train(tmp_path / "c", data, seed=1)
    assert _differ(trained, _heads(other))


def test_freeze_bn_keeps_the_heads_batchnorm_statistics(data, tmp_path):
    """freeze_bn (default): the heads' BatchNorm running statistics stay as they started while the other
    weights train; freeze_bn=False lets them follow the batch-of-one clips."""
    def stats(model):
        return {k: v.clone() for k, v in model.head_state_dict().items() if "running_" in k}

    for freeze in (True, False):
        model = _tiny()
        before = stats(model)
        assert before  # the tiny heads have BatchNorm layers (RRBs, gate)
        cfg = TrainConfig(epochs=1, clips_per_epoch=2, batch=2, clip_len=3, freeze_bn=freeze)
        Trainer(model=model, data=data, config=cfg, out=tmp_path / str(freeze), progress=False).train()
        after = stats(model)
        changed = [k for k in before if not torch.equal(before[k], after[k])]
        assert (changed == []) if freeze else any(k.startswith("refine_deep.") for k in changed), changed
        assert _differ(_heads(model), _heads(_tiny()))


def test_resume_matches_straight_run(data, tmp_path):
    straight, _ = _train(tmp_path / "straight", data, epochs=2)
    _train(tmp_path / "split", data, epochs=1)
    resumed, history = _train(tmp_path / "split", data, epochs=2, resume=True)
    assert [h["epoch"] for h in history] == [1, 2]
    _assert_same(_heads(straight), _heads(resumed), atol=1e-6)


def test_ddp_two_ranks_end_identical(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "reusevos_edge.training.ddp_smoke", str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from safetensors.torch import load_file

    init = load_file(tmp_path / "init.safetensors")
    r0, r1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    _assert_same(r0, r1)
    assert _differ(r0, init)
    assert (tmp_path / "out" / "last.safetensors").is_file()


# ---------------------------------------------------------------- CLI


def _cli_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["--davis", str(root), "--res", "480p", "--split", "val", "--model", "tiny", "--size", "64x96",
            "--epochs", "1", "--clips-per-epoch", "2", "--batch", "1", "--clip-len", "3", "--no-progress",
            "--out", str(out), *extra]


def test_cli_trains_and_writes_checkpoint(davis2016_tree, tmp_path, capsys):
    out = tmp_path / "run"
    assert train_main(_cli_args(davis2016_tree, out)) == 0
    assert (out / "last.safetensors").is_file() and (out / "state.pt").is_file()
    build_model("tiny", checkpoint=out / "last.safetensors", use_default_checkpoint=False)
    out_text = capsys.readouterr().out
    assert "done: epoch 1" in out_text
    # --no-progress still logs one line per epoch with the loss terms and the reuse rate
    assert re.search(r"^epoch 1/1 loss [0-9.]+ bce [0-9.]+ delta [0-9.]+ gate [0-9.]+ reuse [0-9.]+ \(\d+ s\)$",
                     out_text, flags=re.M)


def test_cli_pasted_clips_join_the_training_data_and_are_recorded(davis2016_tree, tmp_path, capsys):
    out = tmp_path / "run"
    assert train_main(_cli_args(davis2016_tree, out, "--pasted", "2")) == 0
    meta = json.loads((out / "last.json").read_text())
    assert meta["train_config"]["pasted"] == 2
    assert "caching backbone features" not in capsys.readouterr().out  # --no-progress: no bars


def test_cli_resume_without_state_and_bad_size(davis2016_tree, tmp_path, capsys):
    assert train_main(_cli_args(davis2016_tree, tmp_path / "none", "--resume")) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "state.pt" in err and "--resume" in err
    assert train_main(_cli_args(davis2016_tree, tmp_path / "bad", "--size", "65x96")) == 2
    assert "--size" in capsys.readouterr().err
    assert train_main(_cli_args(davis2016_tree, tmp_path / "bad", "--size", "big")) == 2
    assert train_main(_cli_args(davis2016_tree, tmp_path / "bad", "--keep-every", "-1")) == 2
    assert "--keep-every -1" in capsys.readouterr().err
    assert train_main(_cli_args(davis2016_tree, tmp_path / "bad", "--residual-bound", "0")) == 2
    assert "--residual-bound 0.0" in capsys.readouterr().err
    assert train_main(_cli_args(davis2016_tree, tmp_path / "bad", "--mask-teacher", "true")) == 2
    err = capsys.readouterr().err
    assert "--mask-teacher" in err and "--qat" in err and not (tmp_path / "bad").exists()


def test_cli_residual_bound_trains_and_is_recorded(davis2016_tree, tmp_path):
    out = tmp_path / "run"
    assert train_main(_cli_args(davis2016_tree, out, "--residual-bound", "1")) == 0
    assert json.loads((out / "last.json").read_text())["config"]["head"]["residual_bound"] == 1.0
    assert build_model("tiny", checkpoint=out / "last.safetensors", use_default_checkpoint=False).refine_shallow.bound == 1.0


def test_feature_cache_on_disk_round_trip(davis2016_tree, tmp_path):
    """--cache-dir: the second run reads features, labels and every frame's fits back unchanged; a model
    with other fit settings gets its own files (the key covers them)."""
    import dataclasses

    from reusevos_edge.data.davis import DavisDataset
    from reusevos_edge.training.feature_cache import cache_dataset, cache_key

    seqs = DavisDataset(root=davis2016_tree, res="480p").sequences(split="val")
    model = _tiny()
    first = cache_dataset(model, seqs, height=H, width=W, progress=False, cache_dir=tmp_path / "c")
    files = sorted((tmp_path / "c").glob("*.pt"))
    assert len(files) == len(seqs) and all(cache_key(model) in f.name for f in files)
    assert len(first[0].fits) == 2 * len(first[0])  # every frame, both flips
    again = cache_dataset(model, seqs, height=H, width=W, progress=False, cache_dir=tmp_path / "c")
    for a, b in zip(first, again):
        assert a.name == b.name and a.fits.keys() == b.fits.keys()
        for k in a.feats:
            assert torch.equal(a.feats[k], b.feats[k])
        assert torch.equal(a.mask16, b.mask16)
        for k in a.fits:
            assert all(torch.equal(x, y) for x, y in zip(a.fits[k], b.fits[k]))
    other = _tiny()
    other.config = dataclasses.replace(other.config, fit=dataclasses.replace(other.config.fit, reg_filter=0.5))
    assert cache_key(other) != cache_key(model)
