"""Text → video with the trained models (no Ray here; ``pipelines/generate.py`` wraps it in Ray Data).

1. Text encoder: prompt → embedding (and the empty prompt for CFG).
2. Semantic DiT (full attention over all z_sem tokens): noise → z_sem, Euler + text CFG.
3. Latent DiT (full attention for short videos, Swin for long ones) with z_sem in context: noise → latents.
4. Wan VAE decode in temporal chunks of ``decode_chunk`` latent frames, streamed into the mp4
   (memory stays bounded for 60 s videos). Each chunk after the first is decoded with one latent frame of
   causal context, whose output frame is dropped.
Everything is deterministic for a given seed (CPU; per-stage ``torch.Generator`` seeded from it).
"""
from __future__ import annotations

import contextlib
import os
from typing import List, Optional, Sequence

import torch

from ..config import Config
from ..encoders.text import TextEncoder
from ..encoders.vae import VideoVAE
from ..flow import euler_sample
from ..models.build import load_semantic_dit, load_stage1
from ..video.mp4 import VideoWriter
from .shapes import TrainedBuckets, generation_grid, latent_shape


def deterministic_kernels() -> None:
    """Same seed → same video: no autotuned or alignment-dependent kernels (oneDNN on CPU, cuDNN autotune)."""
    torch.backends.mkldnn.enabled = False
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


class SemanticGenPipeline:
    def __init__(self, cfg: Config, latent_ckpt: str, semantic_ckpt: Optional[str], device: str = "cpu"):
        fc, gc = cfg.features, cfg.generate
        self.cfg, self.device = cfg, device
        deterministic_kernels()
        stage1 = load_stage1(cfg, latent_ckpt, gc.use_ema)
        self.compressor = stage1.compressor
        self.latent_dit = stage1.latent_dit.to(device)   # one copy of the weights for full and Swin attention
        self.semantic_dit = load_semantic_dit(cfg, semantic_ckpt, gc.use_ema).to(device) if semantic_ckpt else None
        self.text_encoder = TextEncoder.from_features(fc, device=device)
        self.vae = VideoVAE.from_features(fc, device=device)
        self.null_text, self.null_mask = self.text_encoder.encode([""])
        # the buckets training had (z_sem grids per size): the semantic DiT's, else the latent DiT's
        self.trained = TrainedBuckets.from_checkpoint(cfg, semantic_ckpt or latent_ckpt)

    def _amp(self):
        """The DiTs run in their training precision: bf16 autocast on CUDA for ``train.precision=bf16`` (q, k, v
        then reach FlashAttention in bf16); fp32 otherwise and on CPU."""
        if self.cfg.train.precision == "bf16" and torch.device(self.device).type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _gen(self, seed: int, offset: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed * 1009 + offset)

    def _noise(self, seeds: Sequence[int], offset: int, shape) -> torch.Tensor:
        """One noise sample per seed, each from its own generator: a prompt's noise does not depend on its batch."""
        return torch.cat([torch.randn((1, *shape), generator=self._gen(s, offset)) for s in seeds]).to(self.device)

    def _null(self, n: int):
        return self.null_text.expand(n, -1, -1).to(self.device), self.null_mask.expand(n, -1).to(self.device)

    @torch.no_grad()
    def z_sem(self, text, mask, grid, seeds: Sequence[int]) -> torch.Tensor:
        if self.semantic_dit is None:
            raise RuntimeError("no semantic DiT checkpoint: pass one, or render from given z_sem (--z-sem)")
        noise = self._noise(seeds, 1, (*grid, self.compressor.z_dim))
        fl, dit, (nt, nm) = self.cfg.models.flow, self.semantic_dit, self._null(len(seeds))
        with self._amp():
            return euler_sample(lambda z, t: dit(z, t, text, mask), noise, fl.steps, fl.shift,
                                lambda z, t: dit(z, t, nt, nm), self.cfg.generate.semantic_cfg_scale)

    @torch.no_grad()
    def latents(self, z_sem, text, mask, shape, seeds: Sequence[int], attention: str) -> torch.Tensor:
        noise = self._noise(seeds, 2, shape)
        fl, dit, (nt, nm) = self.cfg.models.flow, self.latent_dit, self._null(len(seeds))
        with self._amp():
            return euler_sample(lambda x, t: dit(x, t, text, mask, z_sem, attention=attention), noise, fl.steps,
                                fl.shift, lambda x, t: dit(x, t, nt, nm, z_sem, attention=attention),
                                self.cfg.generate.latent_cfg_scale)

    def decode_to_mp4(self, latents: torch.Tensor, path: str, fps: float) -> int:
        """Decode one video's latents (1, C, T, H, W) chunk by chunk into ``path``."""
        chunk = self.cfg.generate.decode_chunk
        T = latents.shape[2]
        with VideoWriter(path, fps) as w:
            for s in range(0, T, chunk):
                ctx = 1 if s > 0 else 0
                frames = self.vae.decode(latents[0, :, s - ctx: min(T, s + chunk)])
                w.write(frames[1:] if ctx else frames)
            return w.frames

    def generate_batch(self, prompts: Sequence[str], out_paths: Sequence[str], seeds: Sequence[int], num_frames: int,
                       height: int, width: int, long: bool = False,
                       z_sem: Optional[torch.Tensor] = None) -> List[dict]:
        """Videos of one size for several prompts: both DiTs run once per step on the whole batch; each
        prompt keeps its own seed's noise, so its video equals the one generated alone up to float rounding."""
        if not (len(prompts) == len(out_paths) == len(seeds)) or not prompts:
            raise ValueError("generate_batch needs one output path and one seed per prompt")
        text, mask = self.text_encoder.encode(list(prompts))
        text, mask = text.to(self.device), mask.to(self.device)
        grid_from = "given"
        if z_sem is None:
            grid, grid_from = generation_grid(self.cfg, self.trained, height, width, num_frames)
            z_sem = self.z_sem(text, mask, grid, seeds)
        attention = "swin" if long else self.cfg.models.latent_dit.attention
        lat = self.latents(z_sem.to(self.device), text, mask, latent_shape(self.cfg, height, width, num_frames),
                           seeds, attention)
        out = []
        for i, path in enumerate(out_paths):
            frames = self.decode_to_mp4(lat[i:i + 1], path, self.cfg.features.vae_fps)
            if self.cfg.generate.save_latents:
                torch.save({"z_sem": z_sem[i:i + 1].cpu(), "latents": lat[i:i + 1].cpu()},
                           os.path.splitext(path)[0] + ".pt")
            out.append({"path": path, "frames": frames, "attention": attention, "z_sem_shape": list(z_sem.shape[1:]),
                        "latent_shape": list(lat.shape[1:]), "z_sem_grid_from": grid_from})
        return out

    def generate(self, prompt: str, out_path: str, seed: int, num_frames: int, height: int, width: int,
                 long: bool = False, z_sem: Optional[torch.Tensor] = None) -> dict:
        return self.generate_batch([prompt], [out_path], [seed], num_frames, height, width, long, z_sem)[0]

    def compress(self, sem_features: torch.Tensor) -> torch.Tensor:
        """Raw semantic-encoder features (T', H', W', D) → z_sem (1, T', H', W', d): the compressor's μ."""
        _, mu, _ = self.compressor(sem_features.float()[None], sample=False)
        return mu
