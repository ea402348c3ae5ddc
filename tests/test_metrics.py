"""DAVIS J and F on hand-made masks, every boundary edge case, statistics and the report."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from reusevos_edge.errors import InputError
from reusevos_edge.metrics.jf import (
    Statistics,
    boundary_f,
    boundary_map,
    bound_pixels,
    decay_bins,
    disk,
    evaluate_sequence,
    jaccard,
    jf_mean,
    statistics,
)
from reusevos_edge.metrics.report import (
    ObjectResult,
    SequenceResult,
    format_table,
    results_json,
    summarize,
)
from reusevos_edge.fileio import write_json

H, W = 40, 60  # diagonal 72.1 -> tolerance ceil(0.577) = 1 pixel


def band(k: int, *, height: int = H, width: int = W) -> np.ndarray:
    """HxW bool: columns 0..k-1 set. Its boundary is exactly column k-1."""
    mask = np.zeros((height, width), dtype=bool)
    mask[:, :k] = True
    return mask


def point(y: int, x: int) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[y, x] = True
    return mask


def gauss_circle(r: int) -> int:
    """Lattice points with x^2 + y^2 <= r^2, by Gauss's formula (independent of ``disk``)."""
    n = r * r
    return 1 + 4 * sum(n // (4 * i + 1) - n // (4 * i + 3) for i in range(n + 1))


# --- tolerance and disk ---------------------------------------------------------------------

def test_bound_pixels_davis_sizes():
    assert bound_pixels(480, 854) == 8
    assert bound_pixels(H, W) == 1
    assert bound_pixels(288, 512) == 5  # 0.008 * 587.4 = 4.70
    assert bound_pixels(100, 100, bound_th=3) == 3


def test_disk_small_shapes_by_hand():
    assert disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    assert disk(2).tolist() == [
        [0, 0, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [1, 1, 1, 1, 1],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 0, 0],
    ]
    assert disk(3).tolist() == [
        [0, 0, 0, 1, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 1, 1],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 1, 0],
        [0, 0, 0, 1, 0, 0, 0],
    ]


@pytest.mark.parametrize("r", range(1, 21))
def test_disk_matches_gauss_circle_count_and_symmetry(r):
    d = disk(r)
    assert d.shape == (2 * r + 1, 2 * r + 1) and d.dtype == np.uint8
    assert int(d.sum()) == gauss_circle(r)
    assert np.array_equal(d, d.T) and np.array_equal(d, d[::-1]) and np.array_equal(d, d[:, ::-1])
    # the four axis tips are in, the corner just beyond the circle is out
    assert d[0, r] == d[r, 0] == 1 and d[0, 0] == 0


# --- J ----------------------------------------------------------------------------------------

def test_jaccard_cases():
    empty = np.zeros((H, W), dtype=bool)
    assert jaccard(empty, empty) == 1.0
    assert jaccard(empty, band(10)) == 0.0
    assert jaccard(band(10), empty) == 0.0
    assert jaccard(band(10), band(10)) == 1.0
    assert jaccard(band(11), band(10)) == pytest.approx(10 / 11)
    assert jaccard(band(10).astype(np.uint8) * 255, band(10)) == 1.0


# --- boundary map ----------------------------------------------------------------------------

def test_boundary_of_band_is_its_last_column():
    expected = np.zeros((H, W), dtype=bool)
    expected[:, 9] = True
    assert np.array_equal(boundary_map(band(10)), expected)


def test_boundary_of_interior_point_is_2x2_block():
    expected = np.zeros((H, W), dtype=bool)
    expected[9:11, 9:11] = True
    assert np.array_equal(boundary_map(point(10, 10)), expected)


def test_boundary_full_image_is_empty():
    assert not boundary_map(np.ones((H, W), dtype=bool)).any()


def test_boundary_mask_touching_last_column():
    mask = np.zeros((H, W), dtype=bool)
    mask[:, W - 5:] = True
    expected = np.zeros((H, W), dtype=bool)
    expected[:, W - 6] = True  # the last column itself is not boundary, nor the corner
    assert np.array_equal(boundary_map(mask), expected)


def test_boundary_mask_touching_last_row():
    mask = np.zeros((H, W), dtype=bool)
    mask[H - 5:, :] = True
    expected = np.zeros((H, W), dtype=bool)
    expected[H - 6, :] = True  # the last row compares east only: all equal, corner forced 0
    assert np.array_equal(boundary_map(mask), expected)


def test_boundary_point_in_bottom_right_corner():
    expected = np.zeros((H, W), dtype=bool)
    expected[H - 2, W - 2] = expected[H - 2, W - 1] = expected[H - 1, W - 2] = True
    assert np.array_equal(boundary_map(point(H - 1, W - 1)), expected)


def test_boundary_point_on_last_row():
    expected = np.zeros((H, W), dtype=bool)
    expected[H - 2:, 19:21] = True
    assert np.array_equal(boundary_map(point(H - 1, 20)), expected)


# --- F ----------------------------------------------------------------------------------------

def test_f_both_empty_is_one():
    empty = np.zeros((H, W), dtype=bool)
    assert boundary_f(empty, empty) == 1.0


def test_f_pred_empty_gt_not_is_zero():  # P = 1, R = 0
    assert boundary_f(np.zeros((H, W), dtype=bool), band(10)) == 0.0


def test_f_gt_empty_pred_not_is_zero():  # P = 0, R = 1
    assert boundary_f(band(10), np.zeros((H, W), dtype=bool)) == 0.0


def test_f_full_image_prediction_has_no_boundary():
    # a full-image prediction has an empty boundary map: P = 1, R = 0 -> F = 0
    assert boundary_f(np.ones((H, W), dtype=bool), band(10)) == 0.0


def test_f_identical_is_one():
    assert boundary_f(band(10), band(10)) == 1.0
    assert boundary_f(point(5, 5), point(5, 5)) == 1.0


def test_f_shift_within_tolerance_is_one():
    assert boundary_f(band(11), band(10)) == 1.0
    assert boundary_f(band(9), band(10)) == 1.0


def test_f_shift_beyond_tolerance_is_zero():
    assert boundary_f(band(12), band(10)) == 0.0
    # at 854x480 the tolerance is 8 px: 8 is matched, 9 is not
    assert boundary_f(band(108, height=480, width=854), band(100, height=480, width=854)) == 1.0
    assert boundary_f(band(109, height=480, width=854), band(100, height=480, width=854)) == 0.0


def test_f_diagonal_shift_uses_disk_not_square():
    # 2x2 boundary blocks one pixel apart diagonally: disk(1) excludes the diagonal neighbour,
    # so one of four boundary pixels is unmatched on each side: P = R = 3/4
    assert boundary_f(point(10, 10), point(11, 11)) == pytest.approx(0.75)


def test_f_touching_last_row_shift():
    gt = np.zeros((H, W), dtype=bool)
    gt[H - 5:, :] = True
    near, far = np.zeros_like(gt), np.zeros_like(gt)
    near[H - 6:, :] = True
    far[H - 7:, :] = True
    assert boundary_f(near, gt) == 1.0
    assert boundary_f(far, gt) == 0.0


# --- statistics -------------------------------------------------------------------------------

def test_decay_bins_round_half_up_and_overlap():
    # linspace(1, 8, 5) = 1, 2.75, 4.5, 6.25, 8 -> 1, 3, 5, 6, 8 (4.5 rounds up) -> minus 1
    bins = decay_bins(8)
    assert [(b.start, b.stop) for b in bins] == [(0, 3), (2, 5), (4, 6), (5, 8)]


def test_statistics_hand_made_series():
    series = np.array([1.0, 1.0, 0.9, 0.8, 0.6, 0.4, 0.2, 0.0])
    stats = statistics(series)
    assert stats.mean == pytest.approx(4.9 / 8)
    assert stats.recall == pytest.approx(5 / 8)  # 0.5 itself would not count
    assert stats.decay == pytest.approx((1 + 1 + 0.9) / 3 - (0.4 + 0.2 + 0.0) / 3)


def test_statistics_constant_series_has_no_decay():
    stats = statistics(np.full(10, 0.5))
    assert stats.mean == 0.5 and stats.recall == 0.0 and stats.decay == 0.0


def test_statistics_empty_series_is_nan():
    stats = statistics(np.array([]))
    assert math.isnan(stats.mean) and math.isnan(stats.recall) and math.isnan(stats.decay)


# --- per-sequence evaluation ------------------------------------------------------------------

def _series_masks() -> np.ndarray:
    gt = np.zeros((5, H, W), dtype=np.uint8)
    gt[:, :, :10] = 1
    gt[2:, 20:30, 30:50] = 2  # object 2 appears at frame 2
    return gt


def test_evaluate_sequence_skips_first_and_last_frame():
    gt = _series_masks()
    pred = gt.copy()
    pred[0] = 0  # wrong on frames 0 and N-1 only: not scored
    pred[-1] = 2
    scores = evaluate_sequence(pred, gt)
    assert [s.object_id for s in scores] == [1, 2]
    for s in scores:
        assert len(s.j_frames) == 3
        assert s.j.mean == 1.0 and s.f.mean == 1.0
    assert jf_mean(scores) == 1.0


def test_evaluate_sequence_absent_object_frames_score_one_when_pred_empty():
    gt = _series_masks()
    pred = gt.copy()
    pred[1][pred[1] == 1] = 0  # object 1 missed on frame 1
    scores = {s.object_id: s for s in evaluate_sequence(pred, gt)}
    assert scores[1].j_frames.tolist() == [0.0, 1.0, 1.0]
    assert scores[2].j_frames.tolist() == [1.0, 1.0, 1.0]  # frame 1: absent in both
    assert scores[1].j.recall == pytest.approx(2 / 3)


def test_evaluate_sequence_rejects_bad_shapes():
    gt = _series_masks()
    with pytest.raises(InputError, match="shaped like the ground truth"):
        evaluate_sequence(gt[:, :10], gt)
    with pytest.raises(InputError, match="at least 3 frames"):
        evaluate_sequence(gt[:2], gt[:2])


# --- report -----------------------------------------------------------------------------------

def _obj(obj_id: int, value: float) -> ObjectResult:
    stats = Statistics(mean=value, recall=value, decay=0.0)
    return ObjectResult(object_id=obj_id, j=stats, f=stats)


def _sequences() -> list[SequenceResult]:
    one = SequenceResult(name="one", objects=(_obj(1, 1.0),), num_frames=10, seconds=0.5,
                         reused=3, gated=9)
    three = SequenceResult(name="three", objects=(_obj(1, 0.0), _obj(2, 0.0), _obj(3, 0.0)),
                           num_frames=20, seconds=2.0, reused=1, gated=3)
    return [one, three]


def test_overall_is_object_weighted():
    overall = summarize(_sequences())
    assert overall.j.mean == pytest.approx(0.25)  # 1 of 4 objects perfect, not (1 + 0) / 2
    assert overall.jf == pytest.approx(0.25)
    assert overall.reuse_rate == pytest.approx(4 / 12)
    assert overall.fps == pytest.approx((20.0 + 10.0) / 2)  # mean over sequences


def test_steady_latency_leaves_out_each_first_frame():
    # "one": 10 frames in 0.5 s, the first (the fit) 0.23 s -> 0.27 s / 9 frames; "three": 2.0 - 0.1 s / 19
    one, three = _sequences()
    one = dataclasses.replace(one, first_seconds=0.23)
    three = dataclasses.replace(three, first_seconds=0.1)
    assert one.ms_per_frame == pytest.approx(30.0)
    assert summarize([one, three]).ms_per_frame == pytest.approx(1e3 * (0.27 + 1.9) / 28)  # pooled over frames
    assert math.isnan(SequenceResult(name="s", objects=(), num_frames=1, seconds=0.1).ms_per_frame)
    assert results_json([one])["sequences"]["one"]["ms_per_frame"] == pytest.approx(30.0)


def test_json_layout_and_atomic_write(tmp_path):
    payload = results_json(_sequences(), config={"tau": 0.7})
    seq = payload["sequences"]["one"]
    for key in ("J", "F", "jf", "reuse_rate", "fps"):
        assert key in seq and key in payload["overall"]
    assert seq["jf"] == 100.0 and seq["fps"] == 20.0
    assert payload["overall"]["jf"] == 25.0
    assert payload["config"] == {"tau": 0.7}
    out = tmp_path / "r.json"
    write_json(out, payload)
    assert json.loads(out.read_text()) == payload
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_json_writes_null_for_nan(tmp_path):
    seq = SequenceResult(name="s", objects=(_obj(1, 1.0),), num_frames=1, seconds=0.1)
    payload = results_json([seq])
    assert payload["sequences"]["s"]["reuse_rate"] is None
    write_json(tmp_path / "r.json", payload)
    assert "NaN" not in (tmp_path / "r.json").read_text()


def test_table_has_rows_and_overall():
    table = format_table(_sequences())
    lines = table.splitlines()
    assert lines[0].split("|")[1].strip() == "sequence"
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["one", "three", "overall"]
    assert "100.0" in lines[2] and "25.0" in lines[4]
    assert len({len(line) for line in lines}) == 1  # aligned


# --- the real data ----------------------------------------------------------------------------

def test_shared_davis_gt_against_itself_and_shifted(shared_davis):
    from reusevos_edge.data.davis import DavisDataset

    seq = DavisDataset(root=shared_davis, res="480p").sequences(names=["blackswan"])[0]
    gt = np.stack([seq.load_mask(i) for i in range(8)])
    perfect = evaluate_sequence(gt, gt)
    assert [s.object_id for s in perfect] == [1]
    assert perfect[0].j.mean == 1.0 and perfect[0].f.mean == 1.0
    # 854x480: tolerance 8 px, so an 8 px shift keeps F near 1 while J drops; 30 px does not
    near = evaluate_sequence(np.roll(gt, 8, axis=2), gt)[0]
    far = evaluate_sequence(np.roll(gt, 30, axis=2), gt)[0]
    assert near.f.mean > 0.95 and near.j.mean < 0.97
    assert far.f.mean < near.f.mean and far.j.mean < near.j.mean
