"""VBench-Long-style fixed-length clip splitting and per-clip aggregation.

VBench-Long (``vbench2_beta_long/utils.py: split_video_into_clips``) cuts a long video into
clips of ``fps × duration`` frames (its default duration: 2 s for these dimensions); a
shorter remainder becomes one more clip extended BACKWARDS to full length (it borrows
frames from the previous clip); a video shorter than one clip is one clip. A dimension's
score for the long video is the mean of its clip scores. (Its extra "fast branch" for the
consistency dimensions, which needs DreamSim/DINOv2 weights, is not reproduced here.)
Here the clip length in frames is ``max(2, round(fps × clip_s))``.
"""
from __future__ import annotations

from typing import Any, Callable, List, Tuple


def clip_ranges(num_frames: int, fps: float, clip_s: float) -> List[Tuple[int, int]]:
    """``[(start, end), ...]`` frame ranges (end exclusive) covering every frame."""
    if num_frames <= 0:
        raise ValueError(f"clip_ranges: no frames ({num_frames})")
    if fps <= 0 or clip_s <= 0:
        raise ValueError(f"clip_ranges: fps and clip_s must be > 0, got {fps}, {clip_s}")
    seg = max(2, int(round(fps * clip_s)))
    if num_frames <= seg:
        return [(0, num_frames)]
    full, rest = divmod(num_frames, seg)
    ranges = [(i * seg, (i + 1) * seg) for i in range(full)]
    if rest:
        ranges.append((num_frames - seg, num_frames))
    return ranges


def per_clip_mean(score: Callable[[Any], float], state, ranges: List[Tuple[int, int]]) -> float:
    """Mean over clips of ``score(state[start:end])``."""
    values = [score(state[a:b]) for a, b in ranges]
    return float(sum(values) / len(values))
