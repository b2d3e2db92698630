"""VBench-Long's fixed-length clips: splitting rule, optional mp4 re-encode, per-video averaging.

VBench-Long (``vbench2_beta_long/utils.py: split_video_into_clips``) reads the frame rate as
``int(avg_fps)`` and cuts every video of the long setting into clips of
``int(fps) * duration`` frames (``duration``: 2 s for these dimensions, whole seconds; at
23.976 fps that is 46 frames, not 48). A shorter remainder becomes one more clip extended
BACKWARDS to full length (it borrows frames from the previous clip); a video shorter than
one clip is one clip. Every clip — the whole-video one too — is written to mp4 with
``torchvision.io.write_video`` (libx264, yuv420p, x264's defaults, ``int(fps)``) and read back
before scoring, which :func:`reencode` reproduces (with x264 on one thread: see ``clip_io.py``).
A dimension's score for the long video is the mean of its clip scores. (Its "clip2clip" consistency branch has weight 0
outside VBench's dev mode and does not change the score; it is not reproduced.)
"""
from __future__ import annotations

import io
from typing import Any, Callable, List, Tuple

import av
import numpy as np

from ..video.mp4 import pad_to_even
from .clip_io import write_clip
from .spans import clip_frames, clip_ranges

__all__ = ["clip_frames", "clip_ranges", "per_clip_mean", "reencode"]


def reencode(frames: np.ndarray, fps: float) -> np.ndarray:
    """``frames`` written to mp4 as VBench-Long writes a clip (:func:`clip_io.write_clip`), then decoded again."""
    buf = io.BytesIO()
    write_clip(buf, pad_to_even(np.asarray(frames)), fps)
    buf.seek(0)
    with av.open(buf) as inp:
        return np.stack([f.to_ndarray(format="rgb24") for f in inp.decode(video=0)])


def per_clip_mean(score: Callable[[Any], float], state, ranges: List[Tuple[int, int]]) -> float:
    """Mean over clips of ``score(state[start:end])``."""
    values = [score(state[a:b]) for a, b in ranges]
    return float(sum(values) / len(values))
