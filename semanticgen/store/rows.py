"""Building store rows: deterministic ids, clip rows from packed clips, error rows."""
from __future__ import annotations

import hashlib
import uuid
from typing import Iterable, List

# A fixed namespace so clip ids are the same on every machine and every re-run.
CLIP_NAMESPACE = uuid.UUID("6f1c2a4e-5b7d-4c3e-9a8f-0d2e4b6a8c10")


def source_id(source_uri: str, size_bytes: int) -> str:
    """Stable key of one input: its URI and byte size (a replaced file gets a new id)."""
    return hashlib.sha1(f"{source_uri}|{size_bytes}".encode()).hexdigest()[:20]


def clip_id(source_key: str, start_s: float, end_s: float) -> str:
    """uuid5 of the source identity + the clip span (millisecond resolution)."""
    return str(uuid.uuid5(CLIP_NAMESPACE, f"{source_key}|{start_s:.3f}|{end_s:.3f}"))


def error_row(source_uri: str, stage: str, error: str, source_key: str = "", clip: str | None = None) -> dict:
    return {"source_uri": source_uri, "source_id": source_key, "clip_id": clip, "stage": stage,
            "error": error[:2000]}


def clip_rows(probe: dict, clips: Iterable, source_key: str) -> List[dict]:
    """``clips`` rows of one source from its probe and its packed clips (``video.packing.PackedClip``)."""
    fps = probe["fps"]
    return [{"clip_id": clip_id(source_key, c.start_s, c.end_s), "source_uri": probe["uri"],
             "source_id": source_key, "start_s": c.start_s, "end_s": c.end_s, "duration_s": c.duration_s,
             "num_frames": int(round(c.duration_s * fps)), "fps": fps, "width": probe["width"],
             "height": probe["height"], "rotation": probe["rotation"], "codec": probe["codec"],
             "shot_boundaries_s": list(c.shot_boundaries_s), "clip_index": i, "caption": None}
            for i, c in enumerate(clips)]


def part_key(clip_ids: Iterable[str], prefix: str = "") -> str:
    """Deterministic part name for a unit of work given by its clip ids (same ids → same part)."""
    return prefix + hashlib.sha1("|".join(sorted(clip_ids)).encode()).hexdigest()[:20]
