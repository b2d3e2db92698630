"""Whole-video mp4 I/O for generated and evaluated videos: H.264/yuv420p via PyAV.

    write_video("out.mp4", frames, fps=16)     # frames: uint8 (T, H, W, 3) RGB
    frames, fps = read_video("out.mp4")

Odd sizes: yuv420p needs an even width and height, so an odd dimension is padded
by ONE replicated last row/column (edge padding) before encoding; ``read_video``
returns the padded (even) size. Generators that care should produce even sizes
(every real latent size, 8x the VAE grid, already is).
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Optional, Tuple, Union

import av
import numpy as np

PathLike = Union[str, Path]


class VideoReadError(RuntimeError):
    """The file cannot be decoded as a video (message names the file)."""


def _check_frames(frames) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"write_video: frames must be (T, H, W, 3), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"write_video: frames must be uint8, got {arr.dtype}")
    if arr.shape[0] == 0:
        raise ValueError("write_video: no frames to write")
    return arr


def pad_to_even(frames: np.ndarray) -> np.ndarray:
    """Replicate the last row/column once where height/width is odd (the documented odd-size rule)."""
    _, h, w, _ = frames.shape
    ph, pw = h % 2, w % 2
    if not (ph or pw):
        return frames
    return np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")


class VideoWriter:
    """Streaming H.264 (yuv420p) mp4 writer: append frame chunks, memory stays bounded.

    ``with VideoWriter(path, fps) as w: w.write(frames_chunk)``; odd sizes are padded like ``pad_to_even``.
    """

    def __init__(self, path: PathLike, fps: float, crf: int = 18, preset: str = "medium"):
        if not fps or fps <= 0:
            raise ValueError(f"write_video: fps must be > 0, got {fps!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rate, self.crf, self.preset = Fraction(fps).limit_denominator(1001), crf, preset
        self.out = av.open(str(self.path), mode="w")
        self.stream = None
        self.frames = 0

    def write(self, frames) -> None:
        arr = pad_to_even(_check_frames(frames))
        if self.stream is None:
            st = self.out.add_stream("libx264", rate=self.rate)
            st.width, st.height, st.pix_fmt = arr.shape[2], arr.shape[1], "yuv420p"
            st.options = {"crf": str(int(self.crf)), "preset": self.preset}
            self.stream = st
        for i in range(arr.shape[0]):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr[i]), format="rgb24")
            for pkt in self.stream.encode(vf):
                self.out.mux(pkt)
        self.frames += arr.shape[0]

    def close(self) -> Path:
        if self.stream is not None:
            for pkt in self.stream.encode():
                self.out.mux(pkt)
        self.out.close()
        return self.path

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_video(path: PathLike, frames, fps: float, crf: int = 18, preset: str = "medium") -> Path:
    """Encode ``frames`` (uint8 RGB ``(T, H, W, 3)``) as H.264 yuv420p mp4 at ``fps``.

    ``crf`` is the x264 quality (0 lossless-ish luma, 18 visually lossless, 23 default).
    Returns the path. The parent folder is created if missing.
    """
    arr = _check_frames(frames)
    with VideoWriter(path, fps, crf, preset) as w:
        w.write(arr)
    return Path(path)


def read_video(path: PathLike, max_frames: Optional[int] = None) -> Tuple[np.ndarray, float]:
    """Decode every frame (or the first ``max_frames``) → ``(uint8 (T, H, W, 3) RGB, fps)``.

    ``fps`` is the stream's average frame rate. Raises ``FileNotFoundError`` for a
    missing file and :class:`VideoReadError` (naming the file) for anything undecodable.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_video: no such file: {path}")
    frames = []
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                raise VideoReadError(f"read_video: {path} has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except VideoReadError:
        raise
    except (av.FFmpegError, ValueError, OSError) as e:
        raise VideoReadError(f"read_video: cannot decode {path}: {type(e).__name__}: {e}") from e
    if not frames:
        raise VideoReadError(f"read_video: {path} has no decodable frames")
    if not rate:
        raise VideoReadError(f"read_video: {path} has no frame rate")
    return np.stack(frames), float(rate)
