"""Semantic encoder: the Qwen2.5-VL vision tower alone (no language model), paper §4.2.2.

Frames are sampled at ``fps`` (paper: 1.6) across the clip and prepared by the official
``Qwen2VLVideoProcessor`` (resize to multiples of 28 within min/max pixels, normalise, 2-frame
temporal patches). The pixel budget is ours (``features.semantic_min_pixels/max_pixels``), set explicitly on
the processor and passed on every call, so a checkpoint's ``preprocessor_config.json`` cannot change the grid
(``grid.semantic_grid`` is the contract; the effective values and any disagreement are logged). Checkpoints load
in the transformers-5 layout (``model.visual.*``), the hub's original one (``visual.*``, sharded with an index)
or as a standalone tower, with no missing or unexpected tower keys. The tower's merged output (``pooler_output`` in transformers 5) has one token per
2 frames × 28×28 px and the language model's width (``out_hidden_size``: 3B → 2048); it is returned as
``(T', H', W', D)`` with ``T' = T/2``, ``H' = H/28``, ``W' = W/28``.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Optional, Tuple

import numpy as np
import torch

from .grid import FACTOR, MERGE, PATCH, TEMPORAL_PATCH, sample_times  # noqa: F401 - sample_times re-exported
from .weights import load_prefixed, resolve_local

VISUAL_PREFIXES = ("model.visual.", "visual.")
PROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")
log = logging.getLogger("semanticgen.encoders")


def checkpoint_budget(path: str) -> dict:
    """min/max pixels a checkpoint folder's own processor file asks for (empty when it has none)."""
    for name in PROCESSOR_FILES:
        f = os.path.join(path, name)
        if os.path.isfile(f):
            with open(f) as fh:
                doc = json.load(fh)
            size = doc.get("size") or {}
            return {"file": name, "min_pixels": doc.get("min_pixels", size.get("shortest_edge")),
                    "max_pixels": doc.get("max_pixels", size.get("longest_edge"))}
    return {}


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
        if missing or unexpected:
            raise KeyError(f"vision tower weights of {path} do not match the tower: {len(missing)} missing "
                           f"{missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}")
        return cls(tower, cls.load_processor(path, min_pixels, max_pixels), device, dtype)

    @staticmethod
    def load_processor(name_or_path: str, min_pixels: Optional[int] = None, max_pixels: Optional[int] = None):
        """The official ``Qwen2VLVideoProcessor`` with OUR per-frame pixel budget (min/max pixels), set explicitly
        (a checkpoint's ``preprocessor_config.json`` min/max pixels are ignored, with a warning when they differ)
        and without qwen-vl-utils' whole-video cap, so ``grid.semantic_grid`` is exactly what it does."""
        from transformers import Qwen2VLVideoProcessor

        path = resolve_local(name_or_path)
        proc = Qwen2VLVideoProcessor.from_pretrained(path, cap_pixels_per_frame=False)
        geometry = (proc.patch_size, proc.merge_size, proc.temporal_patch_size)
        if geometry != (PATCH, MERGE, TEMPORAL_PATCH):
            raise ValueError(f"{path}: processor patch/merge/temporal sizes {geometry} are not Qwen2.5-VL's "
                             f"{(PATCH, MERGE, TEMPORAL_PATCH)}")
        if min_pixels and max_pixels:
            proc.size = {"shortest_edge": int(min_pixels), "longest_edge": int(max_pixels)}
            own = checkpoint_budget(path)
            if own and (own["min_pixels"], own["max_pixels"]) != (int(min_pixels), int(max_pixels)):
                log.warning("%s/%s asks for min_pixels=%s max_pixels=%s; using the config's "
                            "features.semantic_min_pixels=%d semantic_max_pixels=%d", path, own["file"],
                            own["min_pixels"], own["max_pixels"], min_pixels, max_pixels)
            log.info("semantic processor budget: min_pixels=%d max_pixels=%d per frame (%d-%d tokens of %dpx)",
                     min_pixels, max_pixels, min_pixels // FACTOR ** 2, max_pixels // FACTOR ** 2, FACTOR)
        return proc

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


def budget(processor) -> dict:
    """The processor's per-frame budget as the ``size`` call argument (passed explicitly on every call)."""
    size = processor.size
    get = size.get if isinstance(size, dict) else lambda k: getattr(size, k)
    return {"shortest_edge": int(get("shortest_edge")), "longest_edge": int(get("longest_edge"))}


def preprocess_frames(processor, frames: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor]:
    """uint8 (T, H, W, 3) → (pixel_values_videos, video_grid_thw) via the official processor."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0 or frames.dtype != np.uint8:
        raise ValueError(f"semantic frames must be uint8 (T>0, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] % 2:
        frames = np.concatenate([frames, frames[-1:]], axis=0)      # temporal patch of 2
    out = processor(videos=[torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)],
                    return_tensors="pt", do_sample_frames=False, size=budget(processor))
    return out["pixel_values_videos"], out["video_grid_thw"]
