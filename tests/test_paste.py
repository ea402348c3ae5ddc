"""Pasted synthetic training clips (reusevos_edge.data.paste)."""

from __future__ import annotations

import numpy as np
import pytest

from reusevos_edge.data.paste import PasteConfig, pasted_sequences
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.errors import InputError


class _Source:
    """A DAVIS-like sequence over a generated clip (load_frame / load_mask / name / len)."""

    def __init__(self, seed: int) -> None:
        self.name = f"src{seed}"
        self.frames, self.masks = make_clip(num_frames=8, height=72, width=128, num_objects=1, seed=seed)

    def __len__(self) -> int:
        return len(self.frames)

    def load_frame(self, index: int) -> np.ndarray:
        return self.frames[index]

    def load_mask(self, index: int) -> np.ndarray:
        return self.masks[index]


SOURCES = [_Source(s) for s in range(3)]


def test_clips_have_the_background_size_a_visible_target_and_are_deterministic():
    cfg = PasteConfig(num_frames=12)
    a = pasted_sequences(SOURCES, count=4, seed=3, config=cfg)
    b = pasted_sequences(SOURCES, count=4, seed=3, config=cfg)
    for x, y in zip(a, b):
        assert len(x) == 12
        frames, masks = np.stack(list(x.iter_frames())), x.load_masks()
        assert frames.shape == (12, 72, 128, 3) and frames.dtype == np.uint8
        assert masks.shape == (12, 72, 128) and set(np.unique(masks)) <= {0, 1}
        assert masks[0].mean() >= 0.5 * cfg.target_area[0]  # the target is there to start from
        np.testing.assert_array_equal(frames, np.stack(list(y.iter_frames())))
        np.testing.assert_array_equal(masks, y.load_masks())
    assert len({x.name for x in a}) == 4
    c = pasted_sequences(SOURCES, count=1, seed=4, config=cfg)[0]
    assert not np.array_equal(c.load_masks(), a[0].load_masks())


def test_the_target_moves_and_the_frames_change_where_it_is():
    cfg = PasteConfig(num_frames=10, max_speed=0.05, distractor_prob=0.0)
    clip = pasted_sequences(SOURCES, count=1, seed=0, config=cfg)[0]
    masks = clip.load_masks().astype(bool)
    assert (masks[0] != masks[-1]).any()  # it moved (or changed size or angle)


def test_an_occluder_over_the_target_hides_it_from_the_mask_and_one_under_does_not():
    from reusevos_edge.data.paste import _compose, _Path, _Sprite

    frames = np.zeros((1, 40, 60, 3), np.uint8)
    target = _Sprite(rgb=np.full((10, 10, 3), 200, np.uint8), alpha=np.ones((10, 10), np.float32))
    thing = _Sprite(rgb=np.full((10, 10, 3), 90, np.uint8), alpha=np.ones((10, 10), np.float32))
    still = lambda x, y: _Path(centre=(x, y), velocity=(0.0, 0.0), scale=(1.0, 1.0), angle=(0.0, 0.0))  # noqa: E731
    alpha = np.zeros((1, 40, 60), np.float32)
    alpha[0, 15:25, 25:35] = 1.0
    over = _compose(frames, target, still(30, 20), alpha, (thing, still(35, 20), True))
    under = _compose(frames, target, still(30, 20), alpha, (thing, still(35, 20), False))
    assert under["masks"][0].sum() == 100 and (under["frames"][0][under["masks"][0] == 1] == 200).all()
    assert 0 < over["masks"][0].sum() < 100  # the right half is covered
    assert (over["frames"][0][over["masks"][0] == 1] == 200).all()
    assert (over["frames"][0][15:25, 35:40] == 90).all()


def test_bad_arguments_are_refused():
    with pytest.raises(InputError, match="at least 2 source sequences"):
        pasted_sequences(SOURCES[:1], count=1)
    with pytest.raises(InputError, match="count must be >= 0"):
        pasted_sequences(SOURCES, count=-1)
