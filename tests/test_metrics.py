"""Frame-only metrics, drift and VBench-Long clips on constructed videos with known answers."""
import math

import numpy as np
import pytest

from semanticgen.config import load_config
from semanticgen.metrics import (TooFewFramesError, VideoEvaluator, aggregate, clip_frames, clip_ranges, drift,
                                 edge_frames, linear_interp_smoothness, per_clip_mean, rows_to_table,
                                 temporal_flickering)


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


def vbench_long_spans(n, fps, duration):
    """VBench-Long's split_video_into_clips, written out: int(fps) from get_video_properties, fps*duration
    frames per segment, the remainder extended back from total*seg - (seg - rem); shorter: whole video."""
    seg = int(fps) * duration
    if n < seg:
        return [(0, n)]
    total, rem = n // seg, n % seg
    spans = [(i * seg, i * seg + seg) for i in range(total)]
    if rem > 0:
        spans.append((max(0, total * seg - (seg - rem)), n))
    return spans


@pytest.mark.parametrize("n,fps", [(40, 8.0), (48, 8.0), (10, 8.0), (16, 8.0), (101, 24000 / 1001),
                                   (120, 30000 / 1001), (50, 25.0), (1441, 24000 / 1001)])
def test_clip_ranges_vbench_long_rule(n, fps):
    assert clip_ranges(n, fps, 2) == vbench_long_spans(n, fps, 2)


def test_clip_ranges_at_23_976_fps_uses_int_fps():
    fps = 24000 / 1001
    assert clip_frames(fps, 2) == 46                      # int(23.976) * 2, not round(47.95) = 48
    ranges = clip_ranges(101, fps, 2)
    assert ranges == [(0, 46), (46, 92), (55, 101)]       # 101 = 2 * 46 + 9: last clip borrows 37 frames
    assert all(b - a == 46 for a, b in ranges)
    assert clip_ranges(45, fps, 2) == [(0, 45)] and clip_ranges(46, fps, 2) == [(0, 46)]
    assert per_clip_mean(lambda s: float(np.sum(s)), np.arange(40), [(0, 16), (24, 40)]) == (120 + 504) / 2


def evaluator(*overrides):
    return VideoEvaluator(load_config("tiny", list(overrides)).evaluate)


def flicker_ref(frames):
    """VBench's temporal flickering written out: (255 - mean over pairs of mean |f[i+1] - f[i]|) / 255."""
    f = frames.astype(np.float64)
    return (255.0 - np.mean([np.abs(f[i + 1] - f[i]).mean() for i in range(len(f) - 1)])) / 255.0


def noisy_video(t, h=16, w=24, seed=0, step=6):
    """A brightness ramp with noise: clips and ends give different flicker values."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (h, w, 3))
    return np.stack([np.clip(base + step * i + rng.integers(-20, 21, (h, w, 3)), 0, 255) for i in range(t)]
                    ).astype(np.uint8)


def test_evaluator_row_values_and_not_computed():
    ev = evaluator("evaluate.long_split_s=null")
    row = ev.evaluate_frames(static_then_flicker(), fps=8.0)
    assert row["num_frames"] == 40 and row["clips"] == 1 and row["duration_s"] == 5.0
    assert row["setting"] == "short" and row["backend"] == "builtin"
    assert row["temporal_flickering"] == pytest.approx(flicker_ref(static_then_flicker()), abs=1e-12)
    assert row["drift_temporal_flickering"] == pytest.approx(56 / 255)
    # smoothness on the last 6 frames: each odd frame (156) vs mean of neighbours (100) → 56
    assert row["drift_linear_interp_smoothness"] == pytest.approx(56 / 255)
    weighted = ["subject_consistency", "background_consistency", "aesthetic_quality", "motion_smoothness",
                "imaging_quality"]
    assert row["not_computed"] == weighted
    for m in weighted:
        assert m not in row                      # never a number for a metric without weights
    assert "aesthetic_quality: no local weights" in row["notes"]
    assert "motion_smoothness: not available in the built-in backend" in row["notes"]


def test_drift_mean_only_over_vbench_metrics():
    # static start, linear ramp at the end: flicker drifts by the ramp step, the stand-in does not drift
    v = const_video([100] * 20 + [100 + 5 * i for i in range(1, 21)])
    row = evaluator("evaluate.long_split_s=null").evaluate_frames(v, fps=8.0)
    assert row["drift_temporal_flickering"] == pytest.approx(5 / 255, abs=1e-12)
    assert row["drift_linear_interp_smoothness"] == pytest.approx(0.0, abs=1e-12)
    assert row["drift_mean"] == pytest.approx(5 / 255, abs=1e-12)     # not (5/255 + 0) / 2


def test_setting_follows_long_split_s():
    ev = evaluator("evaluate.long_split_s=4", "evaluate.long_reencode=false",
                   "evaluate.metrics=[temporal_flickering]")
    assert ev.evaluate_frames(noisy_video(24), fps=8.0)["setting"] == "short"      # 3 s
    assert ev.evaluate_frames(noisy_video(40), fps=8.0)["setting"] == "long"       # 5 s
    every = evaluator("evaluate.long_split_s=0", "evaluate.long_reencode=false",
                      "evaluate.metrics=[temporal_flickering]")
    row = every.evaluate_frames(noisy_video(10), fps=8.0)                           # shorter than a clip: one clip
    assert row["setting"] == "long" and row["clips"] == 1


def test_long_setting_clips_and_drift_use_vbench_long_m():
    v, fps = noisy_video(80), 8.0                                  # 10 s; 1 s clips = 8 frames; ends = 12 frames
    ev = evaluator("evaluate.long_split_s=4", "evaluate.long_clip_s=1", "evaluate.long_reencode=false",
                   "evaluate.metrics=[temporal_flickering]")
    row = ev.evaluate_frames(v, fps)
    long_m = lambda x: np.mean([flicker_ref(x[a:b]) for a, b in vbench_long_spans(len(x), fps, 1)])  # noqa: E731
    assert row["clips"] == 10
    assert row["temporal_flickering"] == pytest.approx(long_m(v), abs=1e-12)
    assert row["drift_temporal_flickering"] == pytest.approx(abs(long_m(v[:12]) - long_m(v[-12:])), abs=1e-12)
    assert row["drift_temporal_flickering"] != pytest.approx(abs(flicker_ref(v[:12]) - flicker_ref(v[-12:])),
                                                              abs=1e-6)


def torchvision_style_roundtrip(frames, fps):
    """torchvision.io.write_video as VBench-Long calls it (libx264, yuv420p, rate int(fps), x264 defaults), with
    the encoder pinned to one thread (x264's output depends on its thread count), decoded again."""
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        st = out.add_stream("libx264", rate=int(fps))
        st.width, st.height, st.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        st.options = {"threads": "1"}
        for img in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    buf.seek(0)
    with av.open(buf) as inp:
        return np.stack([f.to_ndarray(format="rgb24") for f in inp.decode(video=0)])


def test_long_setting_reencodes_each_clip_like_vbench_long():
    v, fps = noisy_video(20, h=64, w=128, seed=3), 8.0        # x264 is deterministic from ~128x64 up
    ev = evaluator("evaluate.long_split_s=0", "evaluate.long_clip_s=1", "evaluate.metrics=[temporal_flickering]")
    assert ev.cfg.long_reencode is True                              # VBench-Long's default: on
    row = ev.evaluate_frames(v, fps)
    spans = vbench_long_spans(20, fps, 1)
    expected = np.mean([flicker_ref(torchvision_style_roundtrip(v[a:b], fps)) for a, b in spans])
    assert row["temporal_flickering"] == pytest.approx(expected, abs=1e-9)
    raw = np.mean([flicker_ref(v[a:b]) for a, b in spans])
    assert abs(row["temporal_flickering"] - raw) > 1e-4                # the re-encode is really applied


def test_evaluator_too_short_video_marks_not_computed():
    ev = evaluator("evaluate.metrics=[temporal_flickering,linear_interp_smoothness]")
    row = ev.evaluate_frames(const_video([5, 9]), fps=8.0)
    assert row["temporal_flickering"] == pytest.approx((255 - 4) / 255)
    assert math.isnan(row["linear_interp_smoothness"]) and row["not_computed"] == ["linear_interp_smoothness"]
    assert "drift_temporal_flickering" not in row and "drift" in row["notes"]    # 2 frames: no drift
    assert math.isnan(row["drift_mean"])


def test_motion_smoothness_is_not_available_builtin():
    ev = evaluator("evaluate.metrics=[temporal_flickering,motion_smoothness]")
    row = ev.evaluate_frames(static_then_flicker(), fps=8.0)
    assert row["not_computed"] == ["motion_smoothness"] and "motion_smoothness" not in row
    assert "AMT-S" in row["notes"] and "--backend vbench" in row["notes"]


def test_evaluate_path_broken_file_is_error_row(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 300)
    row = evaluator().evaluate_path(str(bad))
    assert row["video_id"] == "broken" and "broken.mp4" in row["error"]
    assert "temporal_flickering" not in row


def test_set_scores_pair_weighted_short_plain_long():
    rows = [dict(video_id="a", num_frames=10, setting="short", subject_consistency=0.9, temporal_flickering=0.8),
            dict(video_id="b", num_frames=40, setting="short", subject_consistency=0.5, temporal_flickering=0.6),
            dict(video_id="c", num_frames=100, setting="long", subject_consistency=0.7, temporal_flickering=0.9),
            dict(video_id="d", num_frames=20, setting="long", subject_consistency=0.3, temporal_flickering=0.5),
            dict(video_id="e", num_frames=0, setting=None, error="broken")]
    metrics = ["subject_consistency", "temporal_flickering"]
    agg = aggregate(rows_to_table(rows, metrics), metrics)
    # single-process VBench: sim = Σ_v Σ_i s_{v,i} = Σ_v score_v * (T_v - 1), cnt = Σ_v (T_v - 1)
    assert agg["short/subject_consistency"] == pytest.approx((0.9 * 9 + 0.5 * 39) / (9 + 39), abs=1e-12)
    assert agg["short/temporal_flickering"] == pytest.approx((0.8 + 0.6) / 2, abs=1e-12)     # per-video mean
    assert agg["long/subject_consistency"] == pytest.approx((0.7 + 0.3) / 2, abs=1e-12)      # VBench-Long: mean
    assert agg["long/temporal_flickering"] == pytest.approx((0.9 + 0.5) / 2, abs=1e-12)
    assert agg["short/videos"] == 2 and agg["long/videos"] == 2 and agg["videos"] == 5 and agg["videos_failed"] == 1
    assert "subject_consistency" not in agg                                                  # no mixed average
