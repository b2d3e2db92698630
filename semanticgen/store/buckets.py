"""Shape buckets of a store table: the key column, the per-clip index a trainer batches from, bucket statistics.

A clip's ``bucket`` (features and z_sem tables) is ``"<frames>x<height>x<width>"``: its VAE frame count (a
temporal bucket, ``features.frame_buckets``) and spatial bucket in pixels. What a batch needs equal is the shape of
every tensor it stacks, so the training buckets are the distinct shape combinations (:class:`BucketIndex`):
stage 1 the latents + Qwen features (the bucket and its z_sem grid), stage 2 the z_sem grid. :func:`bucket_stats`
is the table logged to MLflow and stored with each checkpoint (``buckets.json``), which generation reads to sample
z_sem on the grid the training clips of a bucket have.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import pyarrow.dataset as pads

from .table import Table

BUCKETS_FILE = "buckets.json"
Shape = Tuple[int, ...]


def bucket_key(frames: int, height: int, width: int) -> str:
    return f"{int(frames)}x{int(height)}x{int(width)}"


def parse_bucket(key: str) -> Tuple[int, int, int]:
    """``"33x48x80"`` → (33, 48, 80)."""
    try:
        f, h, w = (int(x) for x in key.split("x"))
    except ValueError:
        raise ValueError(f"not a bucket key (frames x height x width): {key!r}") from None
    return f, h, w


@dataclass
class BucketIndex:
    """Every trainable clip of a table: id, where its row lives (part file, row in the file) and its bucket.

    ``buckets[b]`` is the shape combination of bucket ``b`` (one shape per tensor in ``shape_names``), ``labels[b]``
    its store key(s), ``tokens[b]`` the tokens one clip of it costs (``token_fn`` of its shapes)."""
    table_uri: str
    files: List[str]
    clip_ids: List[str]
    file_of: List[int]
    row_of: List[int]
    bucket_of: List[int]
    buckets: List[Tuple[Shape, ...]]
    labels: List[str]
    tokens: List[int]
    shape_names: Tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.clip_ids)

    def counts(self) -> List[int]:
        out = [0] * len(self.buckets)
        for b in self.bucket_of:
            out[b] += 1
        return out


def build_index(table: Table, shape_names: Sequence[str], token_fn, label_col: Optional[str] = "bucket") -> BucketIndex:
    """Scan ``table``'s small columns (ids, shapes, bucket keys), part by part, into a :class:`BucketIndex`; buckets
    are numbered in sorted shape order, so the numbering is the same on every machine."""
    files = table.files()
    if not files:
        raise RuntimeError(f"{table.uri} is empty: run the previous stage first")
    names = list(table.schema.names) if table.schema is not None else []
    want = ["clip_id", *[f"{n}_shape" for n in shape_names], *([label_col] if label_col in names else [])]
    ds = pads.dataset(files, filesystem=table.fs, format="parquet", schema=table.schema)
    rows, pos = [], []
    for fi, frag in enumerate(ds.get_fragments()):
        part = frag.to_table(columns=want, schema=table.schema).to_pylist()
        rows += part
        pos += [(fi, ri) for ri in range(len(part))]
    shapes = [tuple(tuple(int(x) for x in r[f"{n}_shape"]) for n in shape_names) for r in rows]
    order = sorted(set(shapes))
    number = {s: i for i, s in enumerate(order)}
    labels: Dict[int, set] = {i: set() for i in range(len(order))}
    for r, s in zip(rows, shapes):
        labels[number[s]].add(r.get(label_col) or "")
    return BucketIndex(table.uri, [str(f) for f in files], [r["clip_id"] for r in rows], [p[0] for p in pos],
                       [p[1] for p in pos], [number[s] for s in shapes], order,
                       ["+".join(sorted(x for x in labels[i] if x)) for i in range(len(order))],
                       [int(token_fn(s)) for s in order], tuple(shape_names))


def bucket_stats(index: BucketIndex, batch_sizes: Sequence[int]) -> List[dict]:
    """One row per training bucket: its store key, tensor shapes, clips, batch size and tokens per clip."""
    counts = index.counts()
    return [{"bucket": index.labels[b], **{f"{n}_shape": list(s) for n, s in zip(index.shape_names, shapes)},
             "clips": counts[b], "batch_size": int(batch_sizes[b]), "tokens_per_clip": index.tokens[b]}
            for b, shapes in enumerate(index.buckets)]


def write_stats(path: str, stats: List[dict], stage: str) -> None:
    with open(path, "w") as f:
        json.dump({"stage": stage, "buckets": stats}, f, indent=1)


def read_stats(path: str) -> Optional[dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
