"""Per-frame feature encoders for the weight-based VBench metrics, loaded from LOCAL folders.

Preprocessing follows VBench (``vbench/utils.py``) exactly: ``load_video`` turns the uint8
frames into a FLOAT tensor first, and every resize runs on that float tensor with
``antialias=False`` (no rounding back to uint8, no clamping after bicubic):

- DINO ViT-B/16 (``dino_transform``): bilinear resize of the shorter side to ``image_size``
  (no crop, aspect kept), /255, ImageNet mean/std. The feature is the final-norm CLS token
  (what the torch-hub DINO model returns: ``ViTModel(...).last_hidden_state[:, 0]``). Since
  VBench never crops, the position embeddings are always interpolated, and with the hub
  DINO's rule (``VisionTransformer.interpolate_pos_encoding``): bicubic with
  ``scale_factor = ((h0 + 0.1) / sqrt(N), (w0 + 0.1) / sqrt(N))``, not HF's target size.
- CLIP (``clip_transform``): bicubic resize of the shorter side to ``image_size``, centre
  crop, /255, CLIP mean/std; the feature is the projected image embedding
  (``encode_image`` = ``CLIPVisionModelWithProjection(...).image_embeds``). A folder holding
  a full ``CLIPModel`` works too. On CUDA the model runs in fp16 like ``clip.load(device=
  "cuda")`` (weights in fp16, LayerNorm computed in fp32); on CPU in fp32, as there.

``image_size`` comes from the model's own config (224 for the real checkpoints).
"""
from __future__ import annotations

import logging
import math
import types
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

log = logging.getLogger(__name__)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def frames_to_float(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` → float32 ``(T, 3, H, W)`` in [0, 255] (VBench's ``torch.Tensor(frames)``)."""
    f = np.asarray(frames)
    if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
        raise ValueError(f"encoder: frames must be uint8 (T, H, W, 3), got {f.dtype} {f.shape}")
    return torch.from_numpy(np.ascontiguousarray(f)).permute(0, 3, 1, 2).float()


def dino_preprocess(frames: np.ndarray, n_px: int) -> torch.Tensor:
    x = TF.resize(frames_to_float(frames), [n_px], interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
    return TF.normalize(x / 255.0, IMAGENET_MEAN, IMAGENET_STD)


def clip_preprocess(frames: np.ndarray, n_px: int) -> torch.Tensor:
    x = TF.resize(frames_to_float(frames), [n_px], interpolation=TF.InterpolationMode.BICUBIC, antialias=False)
    x = TF.center_crop(x, [n_px, n_px])
    return TF.normalize(x / 255.0, CLIP_MEAN, CLIP_STD)


def hub_dino_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The torch-hub DINO ``interpolate_pos_encoding`` as a ``ViTEmbeddings`` method (HF's signature)."""
    pos = self.position_embeddings
    npatch, n = embeddings.shape[1] - 1, pos.shape[1] - 1
    if npatch == n and height == width:
        return pos
    side, dim = math.sqrt(n), embeddings.shape[-1]
    h0, w0 = height // self.patch_size + 0.1, width // self.patch_size + 0.1
    grid = pos[:, 1:].reshape(1, int(side), int(side), dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=(h0 / side, w0 / side), mode="bicubic")
    if grid.shape[-2:] != (int(h0), int(w0)):
        raise RuntimeError(f"dino: interpolated grid {tuple(grid.shape[-2:])} != {(int(h0), int(w0))}")
    return torch.cat((pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, dim)), dim=1)


def openai_clip_fp16(model: torch.nn.Module) -> torch.nn.Module:
    """Half precision the way OpenAI's ``clip.load`` builds it on CUDA: fp16 weights, fp32 LayerNorms
    (input cast up, output cast back to fp16)."""
    model.half()
    for mod in model.modules():
        if isinstance(mod, torch.nn.LayerNorm):
            mod.float()
            mod.register_forward_pre_hook(lambda m, args: (args[0].float(), *args[1:]))
            mod.register_forward_hook(lambda m, args, out: out.half())
    return model


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
        self.dtype = next(self.model.parameters()).dtype

    def _preprocess(self, frames: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        outs = []
        for i in range(0, len(frames), self.frame_batch):
            pixels = self._preprocess(frames[i:i + self.frame_batch]).to(self.device, self.dtype)
            outs.append(self._forward(pixels).float().cpu())
        return torch.cat(outs)


class DinoEncoder(FrameEncoder):
    name = "dino"

    @classmethod
    def load(cls, path: str, device: str = "cpu", frame_batch: int = 32) -> "DinoEncoder":
        from transformers import ViTModel

        model = ViTModel.from_pretrained(str(_check_local(path, "weights.dino")), add_pooling_layer=False)
        emb = model.embeddings
        emb.interpolate_pos_encoding = types.MethodType(hub_dino_pos_encoding, emb)
        return cls(model, model.config.image_size, device, frame_batch)

    def _preprocess(self, frames):
        return dino_preprocess(frames, self.n_px)

    def _forward(self, pixels):
        return self.model(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state[:, 0]


class ClipEncoder(FrameEncoder):
    name = "clip"

    @classmethod
    def load(cls, path: str, device: str = "cpu", frame_batch: int = 32, what: str = "weights.clip",
             half: Optional[bool] = None) -> "ClipEncoder":
        """``half``: fp16 as VBench's CLIP on CUDA; ``None``: fp16 exactly when ``device`` is CUDA."""
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
        if str(device).startswith("cuda") if half is None else half:
            model = openai_clip_fp16(model)
        return cls(model, model.config.image_size, device, frame_batch)

    @property
    def embed_dim(self) -> int:
        return int(self.model.config.projection_dim)

    def _preprocess(self, frames):
        return clip_preprocess(frames, self.n_px)

    def _forward(self, pixels):
        return self.model(pixel_values=pixels).image_embeds
