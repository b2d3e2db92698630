"""Which built-in metrics run, from what: frame-only metrics always; weight-based ones only from local weights.

A :class:`Metric` splits into ``prepare(frames) -> state`` (per-frame state indexed on axis
0: the frames themselves, or per-frame model features/scores) and ``score(state_slice) ->
float``. The evaluator decides which frames a metric sees (whole video, VBench-Long clips,
drift ends).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..config.evaluate import METRICS, EvaluateConfig
from .aesthetic import aesthetic_score, frame_aesthetic, load_laion_head
from .consistency import consistency_score
from .flicker import temporal_flickering
from .smoothness import linear_interp_smoothness

log = logging.getLogger(__name__)

# metric → weights entries (evaluate.weights.<name>) it needs
NEEDS: Dict[str, Tuple[str, ...]] = {
    "temporal_flickering": (),
    "linear_interp_smoothness": (),
    "subject_consistency": ("dino",),
    "background_consistency": ("clip_b32",),
    "aesthetic_quality": ("clip_l14", "laion_head"),
    "motion_smoothness": (),             # UNAVAILABLE below: the vbench backend has it
    "imaging_quality": ("musiq",),
}
# VBench metrics whose network no maintained package provides: never computed by the built-in backend.
UNAVAILABLE: Dict[str, str] = {
    "motion_smoothness": "AMT-S (frame interpolation) ships only inside vbench's third_party code, in no "
                         "maintained package; run it with --backend vbench",
}
VBENCH = ("subject_consistency", "background_consistency", "temporal_flickering", "motion_smoothness",
          "imaging_quality", "aesthetic_quality")            # the paper's column order
assert set(NEEDS) == set(METRICS) and set(VBENCH) < set(METRICS)


@dataclass
class Metric:
    name: str
    min_frames: int                          # frames ``score`` needs
    prepare: Callable[[np.ndarray], Any]     # uint8 (T, H, W, 3) → per-frame state (len T)
    score: Callable[[Any], float]            # state[a:b] → value

    @property
    def vbench(self) -> bool:
        return self.name in VBENCH


def _identity(frames):
    return frames


def resolve_device(ecfg: EvaluateConfig, device: Optional[str] = None) -> str:
    if device:
        return device
    return "cuda" if ecfg.num_gpus > 0 and torch.cuda.is_available() else "cpu"


def missing_reason(ecfg: EvaluateConfig, name: str) -> Optional[str]:
    """Why the built-in backend cannot compute ``name`` with this config (``None``: it can)."""
    if name in UNAVAILABLE:
        return f"not available in the built-in backend: {UNAVAILABLE[name]}"
    missing = [w for w in NEEDS[name] if getattr(ecfg.weights, w) is None]
    if missing:
        return f"no local weights (evaluate.weights.{', evaluate.weights.'.join(missing)})"
    return None


def build_metrics(ecfg: EvaluateConfig, device: Optional[str] = None) -> Tuple[List[Metric], Dict[str, str]]:
    """Load what ``ecfg.metrics`` asks for. Returns ``(runnable metrics, {not computed: reason})``."""
    device = resolve_device(ecfg, device)
    runnable: List[Metric] = []
    skipped: Dict[str, str] = {}
    for name in ecfg.metrics:
        reason = missing_reason(ecfg, name)
        if reason:
            skipped[name] = reason
            log.info("%s: %s", name, reason)
            continue
        runnable.append(_build_one(name, ecfg.weights, device, ecfg.frame_batch))
    return runnable, skipped


def _build_one(name: str, w, device: str, fb: int) -> Metric:
    from .encoders import ClipEncoder, DinoEncoder

    if name == "temporal_flickering":
        return Metric(name, 2, _identity, temporal_flickering)
    if name == "linear_interp_smoothness":
        return Metric(name, 3, _identity, linear_interp_smoothness)
    if name == "subject_consistency":
        return Metric(name, 2, DinoEncoder.load(w.dino, device, fb).encode, consistency_score)
    if name == "background_consistency":
        return Metric(name, 2, ClipEncoder.load(w.clip_b32, device, fb, "weights.clip_b32").encode, consistency_score)
    if name == "aesthetic_quality":
        enc = ClipEncoder.load(w.clip_l14, device, fb, "weights.clip_l14")
        head = load_laion_head(w.laion_head, enc.embed_dim)
        return Metric(name, 1, lambda frames: frame_aesthetic(enc.encode(frames), head), aesthetic_score)
    if name == "imaging_quality":
        from .imaging import frame_musiq, imaging_score, load_musiq

        model = load_musiq(w.musiq, device)
        return Metric(name, 1, lambda frames: frame_musiq(frames, model, device), imaging_score)
    raise ValueError(f"metric {name!r} has no implementation")
