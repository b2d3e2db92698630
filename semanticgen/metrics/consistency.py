"""VBench subject/background consistency from per-frame features.

VBench (``subject_consistency.py`` with DINO ViT-B/16, ``background_consistency.py``
with CLIP ViT-B/32): features are L2-normalised; for every frame ``i >= 1``
``s_i = (max(0, cos(f_{i-1}, f_i)) + max(0, cos(f_0, f_i))) / 2`` and the video score is
``mean_i s_i`` over the ``T - 1`` frames after the first.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .frames import TooFewFramesError


def consistency_score(features: torch.Tensor) -> float:
    """``features``: ``(T, D)`` per-frame features (normalised here), ``T >= 2``."""
    if features.ndim != 2:
        raise ValueError(f"consistency: features must be (T, D), got shape {tuple(features.shape)}")
    if features.shape[0] < 2:
        raise TooFewFramesError(f"consistency: needs at least 2 frames, got {features.shape[0]}")
    f = F.normalize(features.double(), dim=-1, p=2)
    sim_prev = (f[1:] * f[:-1]).sum(-1).clamp_min(0.0)
    sim_first = (f[1:] * f[:1]).sum(-1).clamp_min(0.0)
    return float(((sim_prev + sim_first) / 2).mean())
