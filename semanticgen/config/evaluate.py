"""Evaluation section: VBench metrics (built-in or the official ``vbench`` package), drift, weights locations."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import List, Optional

from .base import check

# VBench's own dimensions (computed only from local weights, or frame-only) and our weight-free stand-in.
METRICS = (
    "temporal_flickering",        # VBench, no weights
    "linear_interp_smoothness",   # stand-in for motion_smoothness (no weights), NOT VBench's number
    "subject_consistency",        # VBench, DINO ViT-B/16        (weights.dino)
    "background_consistency",     # VBench, CLIP ViT-B/32        (weights.clip_b32)
    "aesthetic_quality",          # VBench, CLIP ViT-L/14 + LAION linear head (weights.clip_l14 + laion_head)
    "motion_smoothness",          # VBench, AMT-S                (no package ships AMT-S: backend vbench only)
    "imaging_quality",            # VBench, MUSIQ (pyiqa)        (weights.musiq)
)
BACKENDS = ("builtin", "vbench")


@dataclass
class EvalWeightsConfig:
    """Local weights (a folder written by ``save_pretrained`` or a file). ``null``: metric not computed."""
    dino: Optional[str] = None        # DINO ViT-B/16 as a transformers ViTModel folder
    clip_b32: Optional[str] = None    # CLIP ViT-B/32 (CLIPVisionModelWithProjection / CLIPModel folder)
    clip_l14: Optional[str] = None    # CLIP ViT-L/14 folder (aesthetic backbone)
    laion_head: Optional[str] = None  # LAION aesthetic linear head: .safetensors or .pth with weight/bias
    musiq: Optional[str] = None       # MUSIQ state dict (VBench: musiq_spaq_ckpt-358bb6af.pth), run with pyiqa's MUSIQ

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
    backend: str = "builtin"          # builtin: this package's metrics; vbench: the official vbench package
    vbench_python: Optional[str] = None   # backend vbench: python of a virtualenv with `vbench` installed
    vbench_cache: Optional[str] = None    # backend vbench: VBENCH_CACHE_DIR holding its weights (never downloads)
    drift_fraction: float = 0.15      # paper: first 15% vs last 15% of the frames
    drift_min_frames: int = 2         # each end has at least this many frames
    long_clip_s: int = 2              # VBench-Long clip length in whole seconds: int(fps) * long_clip_s frames
    long_split_s: Optional[float] = None  # videos longer than this are the long setting (VBench-Long); null: none
    long_reencode: bool = True        # long setting: re-encode each clip to mp4 before scoring, as VBench-Long does
    extensions: List[str] = field(default_factory=lambda: [".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v"])
    batch_size: int = 1               # videos per map_batches call
    num_actors: int = 0               # 0: min(#videos, free CPUs (or GPUs) / per-actor need); vbench: shards
    cpus_per_actor: float = 1.0
    num_gpus: float = 0.0             # GPUs per actor / vbench shard (models run on cuda when > 0)
    frame_batch: int = 32             # frames per model forward

    def validate(self) -> None:
        check(len(self.metrics) > 0, "metrics", "must name at least one metric")
        for m in self.metrics:
            check(m in METRICS, "metrics", f"unknown metric {m!r}; known: {list(METRICS)}")
        check(len(set(self.metrics)) == len(self.metrics), "metrics", "must not repeat a metric")
        check(self.backend in BACKENDS, "backend", f"must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.backend == "vbench":
            check(self.vbench_python is not None, "vbench_python",
                  "backend vbench needs the python of a virtualenv with `vbench` installed")
        if self.vbench_python is not None:
            check(os.path.isfile(self.vbench_python) and os.access(self.vbench_python, os.X_OK), "vbench_python",
                  f"not an executable file: {self.vbench_python}")
        if self.vbench_cache is not None:
            check(os.path.isdir(self.vbench_cache), "vbench_cache", f"no such folder: {self.vbench_cache}")
        check(0 < self.drift_fraction <= 0.5, "drift_fraction", "must be in (0, 0.5]")
        check(self.drift_min_frames >= 2, "drift_min_frames", "must be >= 2")
        check(self.long_clip_s >= 1, "long_clip_s", "must be >= 1 (whole seconds, as VBench-Long cuts)")
        check(self.long_split_s is None or self.long_split_s >= 0, "long_split_s", "must be >= 0 or null")
        check(all(e.startswith(".") for e in self.extensions), "extensions", "entries must start with '.'")
        check(self.batch_size >= 1, "batch_size", "must be >= 1")
        check(self.num_actors >= 0, "num_actors", "must be >= 0")
        check(self.cpus_per_actor > 0, "cpus_per_actor", "must be > 0")
        check(self.num_gpus >= 0, "num_gpus", "must be >= 0")
        check(self.frame_batch >= 1, "frame_batch", "must be >= 1")
