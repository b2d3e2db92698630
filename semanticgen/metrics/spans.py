"""Frame-span rules shared by the built-in metrics and the vbench runner (standard library only).

The vbench runner executes in VBench's own virtualenv without this package installed, so it
loads this one file by path; the library imports it normally. Two rules live here:

- drift ends (paper §5: first/last 15 %): each end gets ``n = max(min_frames, floor(fraction * T
  + 0.5))`` frames (round half up); the ends never overlap, else there is no drift value;
- VBench-Long clips (``vbench2_beta_long/utils.py: split_video_into_clips``): ``int(fps) *
  clip_s`` frames per clip (``int``: VBench-Long reads the frame rate as an integer, so 23.976
  fps gives 46-frame 2 s clips), a shorter remainder becomes one more clip extended BACKWARDS to
  full length, a video shorter than one clip is one clip.
"""
from __future__ import annotations

import math
from typing import List, Tuple


class TooFewFramesError(ValueError):
    """A metric needs more frames than the (part of the) video it was given."""


def edge_frames(num_frames: int, fraction: float = 0.15, min_frames: int = 2) -> int:
    """How many frames each drift end (first / last) uses."""
    if not 0 < fraction <= 0.5:
        raise ValueError(f"drift: fraction must be in (0, 0.5], got {fraction}")
    n = max(int(min_frames), int(math.floor(fraction * num_frames + 0.5)))
    if 2 * n > num_frames:
        raise TooFewFramesError(f"drift: needs at least {2 * n} frames ({n} at each end), got {num_frames}")
    return n


def clip_frames(fps: float, clip_s: int) -> int:
    """Frames per VBench-Long clip: ``int(fps) * clip_s`` (at least 2)."""
    if fps <= 0 or clip_s <= 0:
        raise ValueError(f"clip_frames: fps and clip_s must be > 0, got {fps}, {clip_s}")
    return max(2, int(fps) * int(clip_s))


def clip_ranges(num_frames: int, fps: float, clip_s: int) -> List[Tuple[int, int]]:
    """``[(start, end), ...]`` frame ranges (end exclusive) of the VBench-Long clips, covering every frame."""
    if num_frames <= 0:
        raise ValueError(f"clip_ranges: no frames ({num_frames})")
    seg = clip_frames(fps, clip_s)
    if num_frames < seg:
        return [(0, num_frames)]
    full, rest = divmod(num_frames, seg)
    ranges = [(i * seg, (i + 1) * seg) for i in range(full)]
    if rest:
        ranges.append((num_frames - seg, num_frames))
    return ranges
