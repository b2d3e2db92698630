import math

import pytest

from semanticgen.video.packing import drop_black_ends, filter_cuts, pack_shots, pack_source, shots_from_cuts
from semanticgen.video.segments import merge_luma, plan_segments


def covers_exactly(clips, dropped, start, end):
    spans = sorted([(c.start_s, c.end_s) for c in clips] + [(a, b) for a, b, _ in dropped])
    assert spans[0][0] == pytest.approx(start)
    assert spans[-1][1] == pytest.approx(end)
    for (a0, b0), (a1, b1) in zip(spans, spans[1:]):
        assert b0 == pytest.approx(a1)        # contiguous, no overlap, no gap


def test_greedy_merge_respects_max_and_cuts():
    cuts = [10, 25, 50, 55, 70, 130]
    shots = shots_from_cuts(cuts, 0.0, 150.0)
    p = pack_shots(shots, max_clip_s=60, min_clip_s=1)
    # 0..55 fits; adding 55..70 would exceed 60 → flush; 70..130 is exactly 60 s → one clip alone
    assert [(c.start_s, c.end_s) for c in p.clips] == [(0, 55), (55, 70), (70, 130), (130, 150)]
    for c in p.clips:
        assert c.duration_s <= 60 + 1e-9
    assert p.clips[0].shot_boundaries_s == [10, 25, 50]


def test_long_shot_is_split_evenly():
    p = pack_shots([(0.0, 10.0), (10.0, 160.0), (160.0, 170.0)], max_clip_s=60, min_clip_s=1)
    bounds = [(round(c.start_s, 6), round(c.end_s, 6)) for c in p.clips]
    # the 150 s shot becomes 3 × 50 s; the first piece merges with the 10 s shot before it
    assert bounds == [(0.0, 60.0), (60.0, 110.0), (110.0, 170.0)]
    assert p.clips[0].shot_boundaries_s == [10.0]
    assert all(c.duration_s <= 60 + 1e-9 for c in p.clips)


def test_short_leftover_is_dropped_and_reported():
    p = pack_shots([(0.0, 59.5), (59.5, 60.0), (60.0, 119.8)], max_clip_s=60, min_clip_s=1)
    assert [(c.start_s, c.end_s) for c in p.clips] == [(0.0, 60.0), (60.0, 119.8)]
    shots = [(0.0, 30.0), (30.0, 89.9), (89.9, 90.2), (90.2, 150.1)]
    p = pack_shots(shots, max_clip_s=60, min_clip_s=1)
    assert [(c.start_s, c.end_s) for c in p.clips] == [(0.0, 30.0), (30.0, 89.9), (90.2, 150.1)]
    assert p.dropped == [(89.9, 90.2, "shorter than min_clip_s")]
    covers_exactly(p.clips, p.dropped, 0.0, 150.1)


def test_filter_cuts_min_shot_and_range():
    assert filter_cuts([0.0, 1.0, 1.2, 3.0, 9.99, 12.0], 0.0, 10.0, 0.5) == [1.0, 3.0, 9.99]
    assert filter_cuts([5.0, 2.0, 2.0], 0.0, 10.0, 0.0) == [2.0, 5.0]


def test_black_ends_dropped_inner_kept():
    shots = [(0, 2), (2, 10), (10, 12), (12, 20), (20, 25)]
    kept, dropped = drop_black_ends(shots, [3.0, 100.0, 2.0, 90.0, 1.0], black_luma=12)
    assert kept == shots[1:4]
    assert [(a, b) for a, b, _ in dropped] == [(0, 2), (20, 25)]


def test_pack_source_covers_extent():
    cuts = [3.0, 3.1, 20.0, 41.0, 100.0]
    p = pack_source(cuts, 0.0, 200.0, [], 0.25, max_clip_s=30, min_clip_s=2, min_shot_s=0.5,
                    drop_black=False, black_luma=12)
    covers_exactly(p.clips, p.dropped, 0.0, 200.0)
    allowed = set(cuts)
    for c in p.clips:
        assert c.duration_s <= 30 + 1e-9
    # every boundary is a cut or an even split point of a long shot
    long_shots = [(41.0, 100.0), (100.0, 200.0)]
    splits = set()
    for a, b in long_shots:
        n = math.ceil((b - a) / 30)
        splits |= {round(a + i * (b - a) / n, 6) for i in range(1, n)}
    for c in p.clips[1:]:
        assert c.start_s in allowed or round(c.start_s, 6) in splits


def test_plan_segments_partition():
    segs = plan_segments(1000.0, 300.0)
    assert segs == [(0.0, 300.0), (300.0, 600.0), (600.0, 900.0), (900.0, None)]
    assert plan_segments(10.0, 600.0) == [(0.0, None)]
    assert plan_segments(620.0, 300.0) == [(0.0, 300.0), (300.0, None)]   # a tiny tail folds in


def test_merge_luma_aligns_segments():
    segs = [{"start_s": 1.0, "luma_bins": [7.0, 8.0]}, {"start_s": 0.0, "luma_bins": [1.0, 2.0, 3.0, 4.0]}]
    assert merge_luma(sorted(segs, key=lambda s: s["start_s"])) == [1.0, 2.0, 3.0, 4.0, 7.0, 8.0]
