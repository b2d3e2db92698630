"""Evaluate one video: every runnable built-in metric in its setting (VBench or VBench-Long) and its drift.

    ev = VideoEvaluator(cfg.evaluate)          # loads the models once (e.g. once per Ray actor)
    row = ev.evaluate_path("video.mp4")         # never raises for a bad video: ``row["error"]``

Settings: a video longer than ``evaluate.long_split_s`` seconds is in the **long** setting and is
scored as VBench-Long does (``int(fps) * long_clip_s``-frame clips, each re-encoded to mp4 when
``long_reencode``, the clip scores averaged); every other video is in the **short** setting and
is scored whole, as VBench does.

Drift Δ_drift^M = |M(first 15 %) − M(last 15 %)| uses the SAME M as the headline column: in the
short setting M of the two end segments, in the long setting the VBench-Long M of each end
segment (cut into clips by the same rule, re-encoded the same way). ``drift_mean`` averages the
drifts of VBench's own metrics only (not the ``linear_interp_smoothness`` stand-in).
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..config.evaluate import EvaluateConfig
from ..video.mp4 import read_video
from .drift import edge_slices
from .frames import TooFewFramesError
from .long_video import clip_ranges, reencode
from .registry import Metric, build_metrics
from .table import drift_column

log = logging.getLogger(__name__)


class _Scorer:
    """Scores metrics on frame spans of one video in one setting; caches per-frame state / clips."""

    def __init__(self, frames: np.ndarray, fps: float, long: bool, clip_s: int, reencode_clips: bool):
        self.frames, self.fps, self.long = frames, fps, long
        self.clip_s, self.reencode_clips = clip_s, reencode_clips
        self._state: Dict[str, object] = {}
        self._clips: Dict[Tuple[int, int], List[np.ndarray]] = {}

    def clips(self, a: int, b: int) -> List[np.ndarray]:
        """The VBench-Long clips of ``frames[a:b]`` (re-encoded when configured)."""
        if (a, b) not in self._clips:
            span = self.frames[a:b]
            parts = [span[c0:c1] for c0, c1 in clip_ranges(len(span), self.fps, self.clip_s)]
            self._clips[(a, b)] = [reencode(p, self.fps) for p in parts] if self.reencode_clips else parts
        return self._clips[(a, b)]

    def score(self, m: Metric, a: int, b: int) -> float:
        if self.long:
            values = [m.score(m.prepare(c)) for c in self.clips(a, b)]
            return float(sum(values) / len(values))
        if m.name not in self._state:
            self._state[m.name] = m.prepare(self.frames)      # per-frame state: prepared once, sliced
        return m.score(self._state[m.name][a:b])


class VideoEvaluator:
    def __init__(self, ecfg: EvaluateConfig, device: Optional[str] = None):
        self.cfg = ecfg
        self.metrics, self.skipped = build_metrics(ecfg, device)

    @property
    def metric_names(self) -> List[str]:
        return list(self.cfg.metrics)

    def setting(self, num_frames: int, fps: float) -> str:
        """``long`` when the video is longer than ``long_split_s`` (VBench-Long rules), else ``short``."""
        s = self.cfg.long_split_s
        return "long" if s is not None and num_frames / fps > s else "short"

    def evaluate_frames(self, frames: np.ndarray, fps: float) -> Dict:
        """Metric and drift values for decoded frames (uint8 ``(T, H, W, 3)``)."""
        t, setting = len(frames), self.setting(len(frames), fps)
        sc = _Scorer(frames, fps, setting == "long", self.cfg.long_clip_s, self.cfg.long_reencode)
        row: Dict = {"num_frames": t, "fps": float(fps), "duration_s": t / fps, "setting": setting,
                     "clips": len(clip_ranges(t, fps, self.cfg.long_clip_s)) if setting == "long" else 1,
                     "backend": "builtin"}
        not_computed = [m for m in self.cfg.metrics if m in self.skipped]
        notes = [f"{m}: {self.skipped[m]}" for m in not_computed]
        drifts = []
        for m in self.metrics:
            try:
                row[m.name] = sc.score(m, 0, t)
            except TooFewFramesError as e:
                row[m.name] = math.nan
                not_computed.append(m.name)
                notes.append(f"{m.name}: {e}")
                continue
            try:
                first, last = edge_slices(t, self.cfg.drift_fraction, max(self.cfg.drift_min_frames, m.min_frames))
                d = abs(sc.score(m, first.start, first.stop) - sc.score(m, last.start, last.stop))
            except TooFewFramesError as e:
                notes.append(f"{drift_column(m.name)}: {e}")
                continue
            row[drift_column(m.name)] = d
            if m.vbench:
                drifts.append(d)
        row["drift_mean"] = float(np.mean(drifts)) if drifts else math.nan
        row["not_computed"] = not_computed
        row["notes"] = "; ".join(notes) or None
        return row

    def evaluate_path(self, path: str, video_id: Optional[str] = None) -> Dict:
        """One table row; a video that cannot be read or scored becomes a row with ``error`` set."""
        base = {"video_id": video_id or Path(path).stem, "path": str(path), "error": None, "backend": "builtin"}
        try:
            frames, fps = read_video(path)
            return {**base, **self.evaluate_frames(frames, fps)}
        except Exception as e:  # noqa: BLE001 - a broken video is an error row, not a crash
            log.warning("evaluate: %s failed: %s", path, e)
            return {**base, "error": f"{type(e).__name__}: {e}", "not_computed": list(self.cfg.metrics),
                    "notes": None}
