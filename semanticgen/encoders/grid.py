"""The z_sem grid contract: ONE function from (source size, bucket, frames, fps, pixel budget) to the grid.

The feature encoder checks every clip's Qwen grid against :func:`semantic_grid` (and stores it), the z_sem table
and training batch by it, and generation samples z_sem on the grid the training clips of the requested bucket
have (``semanticgen.inference.shapes``), so the four can never disagree.

How a clip becomes a grid (Qwen2.5-VL: patch 14, spatial merge 2 → one token per 28×28 px, 2 frames per token):

- time: the semantic frames are sampled at ``semantic_fps`` over exactly the span of the clip's ``F`` VAE frames
  (``F / vae_fps`` seconds), an even count ≥ 2 → ``T' = count / 2``; it depends on ``F`` only;
- space: the decoded source frame is centre-cropped to the bucket's aspect ratio (:func:`crop_size`, what the VAE
  bucket keeps), then resized by the official processor's ``smart_resize`` within OUR budget
  (``features.semantic_min_pixels`` / ``semantic_max_pixels``, passed explicitly, never a checkpoint's
  ``preprocessor_config.json``) → ``H' = h / 28``, ``W' = w / 28``. The processor never upscales a source that
  is already inside the budget, so a small source has a smaller grid than a large one in the same bucket.

``source_hw=None`` stands for a source larger than the budget (the grid of the budget itself at the bucket's
aspect): what generation extrapolates to for a size no trained bucket covers.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

PATCH, MERGE, TEMPORAL_PATCH = 14, 2, 2
FACTOR = PATCH * MERGE                      # pixels per merged token side


def sample_times(start_s: float, end_s: float, fps: float) -> np.ndarray:
    """Uniform sample times at ``fps`` over [start, end), an even count ≥ 2 (temporal patch 2)."""
    if not (end_s > start_s and fps > 0):
        raise ValueError(f"sample_times: need end_s > start_s and fps > 0, got [{start_s}, {end_s}) at {fps} fps")
    n = max(2, int(np.floor((end_s - start_s) * fps + 1e-6)))
    n -= n % 2
    step = (end_s - start_s) / n
    return start_s + (np.arange(n) + 0.5) * step


def crop_size(height: int, width: int, aspect: float) -> Tuple[int, int]:
    """(h, w) left of a ``height`` × ``width`` frame centre-cropped to width/height = ``aspect``."""
    if width / height > aspect:
        return height, max(1, round(height * aspect))
    return max(1, round(width / aspect)), width


def smart_resize(height: int, width: int, min_pixels: int, max_pixels: int, factor: int = FACTOR) -> Tuple[int, int]:
    """The official Qwen2-VL resize rule (``transformers``' ``smart_resize``) with an explicit budget."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as qwen_smart_resize

    return qwen_smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)


def semantic_frame_count(num_frames: int, vae_fps: float, semantic_fps: float) -> int:
    """Semantic frames sampled over the span of ``num_frames`` VAE frames (even, ≥ 2)."""
    return len(sample_times(0.0, num_frames / vae_fps, semantic_fps))


def semantic_frame_size(source_hw: Optional[Sequence[int]], bucket_hw: Sequence[int], min_pixels: int,
                        max_pixels: int) -> Tuple[int, int]:
    """Pixel size (h, w) of the semantic frames of a source in a bucket: crop to the bucket aspect, smart_resize."""
    bh, bw = (int(x) for x in bucket_hw)
    if source_hw is None:                   # a source above the budget: any large frame of the bucket's aspect
        k = math.ceil(math.sqrt(max_pixels / (bh * bw))) + 1
        source_hw = (bh * k, bw * k)
    h, w = crop_size(int(source_hw[0]), int(source_hw[1]), bw / bh)
    return smart_resize(h, w, min_pixels, max_pixels)


def semantic_grid(source_hw: Optional[Sequence[int]], bucket_hw: Sequence[int], num_frames: int, vae_fps: float,
                  semantic_fps: float, min_pixels: int, max_pixels: int) -> Tuple[int, int, int]:
    """z_sem grid (T', H', W') in merged Qwen tokens of a clip of ``num_frames`` VAE frames (see module doc)."""
    h, w = semantic_frame_size(source_hw, bucket_hw, min_pixels, max_pixels)
    t = semantic_frame_count(num_frames, vae_fps, semantic_fps)
    return t // TEMPORAL_PATCH, h // FACTOR, w // FACTOR


def latent_grid(num_frames: int, bucket_hw: Sequence[int]) -> Tuple[int, int, int]:
    """Wan VAE latent grid (1 + (F−1)/4, H/8, W/8) of ``num_frames`` frames of a bucket."""
    return 1 + (int(num_frames) - 1) // 4, int(bucket_hw[0]) // 8, int(bucket_hw[1]) // 8


def z_sem_grid(cfg, source_hw: Optional[Sequence[int]], bucket_hw: Sequence[int], num_frames: int) -> Tuple[int, ...]:
    """The grid of the z_sem a clip has under ``cfg``: the Qwen grid, or — for the Figure-9 baseline
    (``models.compressor.input=vae``) — one token per 4×4 patch of VAE latents (``models.build.vae_patch_grid``)."""
    if cfg.models.compressor.input == "vae":
        from ..models.build import vae_patch_grid

        return tuple(vae_patch_grid(latent_grid(num_frames, bucket_hw)))
    fc = cfg.features
    return semantic_grid(source_hw, bucket_hw, num_frames, fc.vae_fps, fc.semantic_fps, fc.semantic_min_pixels,
                         fc.semantic_max_pixels)
