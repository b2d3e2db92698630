"""Split a probed source into detection segments and assemble their results into packed clips.

The store turns the result into rows (``semanticgen.store.rows.clip_rows``); nothing here knows the store."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ..config.ingest import IngestConfig
from .packing import Clip, pack_source
from .shots import LUMA_BIN_S


def plan_segments(duration_s: float, segment_s: float) -> List[Tuple[float, float | None]]:
    """Time ranges that partition ``[0, duration)``; boundaries on the luma-bin grid; last is open."""
    seg = max(LUMA_BIN_S, round(segment_s / LUMA_BIN_S) * LUMA_BIN_S)
    n = max(1, math.ceil(duration_s / seg - 1e-9))
    if n > 1 and duration_s - (n - 1) * seg < seg / 4:   # fold a tiny tail into the previous segment
        n -= 1
    return [(i * seg, (i + 1) * seg if i < n - 1 else None) for i in range(n)]


def merge_luma(segments: Sequence[dict]) -> List[float]:
    """Concatenate per-segment luma bins onto one grid starting at 0 (segments sorted by start)."""
    out: List[float] = []
    for s in segments:
        start_bin = int(round(s["start_s"] / LUMA_BIN_S))
        if len(out) < start_bin:
            out.extend([float("nan")] * (start_bin - len(out)))
        out = out[:start_bin] + list(s["luma_bins"])
    return out


@dataclass
class SourceResult:
    """Packed clips of one source, or the stage and message of why it has none."""
    clips: List[Clip] = field(default_factory=list)
    error: Optional[Tuple[str, str]] = None          # (stage, message)
    stats: Dict[str, float] = field(default_factory=dict)


def assemble_source(probe: dict, segments: Sequence[dict], cfg: IngestConfig) -> SourceResult:
    """Packed clips of one source from all its segment results.

    The decodable extent is ``[first frame, last frame + 1/fps)``; a segment that ends
    early (truncated file) caps the extent there.
    """
    segments = sorted(segments, key=lambda s: s["start_s"])
    failed = [s for s in segments if s.get("error")]
    if failed:
        return SourceResult(error=("detect", failed[0]["error"]))
    frame_dur = 1.0 / probe["fps"]
    first = next((s["first_frame_s"] for s in segments if s["first_frame_s"] is not None), None)
    if first is None:
        return SourceResult(error=("detect", "no frames could be decoded"))
    end = None
    for s in segments:
        if s["last_frame_s"] is None:
            break
        end = s["last_frame_s"] + frame_dur
        seg_end = s["end_s"]
        if s.get("decode_error") or (seg_end is not None and end < seg_end - max(1.0, 2 * frame_dur)):
            break                                   # decoding stopped early: truncated/corrupt source
    start = max(0.0, first)
    cuts = [c for s in segments for c in s["cuts_s"]]
    packed = pack_source(cuts, start, end, merge_luma(segments), LUMA_BIN_S, max_clip_s=cfg.max_clip_s,
                         min_clip_s=cfg.min_clip_s, min_shot_s=cfg.min_shot_s, drop_black=cfg.drop_black,
                         black_luma=cfg.black_luma)
    error = None
    if not packed.clips:
        why = ", ".join(sorted({d[2] for d in packed.dropped})) or "empty"
        error = ("pack", f"no clip kept ({why}; extent {start:.2f}-{end:.2f}s)")
    truncated = next((s["decode_error"] for s in segments if s.get("decode_error")), None)
    stats = {"decoded_s": end - start, "truncated": truncated, "kept_s": sum(c.duration_s for c in packed.clips),
             "dropped_s": sum(b - a for a, b, _ in packed.dropped), "cuts": float(len(cuts))}
    return SourceResult(packed.clips, error, stats)
