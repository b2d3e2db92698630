"""Arrow schemas and deterministic ids of the clip store (DESIGN §2)."""
from __future__ import annotations

import hashlib
import uuid

import pyarrow as pa

SCHEMA_VERSION = 1
# A fixed namespace so clip ids are the same on every machine and every re-run.
CLIP_NAMESPACE = uuid.UUID("6f1c2a4e-5b7d-4c3e-9a8f-0d2e4b6a8c10")

CLIPS_SCHEMA = pa.schema([
    ("clip_id", pa.string()),
    ("source_uri", pa.string()),
    ("source_id", pa.string()),
    ("start_s", pa.float64()),
    ("end_s", pa.float64()),
    ("duration_s", pa.float64()),
    ("num_frames", pa.int64()),
    ("fps", pa.float64()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("rotation", pa.int32()),
    ("codec", pa.string()),
    ("shot_boundaries_s", pa.list_(pa.float64())),
    ("clip_index", pa.int32()),
    ("caption", pa.string()),        # optional user-provided caption (sidecar); null otherwise
])

ERRORS_SCHEMA = pa.schema([
    ("source_uri", pa.string()),
    ("source_id", pa.string()),
    ("clip_id", pa.string()),        # null for source-level errors
    ("stage", pa.string()),          # discover | probe | detect | pack | write | features stages...
    ("error", pa.string()),
])


def source_id(source_uri: str, size_bytes: int) -> str:
    """Stable key of one input: its URI and byte size (a replaced file gets a new id)."""
    return hashlib.sha1(f"{source_uri}|{size_bytes}".encode()).hexdigest()[:20]


def clip_id(source_key: str, start_s: float, end_s: float) -> str:
    """uuid5 of the source identity + the clip span (millisecond resolution)."""
    return str(uuid.uuid5(CLIP_NAMESPACE, f"{source_key}|{start_s:.3f}|{end_s:.3f}"))


def error_row(source_uri: str, stage: str, error: str, source_key: str = "", clip: str | None = None) -> dict:
    return {"source_uri": source_uri, "source_id": source_key, "clip_id": clip, "stage": stage,
            "error": error[:2000]}
