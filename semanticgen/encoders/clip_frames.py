"""Frames of one clip for every encoder, from ONE decode pass at the VAE frame rate.

- VAE: the first 1+4k frames of the clip on a uniform ``vae_fps`` grid, resized to cover the bucket
  and centre-cropped (no distortion), kept as uint8.
- Semantic encoder: frames at ``semantic_fps`` (paper: 1.6) over the same span as the VAE frames (the
  whole clip unless ``vae_max_frames`` cuts it shorter), taken from the same decoded grid.
- Captioner: ``caption_frames`` frames spread evenly over the semantic frames (covering all shots).
All three describe one time span, so the in-context z_sem tokens line up with the VAE latents.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import torch

from ..config.features import FeaturesConfig
from ..video.decode import read_span
from .semantic import sample_times
from .vae import pick_bucket, resize_cover_crop, vae_frame_count


class ClipTooShort(ValueError):
    pass


@dataclass
class ClipFrames:
    vae: np.ndarray            # uint8 (1+4k, h, w, 3), bucket-sized
    semantic: np.ndarray       # uint8 (T_s, H, W, 3), T_s even
    caption: np.ndarray        # uint8 (T_c, H, W, 3)
    bucket: Tuple[int, int]
    span_s: float              # seconds covered by all three


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(3, T, h, w) in [-1, 1] → uint8 (T, h, w, 3)."""
    return ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()


def crop_to_aspect(frames: np.ndarray, aspect: float) -> np.ndarray:
    """Centre-crop uint8 (T, H, W, 3) frames to width/height = ``aspect`` (what the VAE bucket keeps)."""
    H, W = frames.shape[1:3]
    if W / H > aspect:
        w = max(1, round(H * aspect))
        left = (W - w) // 2
        return frames[:, :, left:left + w]
    h = max(1, round(W / aspect))
    top = (H - h) // 2
    return frames[:, top:top + h]


def clip_frames(uri: str, start_s: float, end_s: float, cfg: FeaturesConfig) -> ClipFrames:
    decode_end = min(end_s, start_s + (cfg.vae_max_frames + 1) / cfg.vae_fps)   # never decode past the span
    frames, _ = read_span(uri, start_s, decode_end, fps=cfg.vae_fps)
    n = vae_frame_count(len(frames), cfg.vae_max_frames)
    if n == 0:
        raise ClipTooShort(f"clip has {len(frames)} frames at {cfg.vae_fps} fps; the VAE needs at least 5")
    bucket = pick_bucket(frames.shape[1], frames.shape[2], cfg.buckets)
    vae = to_uint8(resize_cover_crop(frames[:n], bucket))
    span_end = min(end_s, start_s + n / cfg.vae_fps)
    times = sample_times(start_s, span_end, cfg.semantic_fps)
    idx = np.clip(np.floor((times - start_s) * cfg.vae_fps + 1e-6).astype(int), 0, len(frames) - 1)
    semantic = crop_to_aspect(frames[idx], bucket[1] / bucket[0])   # same framing as the VAE bucket
    k = min(cfg.caption_frames, len(semantic))
    cap_idx = np.unique(np.linspace(0, len(semantic) - 1, k).round().astype(int))
    return ClipFrames(vae=vae, semantic=semantic, caption=semantic[cap_idx], bucket=bucket,
                      span_s=span_end - start_s)
