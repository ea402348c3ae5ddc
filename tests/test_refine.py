"""The shallow refiner's score prior: logits = G * (S - 0.5) + B * tanh(decoder / B) at 1/2 resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reusevos_edge.model.layers import resize_to
from reusevos_edge.model.refine import PRIOR_GAIN, RESIDUAL_BOUND, RefineShallow


def _run(net: RefineShallow, score: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(1)
    feats = (torch.randn(1, 6, 16, 24), torch.randn(1, 8, 8, 12), torch.randn(1, 8, 4, 6))
    with torch.no_grad():
        return net(*feats, score)


def _net() -> RefineShallow:
    torch.manual_seed(0)
    return RefineShallow(c4=6, c8=8, deep_ch=8, ch8=8, ch4=8, head_ch=4).eval()


def _prior(score: torch.Tensor) -> torch.Tensor:
    half = resize_to(score, torch.empty(1, 1, 32, 48))
    return F.interpolate(PRIOR_GAIN * (half - 0.5), size=(64, 96), mode="bilinear")


def test_zero_decoder_gives_the_score_prior():
    net = _net()
    with torch.no_grad():
        net.head2.weight.zero_()
        net.head2.bias.zero_()
    score = torch.rand(1, 1, 4, 6)
    logits = _run(net, score)
    assert logits.shape == (1, 1, 64, 96)
    torch.testing.assert_close(logits, _prior(score))


def test_decoder_cannot_veto_a_confident_score():
    """However hard the decoder pushes, the logits stay within B of the prior."""
    net = _net()
    with torch.no_grad():
        net.head2.bias.fill_(-1e4)
    score = torch.ones(1, 1, 4, 6)
    logits = _run(net, score)
    torch.testing.assert_close(logits, _prior(score) - RESIDUAL_BOUND)
    assert bool((logits > 0).all())  # a score of 1 stays object: 8 * 0.5 - 3 > 0


def test_bound_is_the_decoders_reach():
    """B = 1: the same saturated decoder moves the logits by 1, not 3."""
    net = _net()
    net.bound = 1.0
    with torch.no_grad():
        net.head2.bias.fill_(-1e4)
    score = torch.rand(1, 1, 4, 6)
    torch.testing.assert_close(_run(net, score), _prior(score) - 1.0)
