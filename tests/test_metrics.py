"""Frame-only metrics, drift and VBench-Long clips on constructed videos with known answers."""
import math

import numpy as np
import pytest

from semanticgen.config import load_config
from semanticgen.metrics import (TooFewFramesError, VideoEvaluator, clip_ranges, drift, edge_frames,
                                 linear_interp_smoothness, per_clip_mean, temporal_flickering)


def const_video(values, h=8, w=10):
    """One flat grey frame per value."""
    return np.stack([np.full((h, w, 3), v, np.uint8) for v in values])


def static_then_flicker(n_static=20, n_flicker=20, lo=100, hi=156, base=128):
    """Static grey first part, then a frame-to-frame alternation lo/hi (|diff| = hi - lo)."""
    return const_video([base] * n_static + [lo if i % 2 == 0 else hi for i in range(n_flicker)])


def test_static_video_flickering_is_one_and_drift_zero():
    v = np.repeat(np.random.default_rng(0).integers(0, 256, (1, 16, 16, 3), dtype=np.uint8), 30, axis=0)
    assert temporal_flickering(v) == 1.0
    assert linear_interp_smoothness(v) == 1.0
    assert drift(temporal_flickering, v) == 0.0


def test_flickering_matches_hand_reference_on_random_video():
    v = np.random.default_rng(1).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    pair_means = [np.mean(np.abs(v[i + 1].astype(float) - v[i].astype(float))) for i in range(4)]
    assert temporal_flickering(v) == pytest.approx((255 - np.mean(pair_means)) / 255, abs=1e-12)
    # flat frames: values by hand. pairs: |10-0|, |30-10|, |30-30| → mean 10 → (255-10)/255
    assert temporal_flickering(const_video([0, 10, 30, 30])) == pytest.approx(245 / 255, abs=1e-12)


def test_linear_interp_smoothness_hand_reference():
    assert linear_interp_smoothness(const_video([0, 10, 20, 30, 40])) == 1.0     # linear ramp: perfect
    # odd frames 1, 3 (frame 5 has no right neighbour): pred(1) = (0+20)/2 = 10 vs 16 → 6;
    # pred(3) = (20+40)/2 = 30 vs 30 → 0; mean 3 → (255-3)/255
    assert linear_interp_smoothness(const_video([0, 16, 20, 30, 40, 99])) == pytest.approx(252 / 255, abs=1e-12)
    with pytest.raises(TooFewFramesError, match="linear_interp_smoothness"):
        linear_interp_smoothness(const_video([0, 1]))


def test_flicker_drift_static_then_flickering():
    v = static_then_flicker()                    # 40 frames → 15% = 6 frames per end
    assert edge_frames(40) == 6
    # first 6 frames static: 1.0; last 6 alternate 100/156: every pair differs by 56
    assert drift(temporal_flickering, v) == pytest.approx(56 / 255, abs=1e-12)
    # whole video: 19 static pairs, one 128→100 pair (28), 19 pairs of 56
    assert temporal_flickering(v) == pytest.approx((255 - (28 + 19 * 56) / 39) / 255, abs=1e-12)


@pytest.mark.parametrize("t,n", [(4, 2), (10, 2), (16, 2), (17, 3), (20, 3), (40, 6), (100, 15), (103, 15),
                                 (104, 16)])
def test_edge_frames_rounding(t, n):
    assert edge_frames(t, 0.15, 2) == n          # round half up, at least 2


def test_drift_needs_enough_frames():
    with pytest.raises(TooFewFramesError, match="at least 4 frames"):
        edge_frames(3)
    assert edge_frames(6, 0.15, min_frames=3) == 3
    with pytest.raises(ValueError, match="fraction"):
        edge_frames(10, 0.6)


def test_clip_ranges_vbench_long_rule():
    # 2 s clips at 8 fps = 16 frames; 40 frames → 2 full clips + remainder 8 extended back to 16
    assert clip_ranges(40, 8.0, 2.0) == [(0, 16), (16, 32), (24, 40)]
    assert clip_ranges(48, 8.0, 2.0) == [(0, 16), (16, 32), (32, 48)]
    assert clip_ranges(10, 8.0, 2.0) == [(0, 10)]                         # shorter than a clip: whole
    ranges = clip_ranges(101, 24000 / 1001, 1.0)                           # 23.976 fps → 24-frame clips
    assert all(b - a == 24 for a, b in ranges) and ranges[-1][1] == 101
    assert per_clip_mean(lambda s: float(np.sum(s)), np.arange(40), [(0, 16), (24, 40)]) == (120 + 504) / 2


def evaluator(*overrides):
    return VideoEvaluator(load_config("tiny", list(overrides)).evaluate)


def test_evaluator_row_values_and_not_computed():
    ev = evaluator()
    row = ev.evaluate_frames(static_then_flicker(), fps=8.0)
    assert row["num_frames"] == 40 and row["clips"] == 1 and row["duration_s"] == 5.0
    assert row["temporal_flickering"] == pytest.approx(temporal_flickering(static_then_flicker()))
    assert row["drift_temporal_flickering"] == pytest.approx(56 / 255)
    # smoothness on the last 6 frames: each odd frame (156) vs mean of neighbours (100) → 56
    assert row["drift_linear_interp_smoothness"] == pytest.approx(56 / 255)
    assert row["drift_mean"] == pytest.approx(56 / 255)
    weighted = ["subject_consistency", "background_consistency", "aesthetic_quality", "motion_smoothness",
                "imaging_quality"]
    assert row["not_computed"] == weighted
    for m in weighted:
        assert m not in row                      # never a number for a metric without weights
        assert f"{m}: no local weights" in row["notes"]


def test_evaluator_long_video_split_into_clips():
    v = static_then_flicker(n_static=24, n_flicker=16)          # 40 frames at 8 fps = 5 s
    ev = evaluator("evaluate.long_split_s=4", "evaluate.long_clip_s=2", "evaluate.metrics=[temporal_flickering]")
    row = ev.evaluate_frames(v, fps=8.0)
    assert row["clips"] == 3                                     # (0,16), (16,32), (24,40)
    expected = np.mean([temporal_flickering(v[a:b]) for a, b in [(0, 16), (16, 32), (24, 40)]])
    assert row["temporal_flickering"] == pytest.approx(expected, abs=1e-12)
    assert row["temporal_flickering"] != pytest.approx(temporal_flickering(v))
    assert row["drift_temporal_flickering"] == pytest.approx(56 / 255)       # drift: whole-video ends
    short = ev.evaluate_frames(v[:24], fps=8.0)                              # 3 s: not split
    assert short["clips"] == 1


def test_evaluator_too_short_video_marks_not_computed():
    ev = evaluator("evaluate.metrics=[temporal_flickering,linear_interp_smoothness]")
    row = ev.evaluate_frames(const_video([5, 9]), fps=8.0)
    assert row["temporal_flickering"] == pytest.approx((255 - 4) / 255)
    assert math.isnan(row["linear_interp_smoothness"]) and row["not_computed"] == ["linear_interp_smoothness"]
    assert "drift_temporal_flickering" not in row and "drift" in row["notes"]    # 2 frames: no drift
    assert math.isnan(row["drift_mean"])


def test_unsupported_weights_are_noted_not_faked(tmp_path):
    ckpt = tmp_path / "amt-s.pth"
    ckpt.write_bytes(b"x")
    ev = evaluator(f"evaluate.weights.amt_s={ckpt}", f"evaluate.weights.musiq={ckpt}")
    row = ev.evaluate_frames(static_then_flicker(), fps=8.0)
    assert "motion_smoothness" in row["not_computed"] and "motion_smoothness" not in row
    assert "AMT-S is not supported in this build" in row["notes"]
    assert "MUSIQ is not supported in this build" in row["notes"]


def test_evaluate_path_broken_file_is_error_row(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 300)
    row = evaluator().evaluate_path(str(bad))
    assert row["video_id"] == "broken" and "broken.mp4" in row["error"]
    assert "temporal_flickering" not in row
