"""Drift: Δ_drift^M = |M(first part) − M(last part)| (paper §5, long videos; first/last 15%).

Rounding rule: each end gets ``n = max(min_frames, floor(fraction * T + 0.5))`` frames
(round half up), where ``min_frames`` is at least 2 and at least what metric ``M`` needs;
``n`` may not exceed ``T // 2`` so the two ends never overlap. A video too short for that
has no drift value (:class:`TooFewFramesError`).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Tuple

from .frames import TooFewFramesError


def edge_frames(num_frames: int, fraction: float = 0.15, min_frames: int = 2) -> int:
    """How many frames each end (first / last) uses."""
    if not 0 < fraction <= 0.5:
        raise ValueError(f"drift: fraction must be in (0, 0.5], got {fraction}")
    n = max(int(min_frames), int(math.floor(fraction * num_frames + 0.5)))
    if 2 * n > num_frames:
        raise TooFewFramesError(f"drift: needs at least {2 * n} frames ({n} at each end), got {num_frames}")
    return n


def edge_slices(num_frames: int, fraction: float = 0.15, min_frames: int = 2) -> Tuple[slice, slice]:
    n = edge_frames(num_frames, fraction, min_frames)
    return slice(0, n), slice(num_frames - n, num_frames)


def drift(score: Callable[[Any], float], state, fraction: float = 0.15, min_frames: int = 2) -> float:
    """``|score(state[first]) − score(state[last])|``; ``state`` is indexed by frame on axis 0."""
    first, last = edge_slices(len(state), fraction, min_frames)
    return abs(score(state[first]) - score(state[last]))
