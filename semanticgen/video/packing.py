"""Scene-aware packing: merge consecutive shots into clips of at most ``max_clip_s``.

Rules (the README repeats them):
1. Shots are the spans between consecutive cuts over the source's decodable extent.
2. Cuts closer than ``min_shot_s`` to the previously kept cut are ignored (flash / fast-cut
   filter applied over the whole source, so segment edges do not matter).
3. Black-shot rule (``drop_black``): leading and trailing shots whose mean luma is below
   ``black_luma`` (fade-ins, black credits) are dropped; black shots inside a film are kept.
4. Consecutive shots are merged greedily while the clip stays ≤ ``max_clip_s``; clips are cut
   only at shot boundaries. A single shot longer than ``max_clip_s`` is split evenly into
   ``ceil(len / max_clip_s)`` equal parts.
5. A clip shorter than ``min_clip_s`` is dropped (it could not be merged without crossing
   ``max_clip_s``); the dropped spans are reported.
Clips never overlap and the kept clips plus the dropped spans cover the source exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

EPS = 1e-6


@dataclass
class Clip:
    start_s: float
    end_s: float
    shot_boundaries_s: List[float] = field(default_factory=list)   # cuts strictly inside the clip

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Packing:
    clips: List[Clip]
    dropped: List[Tuple[float, float, str]]   # (start, end, reason)


def filter_cuts(cuts: Sequence[float], start_s: float, end_s: float, min_shot_s: float) -> List[float]:
    """Sorted, de-duplicated cuts inside ``(start_s, end_s)`` at least ``min_shot_s`` apart."""
    kept: List[float] = []
    last = start_s
    for c in sorted(cuts):
        if c <= start_s + EPS or c >= end_s - EPS:
            continue
        if c - last < min_shot_s - EPS or c - last < EPS:
            continue
        kept.append(c)
        last = c
    return kept


def shots_from_cuts(cuts: Sequence[float], start_s: float, end_s: float) -> List[Tuple[float, float]]:
    edges = [start_s, *cuts, end_s]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b - a > EPS]


def drop_black_ends(shots: List[Tuple[float, float]], shot_luma: Sequence[float], black_luma: float):
    """Split shots into (kept, dropped) by the leading/trailing black-shot rule."""
    lo, hi = 0, len(shots)
    while lo < hi and shot_luma[lo] < black_luma:
        lo += 1
    while hi > lo and shot_luma[hi - 1] < black_luma:
        hi -= 1
    dropped = [(*shots[i], "black") for i in list(range(0, lo)) + list(range(hi, len(shots)))]
    return shots[lo:hi], dropped


def pack_shots(shots: Sequence[Tuple[float, float]], max_clip_s: float, min_clip_s: float) -> Packing:
    """Greedy in-order packing of contiguous shots (see module rules 4 and 5)."""
    pieces: List[Tuple[float, float, bool]] = []   # (start, end, starts_at_cut)
    for a, b in shots:
        n = max(1, math.ceil((b - a) / max_clip_s - EPS))
        step = (b - a) / n
        for i in range(n):
            pieces.append((a + i * step, b if i == n - 1 else a + (i + 1) * step, i == 0))
    clips: List[Clip] = []
    dropped: List[Tuple[float, float, str]] = []
    cur: List[Tuple[float, float, bool]] = []

    def flush():
        if not cur:
            return
        s, e = cur[0][0], cur[-1][1]
        if e - s < min_clip_s - EPS:
            dropped.append((s, e, "shorter than min_clip_s"))
        else:
            clips.append(Clip(s, e, [p[0] for p in cur[1:] if p[2]]))
        cur.clear()

    for p in pieces:
        if cur and (p[1] - cur[0][0] > max_clip_s + EPS or not p[2]):
            flush()
        cur.append(p)
    flush()
    return Packing(clips, dropped)


def shot_mean_luma(shots: Sequence[Tuple[float, float]], luma_bins: Sequence[float], bin_s: float,
                   origin_s: float = 0.0) -> List[float]:
    """Mean of the luma bins whose centre falls in each shot (NaN bins ignored; none → bright)."""
    out = []
    for a, b in shots:
        i0 = max(0, int(math.floor((a - origin_s) / bin_s)))
        i1 = min(len(luma_bins), int(math.ceil((b - origin_s) / bin_s)))
        vals = [v for v in luma_bins[i0:i1] if v == v]
        out.append(sum(vals) / len(vals) if vals else 255.0)
    return out


def pack_source(cuts: Sequence[float], start_s: float, end_s: float, luma_bins: Sequence[float], bin_s: float,
                *, max_clip_s: float, min_clip_s: float, min_shot_s: float, drop_black: bool,
                black_luma: float) -> Packing:
    """Whole-source packing: filter cuts → shots → black rule → greedy packing."""
    kept_cuts = filter_cuts(cuts, start_s, end_s, min_shot_s)
    shots = shots_from_cuts(kept_cuts, start_s, end_s)
    dropped: List[Tuple[float, float, str]] = []
    if drop_black and shots:
        luma = shot_mean_luma(shots, luma_bins, bin_s, origin_s=start_s)
        shots, dropped = drop_black_ends(shots, luma, black_luma)
    packed = pack_shots(shots, max_clip_s, min_clip_s)
    packed.dropped = sorted(dropped + packed.dropped)
    return packed
