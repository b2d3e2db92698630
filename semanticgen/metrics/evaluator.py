"""Evaluate one video: every runnable metric (whole video or VBench-Long clips) and its drift.

    ev = VideoEvaluator(cfg.evaluate)          # loads the models once (e.g. once per Ray actor)
    row = ev.evaluate_path("video.mp4")         # never raises for a bad video: ``row["error"]``
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ..config.evaluate import EvaluateConfig
from ..video.mp4 import read_video
from .drift import drift
from .frames import TooFewFramesError
from .long_video import clip_ranges, per_clip_mean
from .registry import build_metrics
from .table import drift_column

log = logging.getLogger(__name__)


class VideoEvaluator:
    def __init__(self, ecfg: EvaluateConfig, device: Optional[str] = None):
        self.cfg = ecfg
        self.metrics, self.skipped = build_metrics(ecfg, device)

    @property
    def metric_names(self) -> List[str]:
        return list(self.cfg.metrics)

    def clip_ranges(self, num_frames: int, fps: float):
        split = self.cfg.long_split_s is not None and num_frames / fps > self.cfg.long_split_s
        return clip_ranges(num_frames, fps, self.cfg.long_clip_s) if split else [(0, num_frames)]

    def evaluate_frames(self, frames: np.ndarray, fps: float) -> Dict:
        """Metric and drift values for decoded frames (uint8 ``(T, H, W, 3)``)."""
        t = len(frames)
        ranges = self.clip_ranges(t, fps)
        row: Dict = {"num_frames": t, "fps": float(fps), "duration_s": t / fps, "clips": len(ranges)}
        not_computed = [m for m in self.cfg.metrics if m in self.skipped]
        notes = [f"{m}: {self.skipped[m]}" for m in not_computed]
        drifts = []
        for m in self.metrics:
            state = m.prepare(frames)
            try:
                row[m.name] = per_clip_mean(m.score, state, ranges)
            except TooFewFramesError as e:
                row[m.name] = math.nan
                not_computed.append(m.name)
                notes.append(f"{m.name}: {e}")
                continue
            try:
                d = drift(m.score, state, self.cfg.drift_fraction, max(self.cfg.drift_min_frames, m.min_frames))
                row[drift_column(m.name)] = d
                drifts.append(d)
            except TooFewFramesError as e:
                notes.append(f"{drift_column(m.name)}: {e}")
        row["drift_mean"] = float(np.mean(drifts)) if drifts else math.nan
        row["not_computed"] = not_computed
        row["notes"] = "; ".join(notes) or None
        return row

    def evaluate_path(self, path: str, video_id: Optional[str] = None) -> Dict:
        """One table row; a video that cannot be read or scored becomes a row with ``error`` set."""
        base = {"video_id": video_id or Path(path).stem, "path": str(path), "error": None}
        try:
            frames, fps = read_video(path)
            return {**base, **self.evaluate_frames(frames, fps)}
        except Exception as e:  # noqa: BLE001 - a broken video is an error row, not a crash
            log.warning("evaluate: %s failed: %s", path, e)
            return {**base, "error": f"{type(e).__name__}: {e}", "not_computed": list(self.cfg.metrics),
                    "notes": None}
