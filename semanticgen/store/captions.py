"""User-provided captions for clips: a sidecar file of ``clip_id`` → ``caption``.

JSONL (one ``{"clip_id": ..., "caption": ...}`` per line), CSV (header ``clip_id,caption``) or Parquet,
local or on an object store. Clip ids are those of ``STORE/clips`` (written by ingest). Clips with a
caption keep it: the captioner skips them and their text embedding encodes that caption.
"""
from __future__ import annotations

import json
from typing import Dict

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..io.uri import filesystem


def read_captions(uri: str) -> Dict[str, str]:
    """The sidecar as a dict; ``ValueError`` naming the file and the line/row of any bad entry."""
    fs, path = filesystem(uri)
    try:
        if path.endswith((".jsonl", ".json")):
            with fs.open_input_stream(path) as f:
                text = f.read().decode("utf-8")
            rows = []
            for i, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise ValueError(f"{uri}: line {i} is not JSON ({e.msg})") from None
            table = pa.Table.from_pylist(rows) if rows else pa.table({"clip_id": [], "caption": []})
        elif path.endswith(".csv"):
            with fs.open_input_stream(path) as f:
                table = pacsv.read_csv(f)
        elif path.endswith(".parquet"):
            table = pq.read_table(path, filesystem=fs)
        else:
            raise ValueError(f"{uri}: captions must be .jsonl, .csv or .parquet")
    except FileNotFoundError:
        raise ValueError(f"{uri}: no such captions file") from None
    missing = {"clip_id", "caption"} - set(table.column_names)
    if missing:
        raise ValueError(f"{uri}: missing column(s) {sorted(missing)}")
    out: Dict[str, str] = {}
    for i, (cid, cap) in enumerate(zip(table.column("clip_id").to_pylist(), table.column("caption").to_pylist()), 1):
        if not isinstance(cid, str) or not cid or not isinstance(cap, str) or not cap.strip():
            raise ValueError(f"{uri}: entry {i} needs a non-empty string clip_id and caption")
        if cid in out and out[cid] != cap:
            raise ValueError(f"{uri}: clip {cid} has two different captions")
        out[cid] = cap.strip()
    return out
