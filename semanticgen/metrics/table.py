"""The metrics table: one row per video, one column per metric (+ drift), fixed Arrow schema."""
from __future__ import annotations

import math
from typing import Dict, Iterable, List, Sequence

import pyarrow as pa

BASE_FIELDS = [
    pa.field("video_id", pa.string()),
    pa.field("path", pa.string()),
    pa.field("num_frames", pa.int64()),
    pa.field("fps", pa.float64()),
    pa.field("duration_s", pa.float64()),
    pa.field("clips", pa.int64()),          # VBench-Long clips the metrics were averaged over (1: whole video)
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


def aggregate(table: pa.Table, metrics: Sequence[str]) -> Dict[str, float]:
    """Means over the videos that have a value; plus video counts. Metrics with no value are left out."""
    out: Dict[str, float] = {"videos": float(table.num_rows)}
    errors = table.column("error").to_pylist()
    out["videos_failed"] = float(sum(e is not None for e in errors))
    for c in metric_columns(metrics):
        vals = [v for v in table.column(c).to_pylist() if v is not None and not math.isnan(v)]
        if vals:
            out[c] = float(sum(vals) / len(vals))
    return out


def to_csv_table(table: pa.Table) -> pa.Table:
    """CSV cannot hold lists: ``not_computed`` becomes a ';'-joined string."""
    nc = [";".join(v or []) for v in table.column("not_computed").to_pylist()]
    idx = table.schema.get_field_index("not_computed")
    return table.set_column(idx, "not_computed", pa.array(nc, pa.string()))
