"""Weight-free motion-smoothness stand-in: ``linear_interp_smoothness`` (NOT VBench's number).

VBench's ``motion_smoothness`` drops the odd frames, re-creates them with the AMT-S
frame-interpolation network from their even neighbours and scores
``(255 - mean MAE(real odd frame, interpolated one)) / 255``. This stand-in keeps that
structure and normalisation but predicts each odd frame ``i`` (``1 <= i <= T-2``) by the
plain average of frames ``i-1`` and ``i+1`` (float, no rounding). It rewards linear
brightness/colour change and penalises motion a flow-based interpolator would handle,
so it is reported under its own name only.
"""
from __future__ import annotations

import numpy as np

from .frames import check_frames


def interp_mae(frames: np.ndarray) -> np.ndarray:
    """MAE of each odd frame against the mean of its two neighbours: ``(ceil(T/2) - 1,)``."""
    f = check_frames(frames, min_frames=3, name="linear_interp_smoothness")
    out = []
    for i in range(1, len(f) - 1, 2):
        pred = (f[i - 1].astype(np.float32) + f[i + 1].astype(np.float32)) * 0.5
        out.append(np.abs(f[i].astype(np.float32) - pred).mean(dtype=np.float64))
    return np.asarray(out, np.float64)


def linear_interp_smoothness(frames: np.ndarray) -> float:
    """``(255 - mean MAE(odd frame, average of its neighbours)) / 255``; 1.0 for linear change."""
    return float((255.0 - interp_mae(frames).mean()) / 255.0)
