"""Synthetic test media with known content: shots with exact cut frames, bad inputs."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import List, Optional, Sequence

import av
import numpy as np


def shot_frames(n_frames: Sequence[int], width: int = 96, height: int = 64, seed: int = 0,
                black: Sequence[int] = ()) -> List[np.ndarray]:
    """Frames for consecutive shots: each shot a distinct random texture drifting slowly."""
    rng = np.random.default_rng(seed)
    frames = []
    for s, n in enumerate(n_frames):
        if s in black:
            frames.extend(np.zeros((height, width, 3), np.uint8) for _ in range(n))
            continue
        base = rng.integers(0, 256, size=(height // 8 + 2, (width + n) // 8 + 2, 3), dtype=np.uint8)
        tex = np.kron(base, np.ones((8, 8, 1), np.uint8))
        for i in range(n):
            dx = i // 2          # slow pan: one pixel every other frame
            frames.append(np.ascontiguousarray(tex[:height, dx:dx + width]))
    return frames


def write_frames(path: Path, frames: Sequence[np.ndarray], fps: float = 25.0, codec: str = "libx264",
                 pix_fmt: str = "yuv420p", times: Optional[Sequence[float]] = None,
                 options: Optional[dict] = None, audio: bool = False) -> Path:
    """Encode frames; ``times`` (seconds) gives variable-frame-rate timestamps."""
    path = Path(path)
    h, w = frames[0].shape[:2]
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w", options=options or {}) as out:
        st = out.add_stream(codec, rate=rate)
        st.width, st.height, st.pix_fmt = w, h, pix_fmt
        if codec == "libx264":
            st.options = {"crf": "18", "preset": "ultrafast", "g": "25"}
        if times is not None:
            st.time_base = Fraction(1, 1000)
        if audio:
            ast = out.add_stream("aac", rate=16000)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            if times is not None:
                vf.pts = int(round(times[i] * 1000))
                vf.time_base = Fraction(1, 1000)
            for p in st.encode(vf):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
        if audio:
            _write_tone(out, ast, seconds=len(frames) / fps)
    return path


def _write_tone(out, ast, seconds: float) -> None:
    sr = 16000
    t = np.arange(int(sr * seconds)) / sr
    samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    step = ast.codec_context.frame_size or 1024
    for i in range(0, len(samples) - step, step):
        af = av.AudioFrame.from_ndarray(samples[None, i:i + step], format="fltp", layout="mono")
        af.sample_rate = sr
        af.pts = i
        for p in ast.encode(af):
            out.mux(p)
    for p in ast.encode():
        out.mux(p)


def write_audio_only(path: Path, seconds: float = 2.0) -> Path:
    with av.open(str(path), mode="w") as out:
        ast = out.add_stream("aac", rate=16000)
        _write_tone(out, ast, seconds)
    return Path(path)


def movie_with_cuts(path: Path, shot_lengths: Sequence[int], fps: float = 25.0, seed: int = 0, **kw):
    """Write a movie; returns the true cut times (seconds) = first frame of each new shot."""
    write_frames(path, shot_frames(shot_lengths, seed=seed, black=kw.pop("black", ())), fps=fps, **kw)
    idx = np.cumsum(shot_lengths)[:-1]
    return [float(i) / fps for i in idx]
