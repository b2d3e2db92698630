"""Token-grid shapes of a requested video (size × frames) for the latent and the semantic DiT."""
from __future__ import annotations

from typing import Tuple

from ..config import Config
from ..encoders.semantic import sample_times


def latent_shape(cfg: Config, height: int, width: int, num_frames: int) -> Tuple[int, int, int, int]:
    """Wan VAE latents: (16, 1+(T−1)/4, H/8, W/8)."""
    return cfg.models.latent_channels, 1 + (num_frames - 1) // 4, height // 8, width // 8


def semantic_grid(cfg: Config, height: int, width: int, num_frames: int) -> Tuple[int, int, int]:
    """z_sem grid (T', H', W') the semantic encoder gives a clip of this size and length.

    T' = frames sampled at ``semantic_fps`` over the clip / 2; H', W' = the official processor's
    resize of a frame with the bucket's aspect ratio at the maximum pixel budget, / 28.
    """
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    fc = cfg.features
    n = len(sample_times(0.0, num_frames / fc.vae_fps, fc.semantic_fps))
    scale = (fc.semantic_max_pixels / (height * width)) ** 0.5
    h, w = smart_resize(max(28, round(height * scale)), max(28, round(width * scale)), factor=28,
                        min_pixels=fc.semantic_min_pixels, max_pixels=fc.semantic_max_pixels)
    return n // 2, h // 28, w // 28
