"""The bundled lite0 heads on what a new user runs first: ``reusevos-track --demo`` and the README's snippet.

Both are textured shapes moving over a textured background; with the default tracker options every
object must be followed to the end (mean IoU >= 0.8 against the clip's own masks). About 60 s
(lite0 at 384x672): marked slow.

The shipped heads do not meet it yet (issue 12; MODEL_CARD.md, "What limits it": the refinement
decoder covers 72 % of a noise-textured object even given its ground-truth score), so both tests are
expected failures, strict: the day new heads pass, the marker must go.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reusevos_edge.data.clip import synthetic_clip
from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.model.registry import build_model
from reusevos_edge.runtime.torch_runner import TorchRunner
from reusevos_edge.tracker.config import tracker_defaults
from reusevos_edge.tracker.tracker import Tracker

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPET_CLIP = "make_clip(num_frames=20, height=240, width=320, num_objects=2, seed=0)"
MIN_MEAN_IOU = 0.8
pytestmark = pytest.mark.slow
KNOWN_DEFECT = pytest.mark.xfail(
    strict=True, reason="issue 12: the bundled heads lose the synthetic textured shapes (mean IoU 0.25 / 0.27 on --demo)"
)


@pytest.fixture(scope="module")
def model():
    return build_model("lite0")


def _track(model, frames, masks) -> dict[int, list[float]]:
    """IoU per object per tracked frame (frame 0 gives the masks), default options, model size 384x672."""
    tracker = Tracker(runner=TorchRunner(model=model, height=384, width=672), config=tracker_defaults(model))
    ids = [int(k) for k in np.unique(masks[0]) if k]
    ious: dict[int, list[float]] = {k: [] for k in ids}
    for i, frame in enumerate(frames):
        labels = tracker.step(frame, new_masks={k: masks[0] == k for k in ids} if i == 0 else None).labels
        if i:
            for k in ids:
                a, b = labels == k, masks[i] == k
                ious[k].append(float((a & b).sum() / max((a | b).sum(), 1)))
    return ious


def _assert_tracked(ious: dict[int, list[float]], what: str) -> None:
    means = {k: round(float(np.mean(v)), 3) for k, v in ious.items()}
    assert all(m >= MIN_MEAN_IOU for m in means.values()), f"{what}: mean IoU per object {means}"
    last = {k: round(v[-1], 3) for k, v in ious.items()}
    assert all(x >= 0.6 for x in last.values()), f"{what}: IoU per object on the last frame {last}"


@KNOWN_DEFECT
def test_the_demo_clip_is_tracked_to_the_end(model):
    clip = synthetic_clip(height=384, width=672, num_frames=48)  # what `reusevos-track --demo` tracks
    frames, masks = make_clip(num_frames=48, height=384, width=672, num_objects=2, speed_px=1.5, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(clip.frames, frames))  # the same clip as --demo
    _assert_tracked(_track(model, frames, masks), "reusevos-track --demo")


@KNOWN_DEFECT
def test_the_readme_snippet_clip_is_tracked_to_the_end(model):
    assert SNIPPET_CLIP in README.read_text()
    frames, masks = make_clip(num_frames=20, height=240, width=320, num_objects=2, seed=0)
    _assert_tracked(_track(model, frames, masks), "README snippet")
