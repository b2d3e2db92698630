"""What an evaluation run logs to MLflow (given the ``mlflow`` module of an active run).

- metrics: counts and the set scores per setting (``short/<metric>``, ``long/<metric>``), and every
  video's own values as ``video/<video id>/<metric>``;
- tables (``mlflow.log_table``): ``metrics/per_video.json`` (computed columns only) and
  ``metrics/metric_docs.json`` (what computes each column, its weights, range, direction);
- text: ``metrics/paper_table.txt`` (the paper's layout); tags: ``not_computed`` (metric: reason),
  ``backend``, ``settings``.
"""
from __future__ import annotations

import math
import re
from typing import Dict, List

import pyarrow as pa

from .docs import docs_table
from .paper import paper_table
from .table import compact, computed_columns

_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-. :/]")


def video_metric_key(video_id: str, column: str) -> str:
    """An MLflow-legal metric name for one video's value (characters MLflow rejects become '_')."""
    return _KEY_BAD.sub("_", f"video/{video_id}/{column}")


def per_video_metrics(table: pa.Table, metrics: List[str]) -> Dict[str, float]:
    cols = computed_columns(table, metrics)
    out = {}
    for r in table.to_pylist():
        for c in cols:
            v = r.get(c)
            if v is not None and not math.isnan(v):
                out[video_metric_key(r["video_id"], c)] = float(v)
    return out


def not_computed_tag(not_computed: Dict[str, str]) -> str:
    return "; ".join(f"{m}: {r}" for m, r in not_computed.items())[:4900] or "none"


def log_evaluation(mlf, result, label: str) -> None:
    """Log an ``EvalResult``-like object (``table``, ``metrics``, ``aggregate``, ``not_computed``) to the run."""
    t, metrics = result.table, result.metrics
    mlf.log_metrics(result.aggregate)
    mlf.log_metrics(per_video_metrics(t, metrics))
    mlf.log_table(data=compact(t, metrics).to_pandas(), artifact_file="metrics/per_video.json")
    cols = computed_columns(t, metrics)
    if cols:
        mlf.log_table(data=docs_table(cols), artifact_file="metrics/metric_docs.json")
    mlf.log_text(paper_table({label: result.aggregate}), "metrics/paper_table.txt")
    mlf.set_tags({"not_computed": not_computed_tag(result.not_computed),
                  "backend": ",".join(sorted(set(t.column("backend").drop_null().to_pylist()))) or "none",
                  "settings": ",".join(sorted(set(t.column("setting").drop_null().to_pylist()))) or "none"})
