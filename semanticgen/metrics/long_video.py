"""VBench-Long's fixed-length clips: splitting rule, optional mp4 re-encode, per-video averaging.

VBench-Long (``vbench2_beta_long/utils.py: split_video_into_clips``) reads the frame rate as
``int(avg_fps)`` and cuts every video of the long setting into clips of
``int(fps) * duration`` frames (``duration``: 2 s for these dimensions, whole seconds; at
23.976 fps that is 46 frames, not 48). A shorter remainder becomes one more clip extended
BACKWARDS to full length (it borrows frames from the previous clip); a video shorter than
one clip is one clip. Every clip — the whole-video one too — is written to mp4 with
``torchvision.io.write_video`` (libx264, yuv420p, x264's default CRF 23, ``int(fps)``) and
read back before scoring, which :func:`reencode` reproduces. A dimension's score for the
long video is the mean of its clip scores. (Its "clip2clip" consistency branch has weight 0
outside VBench's dev mode and does not change the score; it is not reproduced.)
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, List, Tuple

import numpy as np

from ..video.mp4 import read_video, write_video
from .spans import clip_frames, clip_ranges

__all__ = ["clip_frames", "clip_ranges", "per_clip_mean", "reencode"]

X264_DEFAULT_CRF = 23      # torchvision.io.write_video passes no options: x264's default rate control


def reencode(frames: np.ndarray, fps: float) -> np.ndarray:
    """``frames`` written to H.264 mp4 at ``int(fps)`` as VBench-Long writes a clip, then decoded again."""
    with tempfile.TemporaryDirectory(prefix="sg-clip-") as tmp:
        path = Path(tmp) / "clip.mp4"
        write_video(path, frames, fps=max(1, int(fps)), crf=X264_DEFAULT_CRF, preset="medium")
        out, _ = read_video(path)
    return out


def per_clip_mean(score: Callable[[Any], float], state, ranges: List[Tuple[int, int]]) -> float:
    """Mean over clips of ``score(state[start:end])``."""
    values = [score(state[a:b]) for a, b in ranges]
    return float(sum(values) / len(values))
