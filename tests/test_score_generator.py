"""The exportable Gauss-Newton/CG score-generator fit: it reduces its loss, separates fg/bg, and its hand-written
gradients are exact."""

from __future__ import annotations

import pytest
import torch

from reusevos_edge.model.config import ScoreFitConfig
from reusevos_edge.model.score_generator import (
    ScoreGenerator, apply_filter, augment, conjugate_gradient, filter_grad, project, project_grad,
)

C, P, h, w = 16, 8, 8, 12


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _scene(seed: int = 0, noise: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """f16 1xCxhxw whose features carry the label along a random direction, and the 1x1xhxw label."""
    g = _gen(seed)
    label = torch.zeros(1, 1, h, w)
    label[..., 2:6, 3:8] = 1.0
    label[..., 2, 3] = 0.5  # one partial-coverage cell
    direction = torch.randn(1, C, 1, 1, generator=g)
    f16 = noise * torch.randn(1, C, h, w, generator=g) + 2.0 * direction * label + 0.3 * direction
    return f16, label


@pytest.fixture
def sg() -> ScoreGenerator:
    fit = ScoreFitConfig(init_cg_iters=(5, 10, 10, 10), update_cg_iters=5, aug_copies=5, memory_slots=8)
    return ScoreGenerator(in_ch=C, proj_ch=P, fit=fit)


def test_init_fit_output_shapes(sg):
    f16, label = _scene()
    proj_w, filter_w, mem_feats, mem_labels = sg.init_fit(f16, label)
    assert proj_w.shape == (P, C, 1, 1) and filter_w.shape == (1, P, 3, 3)
    assert mem_feats.shape == (5, P, h, w) and mem_labels.shape == (5, 1, h, w)
    torch.testing.assert_close(mem_labels, augment(label, 5))
    torch.testing.assert_close(mem_feats, project(augment(f16, 5), proj_w))


def test_init_fit_reduces_loss_and_separates(sg):
    f16, label = _scene()
    x, y = augment(f16, 5), augment(label, 5)
    weights = torch.full((5,), 0.2)
    filter0 = torch.zeros(1, P, 3, 3)
    before = sg.loss(None, y, weights, filter0, proj_w=sg.project_init, f16=x)
    proj_w, filter_w, _, _ = sg.init_fit(f16, label)
    after = sg.loss(None, y, weights, filter_w, proj_w=proj_w, f16=x)
    assert torch.isfinite(after)
    assert after < 0.25 * before, (float(before), float(after))
    assert not torch.equal(proj_w, sg.project_init)  # both layers were fitted

    score, _ = sg(f16, proj_w, filter_w)
    fg, bg = score[label >= 1.0], score[label == 0]
    assert fg.mean() > 0.6, float(fg.mean())
    assert bg.mean() < 0.2, float(bg.mean())
    assert fg.mean() - bg.mean() > 0.5
    # most pixels end up on the right side of 0.5
    acc = ((score > 0.5) == (label > 0.5)).float().mean()
    assert acc > 0.9, float(acc)


def test_init_fit_on_uncorrelated_features_does_not_separate(sg):
    """Control: the separation above comes from the label-correlated features, not the fit alone."""
    f16, label = _scene()
    noise = torch.randn(f16.shape, generator=_gen(5))
    proj_w, filter_w, _, _ = sg.init_fit(f16, label)
    score_ok, _ = sg(f16, proj_w, filter_w)
    proj_n, filter_n, _, _ = sg.init_fit(noise, label)
    score_n, _ = sg(torch.randn(f16.shape, generator=_gen(6)), proj_n, filter_n)
    sep = lambda s: float(s[label >= 1].mean() - s[label == 0].mean())
    assert sep(score_ok) > sep(score_n) + 0.3


def _memory(sg: ScoreGenerator, seed: int = 1):
    f16, label = _scene(seed)
    proj_w, filter_w, mem_feats, mem_labels = sg.init_fit(f16, label)
    # later frames: the object moved one cell, features a bit different
    f16b, _ = _scene(seed + 10, noise=0.7)
    later = torch.roll(label, shifts=1, dims=3)
    extra_feats = project(torch.roll(f16, 1, dims=3) + 0.3 * f16b, proj_w)
    feats = torch.cat([mem_feats, extra_feats], 0)
    labels = torch.cat([mem_labels, later], 0)
    weights = torch.tensor([0.1] * 5 + [0.5])
    return feats, labels, weights, filter_w


def test_update_fit_reduces_memory_loss(sg):
    feats, labels, weights, filter_w = _memory(sg)
    # start from a degraded filter so there is something to recover
    start = 0.3 * filter_w
    wn = weights / weights.sum()
    before = sg.loss(feats, labels, wn, start)
    new = sg.update_fit(feats, labels, weights, start)
    assert new.shape == start.shape
    after = sg.loss(feats, labels, wn, new)
    assert after < 0.7 * before, (float(before), float(after))
    # and from the fitted filter it does not get worse on the new memory
    again = sg.update_fit(feats, labels, weights, filter_w)
    assert sg.loss(feats, labels, wn, again) <= sg.loss(feats, labels, wn, filter_w) + 1e-6


def _f64(*ts):
    return tuple(t.to(torch.float64) for t in ts)


def test_update_fit_zero_weight_slots_are_ignored(sg):
    # float64: exact up to summation order (float32 CG rounding alone moves the result by ~1e-5)
    feats, labels, weights, filter_w = _f64(*_memory(sg))
    ref = sg.update_fit(feats, labels, weights, filter_w)
    g = _gen(9)
    garbage_f = 100.0 * torch.randn(3, *feats.shape[1:], generator=g, dtype=torch.float64)
    garbage_l = torch.rand(3, *labels.shape[1:], generator=g, dtype=torch.float64)
    padded = sg.update_fit(torch.cat([feats[:3], garbage_f, feats[3:]]), torch.cat([labels[:3], garbage_l, labels[3:]]),
                           torch.cat([weights[:3], torch.zeros(3, dtype=torch.float64), weights[3:]]), filter_w)
    torch.testing.assert_close(padded, ref, rtol=1e-9, atol=1e-12)
    # float32 too, at float32 tolerance (the step itself is ~1e-2)
    f32 = sg.update_fit(torch.cat([feats[:3], garbage_f, feats[3:]]).float(),
                        torch.cat([labels[:3], garbage_l, labels[3:]]).float(),
                        torch.cat([weights[:3], torch.zeros(3, dtype=torch.float64), weights[3:]]).float(), filter_w.float())
    torch.testing.assert_close(f32, ref.float(), rtol=1e-3, atol=1e-4)
    # control: the same garbage with a non-zero weight does change the result
    changed = sg.update_fit(torch.cat([feats, garbage_f]), torch.cat([labels, garbage_l]),
                            torch.cat([weights, torch.full((3,), 0.1, dtype=torch.float64)]), filter_w)
    assert (changed - ref).abs().max() > 1e-3


def test_update_fit_weights_are_relative(sg):
    """Weights are normalised: scaling them all by a constant changes nothing."""
    feats, labels, weights, filter_w = _f64(*_memory(sg))
    torch.testing.assert_close(sg.update_fit(feats, labels, 7.0 * weights, filter_w),
                               sg.update_fit(feats, labels, weights, filter_w), rtol=1e-9, atol=1e-12)


def test_filter_grad_matches_autograd():
    g = _gen(2)
    feat = torch.randn(3, P, h, w, generator=g, dtype=torch.float64)
    u = torch.randn(3, 1, h, w, generator=g, dtype=torch.float64)
    fw = torch.randn(1, P, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    (u * apply_filter(feat, fw)).sum().backward()
    torch.testing.assert_close(filter_grad(feat, u), fw.grad)


def test_project_grad_matches_autograd():
    g = _gen(3)
    f16 = torch.randn(3, C, h, w, generator=g, dtype=torch.float64)
    g_feat = torch.randn(3, P, h, w, generator=g, dtype=torch.float64)
    pw = torch.randn(P, C, 1, 1, generator=g, dtype=torch.float64, requires_grad=True)
    (g_feat * project(f16, pw)).sum().backward()
    torch.testing.assert_close(project_grad(f16, g_feat), pw.grad)


def test_filter_transpose_matches_autograd():
    """The vjp of apply_filter w.r.t. its input (used in the joint GN step) is the transposed conv."""
    g = _gen(4)
    feat = torch.randn(2, P, h, w, generator=g, dtype=torch.float64, requires_grad=True)
    fw = torch.randn(1, P, 3, 3, generator=g, dtype=torch.float64)
    u = torch.randn(2, 1, h, w, generator=g, dtype=torch.float64)
    (u * apply_filter(feat, fw)).sum().backward()
    torch.testing.assert_close(torch.nn.functional.conv_transpose2d(u, fw, padding=1), feat.grad)


def test_gn_filter_gradient_is_half_loss_gradient(sg):
    """The right-hand side of the filter GN system is -1/2 dL/dF (checked against autograd of ScoreGenerator.loss)."""
    feats, labels, weights, filter_w = _memory(sg)
    wn = weights / weights.sum()
    fw = filter_w.clone().requires_grad_(True)
    sg.loss(feats, labels, wn, fw).backward()
    s = apply_filter(feats, filter_w)
    wm = sg._pixel_weights(s, labels, wn)
    rhs = -(filter_grad(feats, wm * (s - labels)) + sg.fit.reg_filter * filter_w)
    torch.testing.assert_close(rhs, -0.5 * fw.grad, rtol=1e-4, atol=1e-7)


def test_conjugate_gradient_solves_spd_system():
    g = _gen(7)
    a = torch.randn(6, 6, generator=g, dtype=torch.float64)
    a = a @ a.T + 6 * torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    (x,) = conjugate_gradient(lambda v: (a @ v[0],), (b,), iters=6)
    torch.testing.assert_close(a @ x, b, rtol=1e-6, atol=1e-8)
