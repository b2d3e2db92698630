"""Per-frame feature encoders for the weight-based VBench metrics, loaded from LOCAL folders.

Both follow VBench's preprocessing on uint8 frames (``vbench/utils.py``):

- DINO ViT-B/16 (``dino_transform``): resize the shorter side to ``image_size`` (no crop,
  aspect kept), /255, ImageNet mean/std; the feature is the final-norm CLS token (what
  the torch-hub DINO model returns), i.e. ``ViTModel(...).last_hidden_state[:, 0]``, with
  position embeddings interpolated for the non-square input.
- CLIP (``clip_transform``): bicubic resize of the shorter side to ``image_size``, centre
  crop, /255, CLIP mean/std; the feature is the projected image embedding
  (``encode_image`` = ``CLIPVisionModelWithProjection(...).image_embeds``). A folder holding
  a full ``CLIPModel`` works too (its vision tower and projection are loaded).

``image_size`` comes from the model's own config (224 for the real checkpoints).
Resizing uses torchvision with antialiasing.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torchvision.transforms.functional as TF

log = logging.getLogger(__name__)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` → uint8 ``(T, 3, H, W)``."""
    f = np.asarray(frames)
    if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
        raise ValueError(f"encoder: frames must be uint8 (T, H, W, 3), got {f.dtype} {f.shape}")
    return torch.from_numpy(np.ascontiguousarray(f)).permute(0, 3, 1, 2)


def dino_preprocess(frames: np.ndarray, n_px: int) -> torch.Tensor:
    x = TF.resize(_to_tensor(frames), [n_px], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.normalize(x.float() / 255.0, IMAGENET_MEAN, IMAGENET_STD)


def clip_preprocess(frames: np.ndarray, n_px: int) -> torch.Tensor:
    x = TF.resize(_to_tensor(frames), [n_px], interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
    x = TF.center_crop(x, [n_px, n_px])
    return TF.normalize(x.float() / 255.0, CLIP_MEAN, CLIP_STD)


def _check_local(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what}: no such local weights folder: {path}")
    return p


class FrameEncoder:
    """Loads once; ``encode(frames) -> (T, D)`` float32 features on CPU."""

    name = "encoder"

    def __init__(self, model: torch.nn.Module, n_px: int, device: str, frame_batch: int):
        self.model = model.to(device).eval()
        self.n_px, self.device, self.frame_batch = int(n_px), device, int(frame_batch)

    def _preprocess(self, frames: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        outs = []
        for i in range(0, len(frames), self.frame_batch):
            pixels = self._preprocess(frames[i:i + self.frame_batch]).to(self.device)
            outs.append(self._forward(pixels).float().cpu())
        return torch.cat(outs)


class DinoEncoder(FrameEncoder):
    name = "dino"

    @classmethod
    def load(cls, path: str, device: str = "cpu", frame_batch: int = 32) -> "DinoEncoder":
        from transformers import ViTModel

        model = ViTModel.from_pretrained(str(_check_local(path, "weights.dino")), add_pooling_layer=False)
        return cls(model, model.config.image_size, device, frame_batch)

    def _preprocess(self, frames):
        return dino_preprocess(frames, self.n_px)

    def _forward(self, pixels):
        return self.model(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state[:, 0]


class ClipEncoder(FrameEncoder):
    name = "clip"

    @classmethod
    def load(cls, path: str, device: str = "cpu", frame_batch: int = 32, what: str = "weights.clip") -> "ClipEncoder":
        from transformers import AutoConfig, CLIPVisionModelWithProjection

        p = str(_check_local(path, what))
        cfg = AutoConfig.from_pretrained(p)
        vcfg: Optional[object] = None
        if cfg.model_type == "clip":                  # a full CLIPModel folder: take its vision side
            vcfg = cfg.vision_config
            vcfg.projection_dim = cfg.projection_dim
        elif cfg.model_type != "clip_vision_model":
            raise ValueError(f"{what}: {path} holds a {cfg.model_type!r} model, expected a CLIP model")
        kwargs = {"config": vcfg} if vcfg is not None else {}
        from transformers.utils import logging as hf_logging

        level = hf_logging.get_verbosity()
        if vcfg is not None:                          # the text tower's keys are expected leftovers
            hf_logging.set_verbosity_error()
        try:
            model = CLIPVisionModelWithProjection.from_pretrained(p, **kwargs)
        finally:
            hf_logging.set_verbosity(level)
        return cls(model, model.config.image_size, device, frame_batch)

    @property
    def embed_dim(self) -> int:
        return int(self.model.config.projection_dim)

    def _preprocess(self, frames):
        return clip_preprocess(frames, self.n_px)

    def _forward(self, pixels):
        return self.model(pixel_values=pixels).image_embeds
