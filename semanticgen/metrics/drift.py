"""Drift: Δ_drift^M = |M(first part) − M(last part)| (paper §5, long videos; first/last 15%).

The end sizes follow :func:`spans.edge_frames` (round half up, at least ``min_frames``, where
``min_frames`` is at least 2 and at least what metric ``M`` needs; ends never overlap). A video
too short for that has no drift value (:class:`TooFewFramesError`). The evaluator computes M on
each end with the same rule as the headline column (see ``evaluator.py``); :func:`drift` is the
plain form on per-frame state.
"""
from __future__ import annotations

from typing import Any, Callable, Tuple

from .spans import TooFewFramesError, edge_frames

__all__ = ["TooFewFramesError", "drift", "edge_frames", "edge_slices"]


def edge_slices(num_frames: int, fraction: float = 0.15, min_frames: int = 2) -> Tuple[slice, slice]:
    n = edge_frames(num_frames, fraction, min_frames)
    return slice(0, n), slice(num_frames - n, num_frames)


def drift(score: Callable[[Any], float], state, fraction: float = 0.15, min_frames: int = 2) -> float:
    """``|score(state[first]) − score(state[last])|``; ``state`` is indexed by frame on axis 0."""
    first, last = edge_slices(len(state), fraction, min_frames)
    return abs(score(state[first]) - score(state[last]))
