"""The score generator's conv-free products (bmm + shifted maps, so XNNPACK delegates them with runtime weights)
equal the convolutions they replace, in float64 and at float32 rounding, and hinge_mask equals the comparisons."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reusevos_edge.model.score_generator import (
    apply_filter, filter_grad, filter_transpose, hinge_mask, project, project_grad,
)

C, P = 16, 8
F64 = dict(rtol=1e-12, atol=1e-12)


def _randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("n, h, w", [(1, 8, 12), (3, 5, 7), (5, 1, 4)])
def test_products_match_convolutions_float64(n, h, w):
    f16, feat, u = _randn(n, C, h, w, seed=1), _randn(n, P, h, w, seed=2), _randn(n, 1, h, w, seed=3)
    proj_w, filter_w, g_feat = _randn(P, C, 1, 1, seed=4), _randn(1, P, 3, 3, seed=5), _randn(n, P, h, w, seed=6)
    torch.testing.assert_close(project(f16, proj_w), F.conv2d(f16, proj_w), **F64)
    torch.testing.assert_close(apply_filter(feat, filter_w), F.conv2d(feat, filter_w, padding=1), **F64)
    torch.testing.assert_close(filter_transpose(u, filter_w), F.conv_transpose2d(u, filter_w, padding=1), **F64)
    # the gradients against the weight gradients of the same convolutions (conv2d's own backward)
    fw = filter_w.clone().requires_grad_(True)
    (u * F.conv2d(feat, fw, padding=1)).sum().backward()
    torch.testing.assert_close(filter_grad(feat, u), fw.grad, **F64)
    pw = proj_w.clone().requires_grad_(True)
    (g_feat * F.conv2d(f16, pw)).sum().backward()
    torch.testing.assert_close(project_grad(f16, g_feat), pw.grad, **F64)


def test_products_match_convolutions_float32():
    f16, feat, u = (_randn(5, c, 18, 32, seed=s, dtype=torch.float32) for s, c in ((1, 112), (2, 64), (3, 1)))
    proj_w, filter_w = _randn(64, 112, 1, 1, seed=4, dtype=torch.float32), _randn(1, 64, 3, 3, seed=5, dtype=torch.float32)
    tol = dict(rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(project(f16, proj_w), F.conv2d(f16, proj_w), **tol)
    torch.testing.assert_close(apply_filter(feat, filter_w), F.conv2d(feat, filter_w, padding=1), **tol)
    torch.testing.assert_close(filter_transpose(u, filter_w), F.conv_transpose2d(u, filter_w, padding=1), **tol)


def test_hinge_mask_matches_comparisons():
    score = torch.tensor([-1.0, -1e-30, 0.0, 1e-30, 0.3, 1.0, 7.0]).repeat(7)
    label = torch.tensor([0.0, 0.005, 0.01, 0.0100001, 0.5, 1.0, 0.02]).repeat_interleave(7)
    expected = torch.maximum((label > 0.01).float(), (score > 0).float())
    assert torch.equal(hinge_mask(score, label), expected)
