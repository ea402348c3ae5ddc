"""adaptive_max_pool_static: bit-exact with F.adaptive_max_pool2d, and built only from delegable ops."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reusevos_edge.model.layers import adaptive_bins, adaptive_max_pool_static

# f8 of every frame size the contract accepts (multiples of 32) up to 1920 is a multiple of 4; the gate
# pools it to 7x7, then its stride-2 conv makes 4x4, pooled to 3x3.
F8_SIDES = list(range(4, 241, 4))


def _check(h: int, w: int, out: int, *, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, h, w, generator=g)
    x[:, 1] = torch.randint(-2, 3, (h, w), generator=g).float()  # ties
    got = adaptive_max_pool_static(x, out)
    want = F.adaptive_max_pool2d(x, out)
    assert got.shape == want.shape, (h, w, out)
    assert torch.equal(got, want), (h, w, out)


@pytest.mark.parametrize("out", [7, 3])
def test_matches_torch_on_f8_sizes(out):
    for h in F8_SIDES[:30]:
        for w in F8_SIDES:
            _check(h, w, out, seed=h * 1000 + w)


@pytest.mark.parametrize("out", [1, 2, 3, 4, 5, 7, 9])
def test_matches_torch_on_small_and_odd_sizes(out):
    """Includes sides shorter than ``out`` (repeated bins) and primes."""
    sides = list(range(1, 24)) + [29, 31, 36, 37, 64, 65, 97]
    for h in sides:
        for w in sides:
            _check(h, w, out, seed=h * 100 + w + out)


@pytest.mark.parametrize("hw,out", [((36, 64), 7), ((4, 4), 3), ((8, 12), 7), ((5, 9), 3), ((3, 4), 7)])
def test_non_finite_values_match(hw, out):
    x = torch.randn(1, 4, *hw, generator=torch.Generator().manual_seed(3))
    x[0, 0, 0, 0] = float("nan")
    x[0, 1, hw[0] // 2, hw[1] // 2] = float("inf")
    x[0, 2] = float("-inf")
    torch.testing.assert_close(adaptive_max_pool_static(x, out), F.adaptive_max_pool2d(x, out),
                               rtol=0, atol=0, equal_nan=True)


def test_adaptive_bins_are_torch_bins():
    assert adaptive_bins(36, 7) == [(0, 6), (5, 11), (10, 16), (15, 21), (20, 26), (25, 31), (30, 36)]
    assert adaptive_bins(12, 7) == [(0, 2), (1, 4), (3, 6), (5, 7), (6, 9), (8, 11), (10, 12)]
    for size in range(1, 300):
        for out in range(1, 12):
            assert len({e - s for s, e in adaptive_bins(size, out)}) <= 2, (size, out)


def _exported_ops(h: int, w: int, out: int) -> list[tuple[str, tuple]]:
    class Pool(torch.nn.Module):
        def forward(self, x):
            return adaptive_max_pool_static(x, out)

    ep = torch.export.export(Pool(), (torch.randn(1, 2, h, w),))
    return [(str(n.target), n.args) for n in ep.graph.nodes if n.op == "call_function"]


@pytest.mark.parametrize("hw,out", [((36, 64), 7), ((4, 4), 3), ((8, 8), 7), ((8, 12), 7), ((3, 4), 7), ((28, 48), 7)])
def test_exports_to_delegable_ops_only(hw, out):
    """No amax/adaptive pool: max_pool2d (stride <= kernel, no ceil mode), unit-step slices and cat (XNNPACK's rules)."""
    ops = _exported_ops(*hw, out)
    names = {name for name, _ in ops}
    assert names <= {"aten.max_pool2d.default", "aten.slice.Tensor", "aten.narrow.default", "aten.cat.default"}, names
    for name, args in ops:
        if name == "aten.max_pool2d.default":
            kernel, stride = args[1], args[2]
            assert all(s <= k for s, k in zip(stride, kernel)), args
            assert len(args) < 6 or not args[5], args
        if name == "aten.slice.Tensor":
            assert len(args) < 5 or args[4] == 1, args


def test_default_frame_size_is_one_max_pool():
    """lite0 at 288x512: f8 36x64 -> 7x7 and 4x4 -> 3x3 are each a single strided max_pool2d."""
    (op,) = _exported_ops(36, 64, 7)
    assert op[0] == "aten.max_pool2d.default" and list(op[1][1]) == [6, 10] and list(op[1][2]) == [5, 9]
    (op,) = _exported_ops(4, 4, 3)
    assert op[0] == "aten.max_pool2d.default" and list(op[1][1]) == [2, 2] and list(op[1][2]) == [1, 1]


@pytest.mark.backend
@pytest.mark.parametrize("hw", [(64, 96), (288, 512), (384, 672)])
def test_executorch_delegates_the_gate_pooling(hw, tmp_path):
    """match_gate through the real ExecuTorch+XNNPACK export: no pooling op is left on the portable kernels
    (64x96: non-uniform bins 8x12 -> 7x7; 288x512: 36x64 -> 7x7; 384x672, the default size: 48x84 -> 7x7)."""
    pytest.importorskip("executorch.exir")
    from reusevos_edge.converters.executorch_export import export_executorch
    from reusevos_edge.model.registry import build_model
    from reusevos_edge.model.subgraphs import build_subgraphs

    (mg,) = [g for g in build_subgraphs(build_model("tiny"), height=hw[0], width=hw[1]) if g.name == "match_gate"]
    result = export_executorch([mg], tmp_path)
    undelegated = result.undelegated_ops["match_gate"]
    assert not [op for op in undelegated if "amax" in op or "pool" in op or "slice" in op or "cat" in op], undelegated
