"""The metrics table: one row per video, one column per metric (+ drift), fixed Arrow schema; summaries.

Set scores follow VBench per setting:

- **short** (VBench): subject/background consistency are weighted by frame pairs as single-process
  VBench does (``Σ_v Σ_i s_{v,i} / Σ_v (T_v − 1)``, i.e. per-video scores weighted by ``T_v − 1``);
  every other metric is the plain mean over videos.
- **long** (VBench-Long): every metric is the plain mean over videos of the per-video clip means
  (``reorganize_clips_results``; with the default in-clip weight 1 the consistency scores too).

Drift columns are plain means over the videos that have them, in both settings.
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, List, Sequence

import pyarrow as pa
import pyarrow.compute as pc

SETTINGS = ("short", "long")
PAIR_WEIGHTED = ("subject_consistency", "background_consistency")

BASE_FIELDS = [
    pa.field("video_id", pa.string()),
    pa.field("path", pa.string()),
    pa.field("num_frames", pa.int64()),
    pa.field("fps", pa.float64()),
    pa.field("duration_s", pa.float64()),
    pa.field("setting", pa.string()),       # short (VBench, whole video) | long (VBench-Long clips)
    pa.field("clips", pa.int64()),          # VBench-Long clips the metrics were averaged over (1: whole video)
    pa.field("backend", pa.string()),       # builtin | vbench
    pa.field("error", pa.string()),         # null unless the video could not be evaluated
    pa.field("not_computed", pa.list_(pa.string())),
    pa.field("notes", pa.string()),         # reasons for not_computed entries / missing drift values
]


def drift_column(metric: str) -> str:
    return f"drift_{metric}"


def metric_columns(metrics: Sequence[str]) -> List[str]:
    return list(metrics) + [drift_column(m) for m in metrics] + ["drift_mean"]


def table_schema(metrics: Sequence[str]) -> pa.Schema:
    return pa.schema(BASE_FIELDS + [pa.field(c, pa.float64()) for c in metric_columns(metrics)])


def _clean(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def rows_to_table(rows: Iterable[Dict], metrics: Sequence[str]) -> pa.Table:
    """Rows (dicts; missing keys and NaN → null) → a table with :func:`table_schema`."""
    schema = table_schema(metrics)
    rows = list(rows)
    cols = {f.name: [_clean(r.get(f.name)) for r in rows] for f in schema}
    return pa.table({n: pa.array(v, type=schema.field(n).type) for n, v in cols.items()}, schema=schema)


def _mean(values: List[float], weights: List[float]) -> float:
    return float(sum(v * w for v, w in zip(values, weights)) / sum(weights))


def summarize(table: pa.Table, metrics: Sequence[str], setting: str) -> Dict[str, float]:
    """Set scores of the videos of one ``setting`` (VBench's rules above); metrics with no value left out."""
    rows = table.filter(pc.equal(table.column("setting"), setting)).to_pylist()
    out: Dict[str, float] = {"videos": float(len(rows))}
    for c in metric_columns(metrics):
        have = [r for r in rows if r.get(c) is not None and not math.isnan(r[c])]
        if have:
            weighted = setting == "short" and c in PAIR_WEIGHTED
            out[c] = _mean([r[c] for r in have], [max(r["num_frames"] - 1, 1) if weighted else 1 for r in have])
    return out


def aggregate(table: pa.Table, metrics: Sequence[str]) -> Dict[str, float]:
    """``{setting/metric: set score}`` for each setting with videos, plus video and failure counts."""
    errors = table.column("error").to_pylist()
    out: Dict[str, float] = {"videos": float(table.num_rows),
                             "videos_failed": float(sum(e is not None for e in errors))}
    settings = set(table.column("setting").to_pylist())
    for s in SETTINGS:
        if s in settings:
            out.update({f"{s}/{k}": v for k, v in summarize(table, metrics, s).items()})
    return out


def computed_columns(table: pa.Table, metrics: Sequence[str]) -> List[str]:
    """Metric/drift columns with at least one value."""
    return [c for c in metric_columns(metrics) if table.column(c).null_count < table.num_rows]


def compact(table: pa.Table, metrics: Sequence[str]) -> pa.Table:
    """The table without all-null metric columns and with ``not_computed`` as a ';'-joined string
    (for CSV and the MLflow table: metrics nobody computed go to a tag, not into empty columns)."""
    keep = set(computed_columns(table, metrics))
    drop = [c for c in metric_columns(metrics) if c not in keep]
    t = table.drop_columns(drop)
    nc = [";".join(v or []) for v in t.column("not_computed").to_pylist()]
    return t.set_column(t.schema.get_field_index("not_computed"), "not_computed", pa.array(nc, pa.string()))
