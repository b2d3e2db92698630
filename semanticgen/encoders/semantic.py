"""Semantic encoder: the Qwen2.5-VL vision tower alone (no language model), paper §4.2.2.

Frames are sampled at ``fps`` (paper: 1.6) across the clip and prepared by the official
``Qwen2VLVideoProcessor`` (resize to multiples of 28 within min/max pixels, normalise, 2-frame
temporal patches). The tower's merged output (``pooler_output`` in transformers 5) has one token per
2 frames × 28×28 px and the language model's width (``out_hidden_size``: 3B → 2048); it is returned as
``(T', H', W', D)`` with ``T' = T/2``, ``H' = H/28``, ``W' = W/28``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch

from .weights import load_prefixed, resolve_local

VISUAL_PREFIXES = ("model.visual.", "visual.")


def sample_times(start_s: float, end_s: float, fps: float) -> np.ndarray:
    """Uniform sample times at ``fps`` over [start, end), an even count ≥ 2 (temporal patch 2)."""
    if not (end_s > start_s and fps > 0):
        raise ValueError(f"sample_times: need end_s > start_s and fps > 0, got [{start_s}, {end_s}) at {fps} fps")
    n = max(2, int(np.floor((end_s - start_s) * fps + 1e-6)))
    n -= n % 2
    step = (end_s - start_s) / n
    return start_s + (np.arange(n) + 0.5) * step


class SemanticEncoder:
    def __init__(self, tower, processor, device: str = "cpu", dtype: torch.dtype = torch.float32):
        self.tower, self.processor = tower.to(device=device, dtype=dtype).eval(), processor
        self.device, self.dtype = device, dtype

    @classmethod
    def from_pretrained(cls, name_or_path: str, device: str = "cpu", dtype: torch.dtype = torch.float32,
                        min_pixels: Optional[int] = None, max_pixels: Optional[int] = None) -> "SemanticEncoder":
        from transformers import AutoConfig
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

        path = resolve_local(name_or_path)
        config = AutoConfig.from_pretrained(path)
        vision_cfg = getattr(config, "vision_config", config)
        tower = Qwen2_5_VisionTransformerPretrainedModel._from_config(vision_cfg, dtype=dtype)
        try:
            state = load_prefixed(path, VISUAL_PREFIXES)       # full Qwen2.5-VL checkpoint: its visual.* only
        except KeyError:
            state = load_prefixed(path, ("",))                  # a standalone tower checkpoint
        missing, unexpected = tower.load_state_dict(state, strict=False)
        if missing:
            raise KeyError(f"vision tower weights missing from {path}: {missing[:5]}")
        return cls(tower, cls.load_processor(path, min_pixels, max_pixels), device, dtype)

    @staticmethod
    def load_processor(name_or_path: str, min_pixels: Optional[int] = None, max_pixels: Optional[int] = None):
        """The official ``Qwen2VLVideoProcessor`` with the pixel budget per frame (min/max pixels)."""
        from transformers import Qwen2VLVideoProcessor

        kwargs = {}
        if min_pixels and max_pixels:
            kwargs["size"] = {"shortest_edge": int(min_pixels), "longest_edge": int(max_pixels)}
        return Qwen2VLVideoProcessor.from_pretrained(resolve_local(name_or_path), cap_pixels_per_frame=True, **kwargs)

    @property
    def dim(self) -> int:
        return int(self.tower.config.out_hidden_size)

    def preprocess(self, frames: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
        return preprocess_frames(self.processor, frames)

    @torch.no_grad()
    def encode_pixels(self, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
        out = self.tower(pixel_values.to(self.device, self.dtype), grid_thw=grid_thw.to(self.device))
        feats = out.pooler_output if hasattr(out, "pooler_output") else out
        t, h, w = (int(x) for x in grid_thw[0])
        m = self.tower.spatial_merge_size
        return feats.float().reshape(t, h // m, w // m, -1).cpu()

    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """Frames sampled at the semantic fps → features (T/2, H/28, W/28, D) float32."""
        pv, grid = self.preprocess(frames)
        return self.encode_pixels(pv, grid)


def preprocess_frames(processor, frames: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
    """uint8 (T, H, W, 3) → (pixel_values_videos, video_grid_thw) via the official processor."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0 or frames.dtype != np.uint8:
        raise ValueError(f"semantic frames must be uint8 (T>0, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] % 2:
        frames = np.concatenate([frames, frames[-1:]], axis=0)      # temporal patch of 2
    out = processor(videos=[torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)],
                    return_tensors="pt", do_sample_frames=False)
    return out["pixel_values_videos"], out["video_grid_thw"]
