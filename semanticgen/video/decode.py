"""Decode the frames of a time span, once, with optional on-decoder downscaling (swscale)."""
from __future__ import annotations

from typing import Iterator, Optional, Tuple

import av
import numpy as np

from ..io.uri import open_input


def _scaled_size(w: int, h: int, width: Optional[int]) -> Tuple[int, int]:
    if not width or width >= w:
        return w, h
    height = max(2, int(round(h * width / w / 2)) * 2)
    return int(width), height


_CV_CODES = {"bgr24": "COLOR_YUV2BGR_I420", "rgb24": "COLOR_YUV2RGB_I420"}


def _fast_convert(frame, fmt: str, size: Tuple[int, int]) -> Optional[np.ndarray]:
    """yuv420p → BGR/RGB with OpenCV (PyAV's per-frame swscale set-up dominates on small frames)."""
    if frame.format.name not in ("yuv420p", "yuvj420p") or frame.width % 2 or frame.height % 2:
        return None
    import cv2

    w, h = size
    if (w, h) != (frame.width, frame.height) and (w % 2 or h % 2):
        return None
    i420 = frame.to_ndarray()                       # (H*3/2, W): Y plane, then U and V quarter planes
    if (w, h) != (frame.width, frame.height):       # downscale the planes first, convert the small image
        H, W = frame.height, frame.width
        y = cv2.resize(i420[:H], (w, h), interpolation=cv2.INTER_AREA)
        uv = i420[H:].reshape(2, H // 2, W // 2)   # I420 chroma planes are packed back to back
        u = cv2.resize(uv[0], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        v = cv2.resize(uv[1], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        i420 = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(h * 3 // 2, w)
    return cv2.cvtColor(i420, getattr(cv2, _CV_CODES[fmt]))


def iter_frames(uri: str, start_s: float = 0.0, end_s: Optional[float] = None, width: Optional[int] = None,
                fmt: str = "rgb24", threads: int = 1, fast: bool = False) -> Iterator[Tuple[float, np.ndarray]]:
    """Yield ``(pts_seconds, frame)`` for frames with ``start_s <= pts < end_s``.

    Seeks to the keyframe before ``start_s`` and decodes forward, so the span costs
    one decode of itself (plus at most one GOP). ``width`` downscales in the
    decoder's colour conversion (aspect kept). Frames are ``uint8 (H, W, 3)``.
    Timestamps come from the stream's pts, so variable-frame-rate inputs are exact.
    ``fast=True`` converts colour with OpenCV (approximate BT.601; fine for shot detection).
    """
    with open_input(uri) as fh, av.open(fh, mode="r") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO" if threads != 1 else "SLICE"
        if threads > 1:
            stream.codec_context.thread_count = threads
        tb = stream.time_base
        if start_s > 0:
            container.seek(int(start_s / tb), stream=stream, backward=True, any_frame=False)
        size = None
        first_pts = None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * tb)
            if first_pts is None:
                first_pts = t
            if t < start_s - 1e-6:
                continue
            if end_s is not None and t >= end_s - 1e-6:
                break
            if size is None:
                size = _scaled_size(frame.width, frame.height, width)
            img = _fast_convert(frame, fmt, size) if fast else None
            yield t, img if img is not None else frame.to_ndarray(format=fmt, width=size[0], height=size[1])


def stream_start_s(uri: str) -> float:
    """Presentation time of the first frame (usually 0; not always, e.g. MPEG-TS)."""
    for t, _ in iter_frames(uri, width=16):
        return t
    return 0.0


def read_span(uri: str, start_s: float, end_s: float, fps: Optional[float] = None,
              width: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Frames of ``[start_s, end_s)`` as ``uint8 (T, H, W, 3)`` RGB plus their times.

    With ``fps``, frames are resampled to a uniform grid ``start_s + k/fps`` by taking,
    for each grid time, the latest decoded frame at or before it (nearest-previous,
    as a player would show). The source is still decoded once.
    """
    if end_s <= start_s:
        raise ValueError(f"empty span [{start_s}, {end_s})")
    times, frames = [], []
    if fps is None:
        for t, f in iter_frames(uri, start_s, end_s, width=width):
            times.append(t)
            frames.append(f)
    else:
        n = int(np.floor((end_s - start_s) * fps + 1e-6))
        grid = start_s + np.arange(n) / fps
        k = 0
        prev = None
        for t, f in iter_frames(uri, max(0.0, start_s - 1.0), end_s, width=width):
            while k < n and t > grid[k] + 1e-6:
                if prev is not None:
                    times.append(grid[k])
                    frames.append(prev)
                k += 1
            prev = f
            if k >= n:
                break
        while k < n and prev is not None:      # tail: hold the last frame up to end_s
            times.append(grid[k])
            frames.append(prev)
            k += 1
    if not frames:
        raise ValueError(f"no frames decoded in [{start_s:.3f}, {end_s:.3f}) of {uri}")
    return np.stack(frames), np.asarray(times, dtype=np.float64)
