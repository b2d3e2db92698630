"""Shot-boundary detection with PySceneDetect over one time segment, in one decode pass.

Frames are decoded once (:func:`semanticgen.video.decode.iter_frames`), downscaled in
the decoder to ``detect_width`` and fed to a PySceneDetect detector with their real
presentation timestamps. A segment ``[start_s, end_s)`` decodes from
``start_s - context_s`` so a cut right at ``start_s`` is seen; it reports only cuts in
``[start_s, end_s)``, so consecutive segments partition a source's cuts exactly.
Per-frame mean luma is also collected (binned) for the black-shot rule.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import List, Optional

import numpy as np

from .decode import iter_frames

LUMA_BIN_S = 0.25


@dataclass
class SegmentShots:
    cuts_s: List[float] = field(default_factory=list)    # cut times (first frame of the new shot)
    luma_bins: List[float] = field(default_factory=list)  # mean luma per LUMA_BIN_S bin from start_s
    first_frame_s: Optional[float] = None                # pts of the first frame in [start_s, end_s)
    last_frame_s: Optional[float] = None                 # pts of the last frame in [start_s, end_s)
    frames: int = 0                                      # frames decoded in [start_s, end_s)
    decode_error: Optional[str] = None                   # decoding stopped early (truncated/corrupt)


def _until_error(frames, out: SegmentShots):
    """Pass frames through; a decode error after some frames marks the segment as ending early."""
    import av

    n = 0
    try:
        for item in frames:
            n += 1
            yield item
    except av.FFmpegError as e:
        if n == 0:
            raise
        out.decode_error = f"{type(e).__name__}: {e}"


def make_detector(kind: str, threshold: float, min_shot_s: float):
    from scenedetect.detectors import AdaptiveDetector, ContentDetector

    if kind == "content":
        return ContentDetector(threshold=threshold, min_scene_len=float(min_shot_s))
    if kind == "adaptive":
        return AdaptiveDetector(adaptive_threshold=threshold, min_scene_len=float(min_shot_s))
    raise ValueError(f"unknown detector {kind!r}")


def detect_segment(uri: str, start_s: float, end_s: Optional[float], fps: float, *, kind: str = "content",
                   threshold: float = 27.0, min_shot_s: float = 0.5, width: int = 160,
                   context_s: float = 2.0, threads: int = 1) -> SegmentShots:
    """Detect cuts in ``[start_s, end_s)`` (``end_s=None``: to the end of the stream)."""
    from scenedetect.common import FrameTimecode

    if kind == "transnetv2":
        return _detect_transnet(uri, start_s, end_s, threshold, context_s, threads)
    detector = make_detector(kind, threshold, min_shot_s)
    rate = Fraction(fps).limit_denominator(100000)
    out = SegmentShots()
    acc = _Accumulator(out, start_s, end_s)
    cuts: List[float] = []
    last_tc = None
    frames = iter_frames(uri, max(0.0, start_s - context_s), end_s, width=width, fmt="bgr24", threads=threads,
                         fast=True)
    for t, frame in _until_error(frames, out):
        tc = FrameTimecode(float(t), fps=rate)
        last_tc = tc
        for c in detector.process_frame(tc, frame):
            cuts.append(c.seconds)
        if t >= start_s - 1e-6:
            acc.add(t, frame, bgr=True)
    post = getattr(detector, "post_process", None)
    if callable(post) and last_tc is not None:
        for c in post(last_tc) or []:
            cuts.append(c.seconds)
    return acc.finish(cuts)


class _Accumulator:
    """Frame count, first/last pts and binned mean luma of the frames inside the segment."""

    def __init__(self, out: SegmentShots, start_s: float, end_s: Optional[float]):
        self.out, self.start_s, self.end_s = out, start_s, end_s
        self.bins: dict = {}

    def add(self, t: float, frame: np.ndarray, bgr: bool) -> None:
        out = self.out
        if out.first_frame_s is None:
            out.first_frame_s = t
        out.last_frame_s = t
        out.frames += 1
        b = int((t - self.start_s) / LUMA_BIN_S)
        r, g, bl = (2, 1, 0) if bgr else (0, 1, 2)       # Rec.601 luma, mean over the small frame
        y = float(frame[..., r].mean() * 0.299 + frame[..., g].mean() * 0.587 + frame[..., bl].mean() * 0.114)
        s, n = self.bins.get(b, (0.0, 0))
        self.bins[b] = (s + y, n + 1)

    def finish(self, cuts: List[float]) -> SegmentShots:
        hi = float("inf") if self.end_s is None else self.end_s
        self.out.cuts_s = sorted(c for c in cuts if self.start_s - 1e-6 <= c < hi - 1e-6 and c > 1e-6)
        if self.bins:
            nb = max(self.bins) + 1
            self.out.luma_bins = [self.bins[i][0] / self.bins[i][1] if i in self.bins else float("nan")
                                  for i in range(nb)]
        return self.out


def _detect_transnet(uri: str, start_s: float, end_s: Optional[float], threshold: float, context_s: float,
                     threads: int) -> SegmentShots:
    import cv2

    from .transnet import INPUT_HW, transnet_cuts

    out = SegmentShots()
    acc = _Accumulator(out, start_s, end_s)
    frames, times = [], []
    decoded = iter_frames(uri, max(0.0, start_s - context_s), end_s, width=96, fmt="rgb24", threads=threads,
                          fast=True)
    for t, frame in _until_error(decoded, out):
        small = cv2.resize(frame, (INPUT_HW[1], INPUT_HW[0]), interpolation=cv2.INTER_AREA)
        frames.append(small)
        times.append(t)
        if t >= start_s - 1e-6:
            acc.add(t, small, bgr=False)
    cuts = transnet_cuts(np.stack(frames), times, threshold) if frames else []
    return acc.finish(cuts)
