"""VBench-style video metrics (frame-only and from local weights), drift, VBench-Long clips."""
from .consistency import consistency_score
from .drift import drift, edge_frames, edge_slices
from .evaluator import VideoEvaluator
from .flicker import temporal_flickering
from .frames import TooFewFramesError
from .long_video import clip_ranges, per_clip_mean
from .registry import Metric, build_metrics
from .smoothness import linear_interp_smoothness
from .table import aggregate, rows_to_table, table_schema

__all__ = ["Metric", "TooFewFramesError", "VideoEvaluator", "aggregate", "build_metrics", "clip_ranges",
           "consistency_score", "drift", "edge_frames", "edge_slices", "linear_interp_smoothness",
           "per_clip_mean", "rows_to_table", "table_schema", "temporal_flickering"]
