"""Input checks shared by the frame-based metrics."""
from __future__ import annotations

import numpy as np

from .spans import TooFewFramesError

__all__ = ["TooFewFramesError", "check_frames"]


def check_frames(frames, min_frames: int, name: str) -> np.ndarray:
    """``frames`` must be ``(T, H, W, C)`` with ``T >= min_frames``; returns it as an ndarray."""
    f = np.asarray(frames)
    if f.ndim != 4:
        raise ValueError(f"{name}: frames must be (T, H, W, C), got shape {f.shape}")
    if len(f) < min_frames:
        raise TooFewFramesError(f"{name}: needs at least {min_frames} frames, got {len(f)}")
    return f
