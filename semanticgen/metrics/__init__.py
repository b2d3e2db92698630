"""VBench metrics (built-in, and the official package as a backend), drift, VBench-Long clips, reports."""
from .consistency import consistency_score
from .drift import drift, edge_frames, edge_slices
from .evaluator import VideoEvaluator
from .flicker import temporal_flickering
from .frames import TooFewFramesError
from .long_video import clip_frames, clip_ranges, per_clip_mean, reencode
from .registry import Metric, build_metrics
from .smoothness import linear_interp_smoothness
from .table import aggregate, compact, rows_to_table, summarize, table_schema

__all__ = ["Metric", "TooFewFramesError", "VideoEvaluator", "aggregate", "build_metrics", "clip_frames",
           "clip_ranges", "compact", "consistency_score", "drift", "edge_frames", "edge_slices",
           "linear_interp_smoothness", "per_clip_mean", "reencode", "rows_to_table", "summarize", "table_schema",
           "temporal_flickering"]
