"""The decoder's reach B (``HeadConfig.residual_bound``): read from a checkpoint's JSON, checked, fingerprinted."""

from __future__ import annotations

import json

import pytest

from reusevos_edge.errors import InputError
from reusevos_edge.model.checkpoint import save_checkpoint
from reusevos_edge.model.config import HeadConfig
from reusevos_edge.model.fingerprint import weights_fingerprint
from reusevos_edge.model.registry import build_model


def test_checkpoint_records_and_restores_the_bound(tmp_path):
    model = build_model("tiny")
    model.set_residual_bound(1.25)
    assert model.refine_shallow.bound == 1.25
    save_checkpoint(model, tmp_path / "b.safetensors")
    assert json.loads((tmp_path / "b.json").read_text())["config"]["head"]["residual_bound"] == 1.25
    loaded = build_model("tiny", checkpoint=tmp_path / "b.safetensors")
    assert loaded.config.head.residual_bound == 1.25 and loaded.refine_shallow.bound == 1.25
    assert weights_fingerprint(loaded) == weights_fingerprint(model)


def test_a_checkpoint_without_it_keeps_the_original_three(tmp_path):
    save_checkpoint(build_model("tiny"), tmp_path / "a.safetensors")
    info = json.loads((tmp_path / "a.json").read_text())
    del info["config"]["head"]["residual_bound"]
    (tmp_path / "a.json").write_text(json.dumps(info))
    assert build_model("tiny", checkpoint=tmp_path / "a.safetensors").refine_shallow.bound == 3.0


def test_the_bound_changes_the_fingerprint():
    model = build_model("tiny")
    before = weights_fingerprint(model)
    model.set_residual_bound(1.0)
    assert weights_fingerprint(model) != before


@pytest.mark.parametrize("bad", [0, -1.0, "1", True, float("inf")])
def test_a_bad_recorded_bound_is_one_clear_error(tmp_path, bad):
    save_checkpoint(build_model("tiny"), tmp_path / "c.safetensors")
    info = json.loads((tmp_path / "c.json").read_text())
    info["config"]["head"]["residual_bound"] = bad
    (tmp_path / "c.json").write_text(json.dumps(info))
    with pytest.raises(InputError, match=r"c\.json: config\.head\.residual_bound"):
        build_model("tiny", checkpoint=tmp_path / "c.safetensors")


def test_config_rejects_a_non_positive_bound():
    with pytest.raises(ValueError, match="residual_bound"):
        HeadConfig(residual_bound=0.0)
