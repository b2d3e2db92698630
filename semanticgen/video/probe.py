"""Probe a video without decoding it all: duration, fps, size, codec, rotation."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import av

from ..io.uri import file_size, open_input


class ProbeError(RuntimeError):
    """The input cannot be used as a video (unreadable, no video stream, ...)."""


@dataclass
class ProbeResult:
    uri: str
    size_bytes: int
    duration_s: float
    fps: float               # average frame rate
    width: int               # display width (after rotation)
    height: int              # display height (after rotation)
    codec: str
    rotation: int            # degrees, as stored in the container's display matrix
    num_frames: int          # container's count, or an estimate from duration × fps
    container: str
    variable_fps: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _rotation(stream) -> int:
    try:
        meta = stream.metadata.get("rotate")
        if meta is not None:
            return int(float(meta)) % 360
    except (ValueError, AttributeError):
        pass
    return 0


def _first_frame_rotation(container, stream) -> Optional[int]:
    for frame in container.decode(stream):
        rot = getattr(frame, "rotation", 0) or 0
        return int(rot) % 360
    return None


def probe(uri: str) -> ProbeResult:
    """Read container headers (and one frame, to check the stream decodes and read rotation)."""
    size = file_size(uri)
    if size == 0:
        raise ProbeError("zero-byte file")
    try:
        with open_input(uri) as fh, av.open(fh, mode="r") as container:
            if not container.streams.video:
                kinds = sorted({s.type for s in container.streams}) or ["none"]
                raise ProbeError(f"no video stream (streams: {', '.join(kinds)})")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not rate or float(rate) <= 0:
                raise ProbeError("video stream has no frame rate")
            fps = float(rate)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = 0.0
            codec = stream.codec_context.name
            w, h = stream.codec_context.width, stream.codec_context.height
            base = stream.base_rate or rate
            vfr = abs(float(base) - fps) > 0.01 * fps if base else False
            rot = _first_frame_rotation(container, stream)
            if rot is None:
                raise ProbeError("video stream has no decodable frame")
            rot = rot or _rotation(stream)
            frames = int(stream.frames or 0) or int(round(duration * fps))
            fmt = container.format.name
    except ProbeError:
        raise
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as e:
        raise ProbeError(f"cannot open as video: {e}") from e
    if duration <= 0:
        raise ProbeError("video stream has zero duration")
    if w <= 0 or h <= 0:
        raise ProbeError(f"invalid frame size {w}x{h}")
    if rot in (90, 270):
        w, h = h, w
    return ProbeResult(uri=uri, size_bytes=size, duration_s=duration, fps=fps, width=w, height=h, codec=codec,
                       rotation=rot, num_frames=frames, container=fmt, variable_fps=vfr)
