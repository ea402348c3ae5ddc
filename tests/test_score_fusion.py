"""Score fusion: an untrained fusion passes the appearance score through; trained, it reads the propagated
score and the previous mask, and only those (no backbone features)."""

from __future__ import annotations

import torch

from reusevos_edge.model.score_fusion import ScoreFusion


def _maps(seed: int, n: int = 4, shape=(2, 1, 6, 10)):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(shape, generator=g) for _ in range(n)]


def test_untrained_fusion_is_the_identity_on_the_appearance_score():
    fusion = ScoreFusion(ch=8)
    s_app, prev, delta, m_prev = _maps(0)
    assert torch.equal(fusion(s_app, prev, delta, m_prev), s_app)


def test_fusion_reads_the_propagated_score_and_the_previous_mask():
    torch.manual_seed(0)
    fusion = ScoreFusion(ch=8)
    torch.nn.init.normal_(fusion.out.weight)
    s_app, prev, delta, m_prev = _maps(1)
    base = fusion(s_app, prev, delta, m_prev)
    assert base.shape == s_app.shape
    assert not torch.allclose(base, fusion(s_app, prev, delta, 1.0 - m_prev))
    assert not torch.allclose(base, fusion(s_app, prev, delta + 0.5, m_prev))
    # prev_score and delta enter only as their sum, S_prev + delta (the reuse path's score)
    assert torch.allclose(base, fusion(s_app, prev + 0.3, delta - 0.3, m_prev), atol=1e-6)


def test_fusion_has_no_feature_input():
    """Three maps in (appearance score, propagated score, previous mask): it cannot learn object classes."""
    fusion = ScoreFusion(ch=8)
    assert fusion.body[0].in_channels == 3


def test_fusion_residual_is_bounded():
    """However large the learned residual, the fused score stays within 0.5 of the appearance score."""
    from reusevos_edge.model.score_fusion import RESIDUAL_BOUND

    fusion = ScoreFusion(ch=8)
    torch.nn.init.constant_(fusion.out.bias, 100.0)
    s_app, prev, delta, m_prev = _maps(2)
    up = fusion(s_app, prev, delta, m_prev) - s_app
    torch.nn.init.constant_(fusion.out.bias, -100.0)
    down = fusion(s_app, prev, delta, m_prev) - s_app
    assert torch.allclose(up, torch.full_like(up, RESIDUAL_BOUND)) and torch.allclose(down, -up)
