"""Evaluation section: VBench-style metrics, drift, weights locations."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import List, Optional

from .base import check

# VBench's own dimensions (computed only from local weights, or frame-only) and our weight-free stand-ins.
METRICS = (
    "temporal_flickering",        # VBench, no weights
    "linear_interp_smoothness",   # stand-in for motion_smoothness (no weights), NOT VBench's number
    "subject_consistency",        # VBench, DINO ViT-B/16        (weights.dino)
    "background_consistency",     # VBench, CLIP ViT-B/32        (weights.clip_b32)
    "aesthetic_quality",          # VBench, CLIP ViT-L/14 + LAION linear head (weights.clip_l14 + laion_head)
    "motion_smoothness",          # VBench, AMT-S                (weights.amt_s; not supported in this build)
    "imaging_quality",            # VBench, MUSIQ                (weights.musiq; not supported in this build)
)


@dataclass
class EvalWeightsConfig:
    """Local weights (a folder written by ``save_pretrained`` or a file). ``null``: metric not computed."""
    dino: Optional[str] = None        # DINO ViT-B/16 as a transformers ViTModel folder
    clip_b32: Optional[str] = None    # CLIP ViT-B/32 (CLIPVisionModelWithProjection / CLIPModel folder)
    clip_l14: Optional[str] = None    # CLIP ViT-L/14 folder (aesthetic backbone)
    laion_head: Optional[str] = None  # LAION aesthetic linear head: .safetensors or .pth with weight/bias
    amt_s: Optional[str] = None       # AMT-S checkpoint (no transformers class: reported as not supported)
    musiq: Optional[str] = None       # MUSIQ checkpoint (no transformers class: reported as not supported)

    def validate(self) -> None:
        for f in fields(self):
            path = getattr(self, f.name)
            if path is None:
                continue
            check(bool(path.strip()), f.name, "must be a local path or null")
            check("://" not in path, f.name, f"must be a local path (no hub/URI at run time), got {path!r}")
            check(os.path.exists(path), f.name, f"no such file or folder: {path}")


@dataclass
class EvaluateConfig:
    metrics: List[str] = field(default_factory=lambda: list(METRICS))
    weights: EvalWeightsConfig = field(default_factory=EvalWeightsConfig)
    drift_fraction: float = 0.15      # paper: first 15% vs last 15% of the frames
    drift_min_frames: int = 2         # each end has at least this many frames
    long_clip_s: float = 2.0          # VBench-Long fixed clip length (its clip_length_mix: 2 s)
    long_split_s: Optional[float] = None  # videos longer than this are split into long_clip_s clips; null: never
    extensions: List[str] = field(default_factory=lambda: [".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v"])
    batch_size: int = 1               # videos per map_batches call
    num_actors: int = 0               # 0: min(#videos, free CPUs / cpus_per_actor)
    cpus_per_actor: float = 1.0
    num_gpus: float = 0.0             # GPUs per actor (models run on cuda when > 0)
    frame_batch: int = 32             # frames per model forward

    def validate(self) -> None:
        check(len(self.metrics) > 0, "metrics", "must name at least one metric")
        for m in self.metrics:
            check(m in METRICS, "metrics", f"unknown metric {m!r}; known: {list(METRICS)}")
        check(len(set(self.metrics)) == len(self.metrics), "metrics", "must not repeat a metric")
        check(0 < self.drift_fraction <= 0.5, "drift_fraction", "must be in (0, 0.5]")
        check(self.drift_min_frames >= 2, "drift_min_frames", "must be >= 2")
        check(self.long_clip_s > 0, "long_clip_s", "must be > 0")
        check(self.long_split_s is None or self.long_split_s >= self.long_clip_s, "long_split_s",
              "must be >= long_clip_s or null")
        check(all(e.startswith(".") for e in self.extensions), "extensions", "entries must start with '.'")
        check(self.batch_size >= 1, "batch_size", "must be >= 1")
        check(self.num_actors >= 0, "num_actors", "must be >= 0")
        check(self.cpus_per_actor > 0, "cpus_per_actor", "must be > 0")
        check(self.num_gpus >= 0, "num_gpus", "must be >= 0")
        check(self.frame_batch >= 1, "frame_batch", "must be >= 1")
