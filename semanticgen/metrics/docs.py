"""What every metric column means: who computes it, from which weights, its range and direction.

The same text is the README's metric table and the ``metric_docs`` table logged with every
evaluation run, so a number in MLflow never stands without its direction.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List



@dataclass(frozen=True)
class MetricDoc:
    metric: str
    computed_by: str      # built-in implementation / vbench backend
    weights: str          # evaluate.weights.* (built-in) and files in evaluate.vbench_cache (vbench backend)
    range: str
    better: str           # "higher" | "lower"


DOCS: Dict[str, MetricDoc] = {d.metric: d for d in [
    MetricDoc("subject_consistency", "built-in (DINO CLS features, VBench formula) | vbench",
              "weights.dino (DINO ViT-B/16 as a ViTModel folder) | dino_model/ in vbench_cache", "0–1", "higher"),
    MetricDoc("background_consistency", "built-in (CLIP image embeddings, VBench formula) | vbench",
              "weights.clip_b32 | clip_model/ViT-B-32.pt", "0–1", "higher"),
    MetricDoc("temporal_flickering", "built-in (frame MAE) | vbench (+ its RAFT static filter when the "
              "weights are in the cache)", "none | raft_model/models/raft-things.pth (static filter only)",
              "0–1", "higher"),
    MetricDoc("motion_smoothness", "vbench only (AMT-S frame interpolation)", "amt_model/amt-s.pth", "0–1",
              "higher"),
    MetricDoc("imaging_quality", "built-in (pyiqa MUSIQ, /100) | vbench",
              "weights.musiq (musiq_spaq_ckpt-358bb6af.pth) | pyiqa_model/ in vbench_cache", "0–1", "higher"),
    MetricDoc("aesthetic_quality", "built-in (CLIP ViT-L/14 + LAION linear head, /10) | vbench",
              "weights.clip_l14 + weights.laion_head | clip_model/ViT-L-14.pt + aesthetic_model/emb_reader/",
              "0–1 (in practice)", "higher"),
    MetricDoc("linear_interp_smoothness", "built-in stand-in for motion smoothness (NOT a VBench number)",
              "none", "0–1", "higher"),
    MetricDoc("drift_<metric>", "built-in and vbench: |M(first 15 %) − M(last 15 %)|, M as in its column",
              "as the metric", "0–1", "lower"),
    MetricDoc("drift_mean", "mean of the drifts of the VBench metrics that ran (not the stand-in)",
              "as the metrics", "0–1", "lower"),
]}


def doc_for(column: str) -> MetricDoc:
    """The doc of a metric, drift or ``setting/metric`` column."""
    name = column.split("/")[-1]
    if name in DOCS:
        return DOCS[name]
    if name.startswith("drift_") and name[len("drift_"):] in DOCS:
        return DOCS["drift_<metric>"]
    raise KeyError(f"no documentation for metric column {column!r}")


def docs_table(columns: List[str]) -> Dict[str, List[str]]:
    """Column-oriented docs for ``columns`` (for ``mlflow.log_table``)."""
    rows = [{**asdict(doc_for(c)), "metric": c} for c in columns]
    return {k: [r[k] for r in rows] for k in ["metric", "computed_by", "weights", "range", "better"]}


__all__ = ["DOCS", "MetricDoc", "doc_for", "docs_table"]
