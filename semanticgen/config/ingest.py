"""Ingest section: discovery, probing, shot detection, scene-aware packing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from .base import check

DETECTORS = ("content", "adaptive", "transnetv2")


@dataclass
class IngestConfig:
    extensions: List[str] = field(default_factory=lambda: [
        ".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"])
    max_clip_s: float = 60.0             # paper: 60 s segments for long video; 5 s for the short setting
    min_clip_s: float = 1.0              # shorter clips are dropped (documented rule, README)
    detector: str = "content"            # content | adaptive (PySceneDetect) | transnetv2 (GPU advised)
    threshold: float = 27.0              # ContentDetector threshold (adaptive: adaptive_threshold)
    transnet_threshold: float = 0.5      # TransNetV2 transition probability threshold
    min_shot_s: float = 0.5              # minimum shot length passed to the detector
    detect_width: int = 160              # frames are downscaled to this width for detection
    segment_s: float = 600.0             # a long source is split into time ranges of this length
    segment_overlap_s: float = 2.0       # decode overlap so cuts at a range edge are not missed
    drop_black: bool = True              # drop leading/trailing (credits/fade) black shots
    black_luma: float = 12.0             # a shot whose mean luma (0-255) is below this counts as black
    decode_threads: int = 1
    num_workers: int = 0                 # 0: one task per free CPU (Ray Data decides)

    def validate(self) -> None:
        check(self.max_clip_s > 0, "max_clip_s", "must be > 0")
        check(0 <= self.min_clip_s <= self.max_clip_s, "min_clip_s", "must be within [0, max_clip_s]")
        check(self.detector in DETECTORS, "detector", f"must be one of {DETECTORS}")
        check(self.threshold > 0, "threshold", "must be > 0")
        check(0 < self.transnet_threshold < 1, "transnet_threshold", "must be in (0, 1)")
        check(self.min_shot_s >= 0, "min_shot_s", "must be >= 0")
        check(self.detect_width >= 16, "detect_width", "must be >= 16")
        check(self.segment_s >= 10, "segment_s", "must be >= 10 seconds")
        check(0 <= self.segment_overlap_s < self.segment_s / 2, "segment_overlap_s",
              "must be within [0, segment_s/2)")
        check(all(e.startswith(".") for e in self.extensions), "extensions", "entries must start with '.'")
