"""Wan2.1 video VAE (``diffusers.AutoencoderKLWan``): 1+4k frames → 1+k latent frames, 8× spatial, 16 ch.

Latents are normalised per channel with the VAE config's ``latents_mean`` / ``latents_std``
(``z_norm = (z − mean) / std``), as Wan2.1 does before its DiT.

Bucket rule (no distortion): among the configured (height, width) buckets pick the one whose aspect
ratio is closest to the clip's (in log space); scale the frame so it *covers* the bucket (keeping its
aspect ratio) and centre-crop the overflow. The frame count is the largest temporal bucket
(``features.frame_buckets``, each 1+4k) that the frames the clip has at the VAE fps fill: the clip is trimmed,
never padded.

Weights load from a diffusers folder (``AutoencoderKLWan``, or a pipeline folder's ``vae/``) or from ONE file in
the original Wan layout (``Wan2.1_VAE.pth`` / ``.safetensors``) through ``AutoencoderKLWan.from_single_file``,
with the config of ``features.vae_config`` (a diffusers folder) or the class defaults (the Wan2.1 VAE); every
tensor of the file must map onto the model and every model tensor must come from the file.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .weights import resolve_local


def pick_bucket(height: int, width: int, buckets: Sequence[Sequence[int]]) -> Tuple[int, int]:
    ar = math.log(width / height)
    best = min(buckets, key=lambda b: (abs(math.log(b[1] / b[0]) - ar), -b[0] * b[1]))
    return int(best[0]), int(best[1])


SINGLE_FILE_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")


def frame_bucket(available: int, buckets: Sequence[int]) -> int:
    """The largest temporal bucket ≤ ``available`` frames; 0 when the clip is shorter than every bucket."""
    fits = [int(b) for b in buckets if int(b) <= available]
    return max(fits) if fits else 0


def vae_frame_count(available: int, max_frames: int) -> int:
    """Largest 1+4k ≤ min(available, max_frames); 0 when fewer than 5 frames (too short)."""
    n = min(available, max_frames)
    if n < 5:
        return 0
    return 1 + 4 * ((n - 1) // 4)


def resize_cover_crop(frames: np.ndarray, size: Tuple[int, int]) -> torch.Tensor:
    """uint8 (T, H, W, 3) → float (3, T, h, w) in [-1, 1], scaled to cover ``size`` then centre-cropped."""
    h, w = size
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    H, W = x.shape[-2:]
    s = max(h / H, w / W)
    nh, nw = max(h, round(H * s)), max(w, round(W * s))
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    top, left = (nh - h) // 2, (nw - w) // 2
    return x[:, :, top:top + h, left:left + w].permute(1, 0, 2, 3).clamp(-1, 1)


class VideoVAE:
    def __init__(self, vae, device: str = "cpu", dtype: torch.dtype = torch.float32):
        self.vae = vae.to(device=device, dtype=dtype).eval()
        self.device, self.dtype = device, dtype
        cfg = vae.config
        self.mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1, 1)
        self.z_dim = int(cfg.z_dim)

    @classmethod
    def from_pretrained(cls, name_or_path: str, subfolder: Optional[str] = None, device: str = "cpu",
                        dtype: torch.dtype = torch.float32, config: str = "") -> "VideoVAE":
        from diffusers import AutoencoderKLWan

        if os.path.isfile(name_or_path) and name_or_path.endswith(SINGLE_FILE_SUFFIXES):
            return cls(load_single_file(name_or_path, config, dtype), device, dtype)
        vae = AutoencoderKLWan.from_pretrained(resolve_local(name_or_path, subfolder), torch_dtype=dtype)
        return cls(vae, device, dtype)

    @classmethod
    def from_features(cls, fc, device: str = "cpu", dtype: torch.dtype = torch.float32) -> "VideoVAE":
        """The VAE a ``FeaturesConfig`` names (``vae``, ``vae_subfolder``, ``vae_config``)."""
        return cls.from_pretrained(fc.resolve(fc.vae), subfolder=fc.vae_subfolder, device=device, dtype=dtype,
                                   config=fc.resolve(fc.vae_config) if fc.vae_config else "")

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(3, 1+4k, H, W) in [-1, 1] → normalised latents (16, 1+k, H/8, W/8) float32 (posterior mode)."""
        t, h, w = video.shape[1:] if video.ndim == 4 else (0, 0, 0)
        if video.ndim != 4 or video.shape[0] != 3 or (t - 1) % 4 or h % 8 or w % 8:
            raise ValueError(f"VAE video must be (3, 1+4k, H, W) with H, W multiples of 8, got {tuple(video.shape)}")
        x = video[None].to(self.device, self.dtype)
        z = self.vae.encode(x).latent_dist.mode().float().cpu()
        return ((z - self.mean) / self.std)[0]

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised latents (16, t, h, w) → uint8 frames (1+4(t−1), 8h, 8w, 3)."""
        z = latents[None].float() * self.std + self.mean
        x = self.vae.decode(z.to(self.device, self.dtype)).sample.float().cpu()[0]
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()

    def encode_frames(self, frames: np.ndarray, buckets: List[Sequence[int]]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        size = pick_bucket(frames.shape[1], frames.shape[2], buckets)
        return self.encode(resize_cover_crop(frames, size)), size


def read_single_file(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of one checkpoint file (safetensors, or a torch pickle read with ``weights_only=True``)."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):          # wrapper dicts of some exporters
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def load_single_file(path: str, config: str = "", dtype: torch.dtype = torch.float32):
    """``AutoencoderKLWan`` from one original-layout file; fails naming the keys unless the file covers the model
    exactly (after diffusers' Wan key conversion)."""
    from diffusers import AutoencoderKLWan
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    state = read_single_file(path)
    with tempfile.TemporaryDirectory() as d:
        cfg_dir = resolve_local(config, "vae") if config else d
        if not config:                           # the class defaults are the Wan2.1 VAE
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump({"_class_name": "AutoencoderKLWan"}, f)
        try:
            vae = AutoencoderKLWan.from_single_file(state, config=cfg_dir, torch_dtype=dtype, low_cpu_mem_usage=False)
        except RuntimeError as e:                # shapes of another architecture than the config's
            raise ValueError(f"{path} does not fit AutoencoderKLWan{' of ' + config if config else ' defaults'} "
                             f"(set features.vae_config to its diffusers config folder): {str(e)[:300]}") from e
    expected = set(vae.state_dict())
    got = set(state) if set(state) <= expected else set(convert_wan_vae_to_diffusers(state))
    missing, unexpected = sorted(expected - got), sorted(got - expected)
    if missing or unexpected:
        raise KeyError(f"{path} does not match AutoencoderKLWan{' of ' + config if config else ''}: "
                       f"{len(missing)} missing {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}")
    return vae
