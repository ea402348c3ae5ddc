"""The host tracker on synthetic clips (tiny model): what runs on computed and reuse frames, keyframe bound,
score updates, multiple objects with per-object gating, and the soft fusion of object probabilities."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from reusevos_edge.data.synthetic import make_clip
from reusevos_edge.model.registry import build_model
from reusevos_edge.model.subgraphs import SKIPPED_ON_REUSE
from reusevos_edge.runtime.base import CountingRunner
from reusevos_edge.runtime.torch_runner import TorchRunner
from reusevos_edge.tracker.fusion import fuse_labels, soft_aggregate
from reusevos_edge.errors import InputError
from reusevos_edge.tracker.config import TrackerConfig
from reusevos_edge.tracker.tracker import Tracker

H, W = 64, 96
EVERY = 2  # the tiny variant's score-generator schedule (ScoreFitConfig.update_every)


@pytest.fixture(scope="module")
def torch_runner() -> TorchRunner:
    model = build_model("tiny", use_default_checkpoint=False)
    return TorchRunner(model=model, height=H, width=W)


@pytest.fixture(scope="module")
def clip():
    return make_clip(num_frames=8, height=H, width=W, num_objects=1, speed_px=2.0, seed=0)


def run_clip(runner, frames, masks, *, tau, keyframe_bound=None, later=None):
    """Track a clip; object 1 from frame 0's mask, ``later`` = {frame: {id: mask}}. Returns (tracker, results)."""
    tracker = Tracker(runner=runner, config=TrackerConfig(update_every=EVERY, tau=tau, keyframe_bound=keyframe_bound))
    results = []
    for i, frame in enumerate(frames):
        new = {1: masks[0] == 1} if i == 0 else (later or {}).get(i)
        results.append(tracker.step(frame, new))
    return tracker, results


def ran_counts(results) -> Counter:
    return Counter(name for r in results for name in r.record.ran)


def test_tau_one_computes_every_frame(torch_runner, clip):
    frames, masks = clip
    runner = CountingRunner(torch_runner)
    _, results = run_clip(runner, frames, masks, tau=1.0)
    assert results[0].record.objects[1].decision == "init"
    assert results[0].record.objects[1].p_gate is None
    for r in results[1:]:
        assert r.record.objects[1].decision == "compute", r.record.index
        assert isinstance(r.record.objects[1].p_gate, float)
        c = Counter(r.record.ran)
        assert c["backbone_low"] == c["backbone_high"] == c["score_gen"] == c["refine_deep"] == 1, r.record.ran
        assert c["match_gate"] == c["refine_shallow"] == 1
        assert c["refine_translate"] == 0
    n = len(frames)
    assert runner.calls["backbone_low"] == n
    assert runner.calls["backbone_high"] == n
    assert runner.calls["score_gen"] == n - 1
    assert runner.calls["refine_deep"] == n  # init frame + every computed frame
    assert runner.calls["score_init"] == runner.calls["template_build"] == 1
    assert runner.calls["score_refit"] == torch_runner.subgraphs["score_refit"].repeat >= 1
    assert runner.calls["refine_translate"] == 0
    assert ran_counts(results) == runner.calls


def test_tau_zero_reuses_every_frame_after_the_first(torch_runner, clip):
    frames, masks = clip
    runner = CountingRunner(torch_runner)
    tracker, results = run_clip(runner, frames, masks, tau=0.0)
    init_ran = results[0].record.ran
    assert {"backbone_high", "refine_deep", "score_init", "template_build"} <= set(init_ran)
    for r in results[1:]:
        assert r.record.objects[1].decision == "reuse", r.record.index
        assert not set(SKIPPED_ON_REUSE) & set(r.record.ran), r.record.ran
        assert Counter(r.record.ran) == Counter(["backbone_low", "match_gate", "refine_translate", "refine_shallow"])
    assert runner.calls["backbone_high"] == 1
    assert runner.calls["refine_deep"] == 1
    assert runner.calls["score_gen"] == 0
    assert runner.calls["score_update"] == 0
    assert runner.calls["backbone_low"] == len(frames)
    assert runner.calls["refine_translate"] == len(frames) - 1
    assert ran_counts(results) == runner.calls
    obj = tracker.objects[1]
    assert obj.reused_frames == len(frames) - 1 and obj.computed_frames == 0
    assert obj.consecutive_reuse == len(frames) - 1


def test_reuse_keeps_last_computed_state(torch_runner, clip):
    """S and R are overwritten on computed frames only: reuse frames read the init frame's S and R (no accumulation)."""
    frames, masks = clip
    tracker = Tracker(runner=torch_runner, config=TrackerConfig(update_every=EVERY, tau=0.0, keyframe_bound=None))
    tracker.step(frames[0], {1: masks[0] == 1})
    score0, refined0 = tracker.objects[1].score.copy(), tracker.objects[1].refined.copy()
    for f in frames[1:4]:
        tracker.step(f)
    np.testing.assert_array_equal(tracker.objects[1].score, score0)
    np.testing.assert_array_equal(tracker.objects[1].refined, refined0)
    # a computed frame does overwrite them
    tracker.config = TrackerConfig(update_every=EVERY, tau=1.0)
    tracker.step(frames[4])
    assert not np.array_equal(tracker.objects[1].score, score0)


def test_results_are_at_frame_size_and_consistent(torch_runner):
    frames, masks = make_clip(num_frames=3, height=50, width=70, seed=4)  # resized to the 64x96 model size
    tracker, results = run_clip(CountingRunner(torch_runner), frames, masks, tau=0.5)
    for r in results:
        assert r.labels.shape == (50, 70) and r.labels.dtype == np.uint8
        assert set(r.probs) == {1}
        p = r.probs[1]
        assert p.shape == (50, 70) and p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
        np.testing.assert_array_equal(r.labels, fuse_labels(r.probs, (50, 70)))
    np.testing.assert_array_equal(results[0].labels, masks[0])  # the first frame returns the given mask
    assert [r.record.index for r in results] == [0, 1, 2]


def test_keyframe_bound_forces_compute(torch_runner):
    frames, masks = make_clip(num_frames=10, height=H, width=W, seed=1)
    runner = CountingRunner(torch_runner)
    _, results = run_clip(runner, frames, masks, tau=0.0, keyframe_bound=3)
    decisions = [r.record.objects[1].decision for r in results]
    assert decisions == ["init"] + ["reuse", "reuse", "reuse", "compute"] * 2 + ["reuse"]
    assert runner.calls["backbone_high"] == 1 + 2
    assert ran_counts(results) == runner.calls


def test_keyframe_bound_zero_never_reuses(torch_runner, clip):
    frames, masks = clip
    _, results = run_clip(CountingRunner(torch_runner), frames[:4], masks, tau=0.0, keyframe_bound=0)
    assert [r.record.objects[1].decision for r in results[1:]] == ["compute"] * 3


def test_score_update_every_n_computed_frames(torch_runner, clip):
    frames, masks = clip
    every = EVERY
    assert every >= 2  # otherwise this test cannot tell "every frame" from "every N frames"
    runner = CountingRunner(torch_runner)
    tracker, results = run_clip(runner, frames, masks, tau=1.0)
    updated = [r.record.index for r in results if "score_update" in r.record.ran]
    # computed frame k (1-based) is frame k here; updates after every ``every``-th computed frame
    assert updated == [i for i in range(1, len(frames)) if i % every == 0]
    assert runner.calls["score_update"] == (len(frames) - 1) // every
    for r in results:
        if "score_update" in r.record.ran:
            assert r.record.ran.index("score_update") > r.record.ran.index("refine_shallow")
    obj = tracker.objects[1]
    assert obj.computed_frames == len(frames) - 1
    # the memory holds the first frame's copies plus computed samples
    assert (obj.memory.weights[: obj.memory.num_init] > 0).all()
    assert (obj.memory.weights[obj.memory.num_init:] > 0).sum() == min(len(frames) - 1, len(obj.memory.weights) - obj.memory.num_init)


def test_score_update_counts_computed_frames_only(torch_runner):
    """With the keyframe bound, reuse frames do not advance the update schedule."""
    frames, masks = make_clip(num_frames=9, height=H, width=W, seed=2)
    every = EVERY
    _, results = run_clip(CountingRunner(torch_runner), frames, masks, tau=0.0, keyframe_bound=1)
    computed = [r.record.index for r in results if r.record.objects[1].decision == "compute"]
    updated = [r.record.index for r in results if "score_update" in r.record.ran]
    assert computed == [2, 4, 6, 8]
    assert updated == computed[every - 1 :: every]


def test_multi_object_late_appearance(torch_runner):
    frames, masks = make_clip(num_frames=6, height=H, width=W, num_objects=2, seed=3, appear_at=3)
    assert not (masks[:3] == 2).any() and (masks[3] == 2).any()
    runner = CountingRunner(torch_runner)
    tracker = Tracker(runner=runner, config=TrackerConfig(update_every=EVERY, tau=1.0))
    results = []
    for i, frame in enumerate(frames):
        new = {1: masks[0] == 1} if i == 0 else ({2: masks[3] == 2} if i == 3 else None)
        results.append(tracker.step(frame, new))
    assert tracker.object_ids == [1, 2]
    for r in results[:3]:
        assert set(r.record.objects) == {1} and set(r.probs) == {1}
        assert 2 not in r.labels
    assert results[3].record.objects[2].decision == "init"
    assert results[3].record.objects[1].decision == "compute"
    for r in results[4:]:
        assert set(r.record.objects) == {1, 2}
        assert all(o.decision == "compute" for o in r.record.objects.values())
    for r in results[3:]:
        assert set(r.probs) == {1, 2}
        np.testing.assert_array_equal(r.labels, fuse_labels(r.probs, (H, W)))
        assert set(np.unique(r.labels)) <= {0, 1, 2}
    assert 2 in results[3].labels  # (object 1's pixels depend on the untrained tiny heads: fusion is checked above)
    # object 2's first frame: its own mask wins where it is certain
    assert (results[3].labels[masks[3] == 2] == 2).all()
    # features once per frame, the high backbone once per frame even with two objects computing
    assert runner.calls["backbone_low"] == len(frames)
    assert runner.calls["backbone_high"] == len(frames)
    for r in results:
        assert r.record.ran.count("backbone_low") == 1 and r.record.ran.count("backbone_high") == 1
    for r in results[4:]:
        assert r.record.ran.count("match_gate") == 2 and r.record.ran.count("score_gen") == 2
    assert runner.calls["template_build"] == runner.calls["score_init"] == 2
    assert ran_counts(results) == runner.calls


class GateStub:
    """Wraps a runner; ``match_gate`` reports a p_gate chosen per object (found by its template array)."""

    def __init__(self, inner, tracker_ref: dict, p_by_id: dict[int, list[float]]) -> None:
        self.inner, self.ref, self.p_by_id = inner, tracker_ref, p_by_id
        self.subgraphs = inner.subgraphs

    def run(self, name, feeds):
        out = self.inner.run(name, feeds)
        if name == "match_gate":
            (obj_id,) = [i for i, o in self.ref["tracker"].objects.items() if o.template is feeds["template"]]
            out = {**out, "p_gate": np.array([self.p_by_id[obj_id].pop(0)], np.float32)}
        return out


def test_per_object_gating(torch_runner):
    frames, masks = make_clip(num_frames=5, height=H, width=W, num_objects=2, seed=5)
    ref: dict = {}
    # frame:        1          2            3            4
    p = {1: [0.9, 0.1, 0.9, 0.1], 2: [0.1, 0.9, 0.9, 0.1]}
    runner = CountingRunner(GateStub(torch_runner, ref, p))
    tracker = ref["tracker"] = Tracker(runner=runner, config=TrackerConfig(update_every=EVERY, tau=0.5, keyframe_bound=None))
    results = [tracker.step(frames[0], {1: masks[0] == 1, 2: masks[0] == 2})]
    assert results[0].record.ran.count("backbone_high") == 1  # two objects initialised, one high backbone
    results += [tracker.step(f) for f in frames[1:]]
    decisions = [{k: o.decision for k, o in r.record.objects.items()} for r in results[1:]]
    assert decisions == [{1: "reuse", 2: "compute"}, {1: "compute", 2: "reuse"}, {1: "reuse", 2: "reuse"},
                         {1: "compute", 2: "compute"}]
    assert results[1].record.objects[1].p_gate == pytest.approx(0.9)
    assert results[1].record.objects[2].p_gate == pytest.approx(0.1)
    high = [r.record.ran.count("backbone_high") for r in results[1:]]
    gen = [r.record.ran.count("score_gen") for r in results[1:]]
    deep = [r.record.ran.count("refine_deep") for r in results[1:]]
    translate = [r.record.ran.count("refine_translate") for r in results[1:]]
    assert high == [1, 1, 0, 1]
    assert gen == deep == [1, 1, 0, 2]
    assert translate == [1, 1, 2, 0]
    assert [r.record.ran.count("refine_shallow") for r in results[1:]] == [2, 2, 2, 2]
    assert ran_counts(results) == runner.calls
    assert tracker.objects[1].reused_frames == 2 and tracker.objects[2].reused_frames == 2


def test_remove_object_stops_its_work(torch_runner):
    frames, masks = make_clip(num_frames=3, height=H, width=W, num_objects=2, seed=6)
    tracker = Tracker(runner=CountingRunner(torch_runner), config=TrackerConfig(update_every=EVERY, tau=1.0))
    tracker.step(frames[0], {1: masks[0] == 1, 2: masks[0] == 2})
    tracker.remove_object(1)
    r = tracker.step(frames[1])
    assert set(r.record.objects) == {2} and set(r.probs) == {2}
    assert r.record.ran.count("match_gate") == 1 and 1 not in r.labels


def test_reset_starts_a_new_video(torch_runner, clip):
    frames, masks = clip
    tracker = Tracker(runner=torch_runner, config=TrackerConfig(update_every=EVERY, tau=1.0))
    tracker.step(frames[0], {1: masks[0] == 1})
    tracker.step(frames[1])
    tracker.reset()
    assert tracker.object_ids == []
    small = np.zeros((32, 32, 3), np.uint8)
    m = np.zeros((32, 32), bool)
    m[4:9, 4:9] = True
    r = tracker.step(small, {3: m})  # a new size is fine after reset
    assert r.record.index == 0 and r.labels.shape == (32, 32) and set(np.unique(r.labels)) == {0, 3}


# -- fusion -------------------------------------------------------------------------------------


def test_soft_aggregate_argmax_and_background():
    probs = np.array([[[0.9, 0.2, 0.1, 0.6]], [[0.1, 0.8, 0.2, 0.7]]], np.float32)  # K=2, 1x4
    np.testing.assert_array_equal(soft_aggregate(probs), [[1, 2, 0, 2]])
    # all low -> background
    assert (soft_aggregate(np.full((3, 2, 2), 0.3, np.float32)) == 0).all()
    # a single object: foreground exactly where p > 0.5
    single = np.array([[[0.49, 0.51, 0.0, 1.0]]], np.float32)
    np.testing.assert_array_equal(soft_aggregate(single), [[0, 1, 0, 1]])
    # overlap: both confident, the more confident wins, either order
    both = np.array([[[0.95]], [[0.99]]], np.float32)
    assert soft_aggregate(both)[0, 0] == 2 and soft_aggregate(both[::-1].copy())[0, 0] == 1
    # saturated probabilities are clamped, not NaN
    sat = np.array([[[1.0, 0.0]], [[1.0, 0.0]]], np.float32)
    out = soft_aggregate(sat)
    assert out.dtype == np.uint8 and out[0, 1] == 0 and out[0, 0] in (1, 2)
    # no objects
    assert soft_aggregate(np.zeros((0, 2, 3), np.float32)).shape == (2, 3)
    with pytest.raises(ValueError):
        soft_aggregate(np.zeros((2, 3), np.float32))


def _soft_aggregate_by_definition(probs: np.ndarray) -> np.ndarray:
    """The argmax of the softmax over [background, objects] log-odds, written out (float64)."""
    p = np.clip(probs.astype(np.float64), 1e-12, 1 - 1e-12)
    stack = np.concatenate([np.min(1 - p, axis=0, keepdims=True), p])
    logits = np.log(stack / (1 - stack))
    soft = np.exp(logits - logits.max(axis=0)) / np.exp(logits - logits.max(axis=0)).sum(axis=0)
    return np.argmax(soft, axis=0).astype(np.uint8)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_soft_aggregate_is_the_softmax_argmax(k):
    rng = np.random.default_rng(k)
    probs = rng.random((k, 40, 50)).astype(np.float32)
    probs[:, :5] = np.round(probs[:, :5] * 4) / 4  # ties among objects and at 0.5
    np.testing.assert_array_equal(soft_aggregate(probs), _soft_aggregate_by_definition(probs))


def test_fuse_labels_maps_ids():
    a = np.array([[0.9, 0.1, 0.1], [0.1, 0.1, 0.7]], np.float32)
    b = np.array([[0.1, 0.8, 0.1], [0.1, 0.2, 0.9]], np.float32)
    out = fuse_labels({7: a, 200: b}, (2, 3))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[7, 200, 0], [0, 0, 200]])
    # insertion order does not matter
    np.testing.assert_array_equal(fuse_labels({200: b, 7: a}, (2, 3)), out)
    assert (fuse_labels({}, (2, 3)) == 0).all() and fuse_labels({}, (2, 3)).shape == (2, 3)


def test_locality_window_dilates_the_covered_cells():
    from reusevos_edge.tracker.frames import locality_window

    mask16 = np.zeros((1, 1, 6, 8), np.float32)
    mask16[0, 0, 2, 3] = 0.5
    mask16[0, 0, 5, 7] = 0.05  # under 10% coverage: not covered
    window = locality_window(mask16, 1)
    assert window.shape == mask16.shape
    expected = np.zeros((6, 8), np.float32)
    expected[1:4, 2:5] = 1.0
    np.testing.assert_array_equal(window[0, 0], expected)
    assert locality_window(np.zeros_like(mask16), 2).min() == 1.0  # object lost: search everywhere


def test_locality_radius_zeroes_the_score_away_from_the_last_mask(torch_runner, clip):
    from reusevos_edge.tracker.frames import locality_window

    frames, masks = clip
    tracker = Tracker(runner=torch_runner, config=TrackerConfig(update_every=EVERY, tau=1.0, locality_radius=0))
    tracker.step(frames[0], {1: masks[0] == 1})
    obj = tracker.objects[1]
    for k, frame in enumerate(frames[1:4]):
        last = np.zeros_like(obj.last_mask16)  # the untrained tiny model's masks are arbitrary: set one
        last[0, 0, 1, k + 1] = 1.0
        obj.last_mask16 = last
        window = locality_window(last, 0)
        tracker.step(frame)
        assert np.all(obj.score[window == 0] == 0.0)
        assert obj.last_mask16.shape == last.shape
    free = Tracker(runner=torch_runner, config=TrackerConfig(update_every=EVERY, tau=1.0, locality_radius=None))
    free.step(frames[0], {1: masks[0] == 1})
    free.step(frames[1])
    assert np.any(free.objects[1].score != 0.0)


@pytest.mark.parametrize("radius", [-1, 1.5])
def test_locality_radius_must_be_a_non_negative_integer(radius):
    from reusevos_edge.errors import InputError

    with pytest.raises(InputError, match="locality_radius"):
        TrackerConfig(update_every=EVERY, locality_radius=radius)


@pytest.mark.parametrize("scale", [0.0, 0.5, 1.0])
def test_delta_scale_scales_the_delta_on_reuse_frames(torch_runner, clip, scale):
    """Reuse frames edit S and R with delta_scale * delta (1 = the paper, 0 = S as is, R translated by a zero delta)."""
    frames, masks = clip
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    class Spy:
        subgraphs = torch_runner.subgraphs

        def run(self, name, feeds):
            out = torch_runner.run(name, feeds)
            if name == "match_gate":
                seen.append((out["delta"], None))
            if name == "refine_translate":
                seen[-1] = (seen[-1][0], feeds["delta"])
            return out

    tracker = Tracker(runner=Spy(), config=TrackerConfig(update_every=EVERY, tau=0.0, keyframe_bound=None, delta_scale=scale))
    tracker.step(frames[0], {1: masks[0] == 1})
    score0 = tracker.objects[1].score.copy()
    result = tracker.step(frames[1])
    assert result.record.objects[1].decision == "reuse"
    delta, fed = seen[-1]
    np.testing.assert_allclose(fed, scale * delta, rtol=1e-6, atol=1e-7)
    assert np.abs(delta).max() > 0  # the test would not tell the scales apart otherwise
    np.testing.assert_array_equal(tracker.objects[1].score, score0)  # S itself is kept for the next frame


def test_keyframe_bound_is_recorded_as_what_forced_a_computed_frame(torch_runner, clip):
    """tau 0: the gate says reuse every time; every other frame is computed because of the bound, and says so."""
    frames, masks = clip
    _, results = run_clip(CountingRunner(torch_runner), frames[:5], masks, tau=0.0, keyframe_bound=1)
    objs = [r.record.objects[1] for r in results[1:]]
    assert [(o.decision, o.forced) for o in objs] == [("reuse", None), ("compute", "keyframe_bound")] * 2
    assert results[2].record.to_json()["objects"]["1"]["forced"] == "keyframe_bound"
    _, free = run_clip(CountingRunner(torch_runner), frames[:3], masks, tau=1.0, keyframe_bound=1)
    assert all(r.record.objects[1].forced is None for r in free[1:])  # the gate itself said compute


def test_frames_before_the_first_object_run_nothing(torch_runner, clip):
    """Objects may start after frame 0 (a DAVIS sequence whose first annotation is empty)."""
    frames, masks = clip
    runner = CountingRunner(torch_runner)
    tracker = Tracker(runner=runner, config=TrackerConfig(update_every=EVERY, tau=1.0))
    empty = [tracker.step(frames[i]) for i in range(2)]
    assert all(r.record.ran == [] and not r.labels.any() and r.record.objects == {} for r in empty)
    assert sum(runner.calls.values()) == 0
    started = tracker.step(frames[2], {1: masks[2] == 1})
    assert started.record.objects[1].decision == "init" and started.record.index == 2
    assert tracker.step(frames[3]).record.objects[1].decision == "compute"


def test_non_finite_gate_output_is_an_error_not_a_decision(torch_runner, clip):
    frames, masks = clip
    ref: dict = {}
    runner = GateStub(torch_runner, ref, {1: [float("nan")]})
    tracker = ref["tracker"] = Tracker(runner=runner, config=TrackerConfig(update_every=EVERY, tau=0.5))
    tracker.step(frames[0], {1: masks[0] == 1})
    with pytest.raises(InputError, match="frame 1, object 1: match_gate returned P_gate nan"):
        tracker.step(frames[1])


def test_returned_probabilities_are_the_callers(torch_runner):
    """The tracker writes each object's probability into one reused model-size buffer; what a step returns
    (frames at the model size, so no resize copies it) is the caller's: two objects' planes differ and a
    later step leaves them as they were."""
    frames, masks = make_clip(num_frames=3, height=H, width=W, num_objects=2, speed_px=2.0, seed=4)
    tracker = Tracker(runner=torch_runner, config=TrackerConfig(update_every=EVERY, tau=1.0))
    tracker.step(frames[0], {1: masks[0] == 1, 2: masks[0] == 2})
    first = tracker.step(frames[1])
    kept = {k: v.copy() for k, v in first.probs.items()}
    assert not np.shares_memory(first.probs[1], first.probs[2]) and not np.array_equal(kept[1], kept[2])
    tracker.step(frames[2])
    for k in kept:
        np.testing.assert_array_equal(first.probs[k], kept[k])
