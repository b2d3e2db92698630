"""VBench temporal flickering (no weights).

VBench (``vbench/temporal_flickering.py``): for every pair of consecutive frames the
mean absolute difference over all pixels and channels (float32), averaged over the
pairs, then ``(255 - mean) / 255``. All frames of the video are used. (VBench runs it
only on videos its RAFT static filter keeps; that filter needs weights and is not
applied here — the score is reported for every video.)
"""
from __future__ import annotations

import numpy as np

from .frames import check_frames


def pair_mae(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference of each consecutive pair: ``(T-1,)`` float64 in [0, 255]."""
    f = check_frames(frames, min_frames=2, name="temporal_flickering")
    out = np.empty(len(f) - 1, np.float64)
    for i in range(len(f) - 1):       # one pair at a time: no (T, H, W, 3) float copy of a long video
        out[i] = np.abs(f[i + 1].astype(np.float32) - f[i].astype(np.float32)).mean(dtype=np.float64)
    return out


def temporal_flickering(frames: np.ndarray) -> float:
    """``(255 - mean_t MAE(f_t, f_{t+1})) / 255``; 1.0 for a static video."""
    return float((255.0 - pair_mae(frames).mean()) / 255.0)
