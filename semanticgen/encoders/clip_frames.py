"""Frames of one clip for every encoder, from ONE decode pass at the VAE frame rate.

- VAE: the first ``F`` frames of the clip on a uniform ``vae_fps`` grid, ``F`` the largest temporal bucket
  (``features.frame_buckets``) the clip fills (trimmed, never padded), resized to cover the spatial bucket and
  centre-cropped (no distortion), kept as uint8.
- Semantic encoder: frames at ``semantic_fps`` (paper: 1.6) over exactly the span of the ``F`` VAE frames
  (``F / vae_fps`` s), taken from the same decoded grid and cropped to the bucket's aspect ratio, so the z_sem
  grid is ``grid.semantic_grid(source size, bucket, F, ...)``.
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
from .grid import crop_size, sample_times
from .vae import frame_bucket, pick_bucket, resize_cover_crop


class ClipTooShort(ValueError):
    pass


@dataclass
class ClipFrames:
    vae: np.ndarray            # uint8 (1+4k, h, w, 3), bucket-sized
    semantic: np.ndarray       # uint8 (T_s, H, W, 3), T_s even
    caption: np.ndarray        # uint8 (T_c, H, W, 3)
    bucket: Tuple[int, int]
    span_s: float              # seconds covered by all three
    source_hw: Tuple[int, int]  # decoded source frame size (the grid contract's input)


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(3, T, h, w) in [-1, 1] → uint8 (T, h, w, 3)."""
    return ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()


def crop_to_aspect(frames: np.ndarray, aspect: float) -> np.ndarray:
    """Centre-crop uint8 (T, H, W, 3) frames to width/height = ``aspect`` (what the VAE bucket keeps)."""
    H, W = frames.shape[1:3]
    h, w = crop_size(H, W, aspect)
    top, left = (H - h) // 2, (W - w) // 2
    return frames[:, top:top + h, left:left + w]


def clip_frames(uri: str, start_s: float, end_s: float, cfg: FeaturesConfig) -> ClipFrames:
    longest = max(cfg.frame_buckets)
    decode_end = min(end_s, start_s + (longest + 1) / cfg.vae_fps)   # never decode past the longest bucket
    frames, _ = read_span(uri, start_s, decode_end, fps=cfg.vae_fps)
    n = frame_bucket(len(frames), cfg.frame_buckets)
    if n == 0:
        raise ClipTooShort(f"clip has {len(frames)} frames at {cfg.vae_fps} fps; the shortest temporal bucket "
                           f"(features.frame_buckets) needs {min(cfg.frame_buckets)}")
    bucket = pick_bucket(frames.shape[1], frames.shape[2], cfg.buckets)
    vae = to_uint8(resize_cover_crop(frames[:n], bucket))
    span_end = start_s + n / cfg.vae_fps
    times = sample_times(start_s, span_end, cfg.semantic_fps)
    idx = np.clip(np.floor((times - start_s) * cfg.vae_fps + 1e-6).astype(int), 0, len(frames) - 1)
    semantic = crop_to_aspect(frames[idx], bucket[1] / bucket[0])   # same framing as the VAE bucket
    k = min(cfg.caption_frames, len(semantic))
    cap_idx = np.unique(np.linspace(0, len(semantic) - 1, k).round().astype(int))
    return ClipFrames(vae=vae, semantic=semantic, caption=semantic[cap_idx], bucket=bucket,
                      span_s=span_end - start_s, source_hw=(int(frames.shape[1]), int(frames.shape[2])))
