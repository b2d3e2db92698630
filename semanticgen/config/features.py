"""Feature extraction section (captioner, Qwen2.5-VL semantic encoder, Wan VAE, text encoder)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional

from .base import check

DTYPES = ("fp32", "bf16", "fp16")


@dataclass
class StageResources:
    """Per model stage: batch size, actor count, and resources of each actor."""
    batch_size: int = 4
    actors: int = 1
    num_gpus: float = 0.0                # fractional for small models (e.g. 0.25 → 4 actors per GPU)
    num_cpus: float = 1.0

    def validate(self) -> None:
        check(self.batch_size >= 1, "batch_size", "must be >= 1")
        check(self.actors >= 1, "actors", "must be >= 1")
        check(self.num_gpus >= 0 and self.num_cpus >= 0, "num_gpus", "resources must be >= 0")


@dataclass
class FeaturesConfig:
    models_dir: Optional[str] = None     # folder of local models; relative model names resolve inside it
    qwen_vl: str = "Qwen/Qwen2.5-VL-3B-Instruct"     # semantic tower source (its vision tower only)
    captioner: str = ""                  # Qwen2.5-VL checkpoint for captions ("" = qwen_vl)
    vae: str = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"   # diffusers folder, or one original .pth/.safetensors file
    vae_subfolder: Optional[str] = "vae"
    vae_config: str = ""                 # single-file VAE: diffusers config folder ("" = AutoencoderKLWan defaults)
    text_encoder: str = "google/umt5-xxl"
    text_tokenizer: str = ""             # tokenizer folder ("" = the encoder's own, else a sibling tokenizer/)
    dtype: str = "fp32"                  # model compute dtype (bf16 on GPU)
    store_dtype: str = "fp32"            # dtype of stored feature tensors
    # semantic encoder (paper: 1.6 fps; Qwen's own default is 2 fps)
    semantic_fps: float = 1.6
    semantic_min_pixels: int = 128 * 28 * 28
    semantic_max_pixels: int = 768 * 28 * 28
    # VAE: frames at the preset fps, 1+4k frames, bucketed sizes (height, width)
    vae_fps: float = 16.0
    vae_max_frames: int = 81             # the longest clip the VAE takes (frame_buckets stay <= it)
    # temporal buckets: a clip is trimmed (never padded) to the largest of these frame counts (1+4k) it fills
    frame_buckets: List[int] = field(default_factory=lambda: [29, 45, 61, 81])
    buckets: List[List[int]] = field(default_factory=lambda: [[480, 832], [624, 624], [832, 480]])
    # captions
    caption: bool = True                 # false: clips without a caption get an error row at the text stage
    caption_backend: str = "transformers"  # transformers | vllm (ray.data.llm, GPU clusters)
    caption_frames: int = 16             # frames sampled across the whole clip for the captioner
    caption_prompt: str = ""             # "" = semanticgen.encoders.captioner.DEFAULT_PROMPT
    caption_max_new_tokens: int = 256
    caption_min_new_tokens: int = 1
    caption_max_pixels: int = 256 * 28 * 28
    text_max_length: int = 512
    retry_errors: bool = False           # re-run clips that failed before (default: only missing clips run)
    decode: StageResources = field(default_factory=lambda: StageResources(batch_size=2, actors=1))
    captioner_stage: StageResources = field(default_factory=StageResources)
    semantic_stage: StageResources = field(default_factory=StageResources)
    vae_stage: StageResources = field(default_factory=lambda: StageResources(batch_size=1))
    text_stage: StageResources = field(default_factory=lambda: StageResources(batch_size=16))

    def validate(self) -> None:
        check(self.dtype in DTYPES, "dtype", f"must be one of {DTYPES}")
        check(self.store_dtype in DTYPES, "store_dtype", f"must be one of {DTYPES}")
        check(self.semantic_fps > 0, "semantic_fps", "must be > 0")
        check(0 < self.semantic_min_pixels <= self.semantic_max_pixels, "semantic_min_pixels",
              "must be > 0 and <= semantic_max_pixels")
        check(self.vae_fps > 0, "vae_fps", "must be > 0")
        check(self.vae_max_frames >= 5 and (self.vae_max_frames - 1) % 4 == 0, "vae_max_frames",
              "must be 1+4k with k >= 1")
        check(bool(self.frame_buckets) and all(isinstance(n, int) and n >= 5 and (n - 1) % 4 == 0
                                                for n in self.frame_buckets), "frame_buckets",
              "must be a non-empty list of frame counts 1+4k with k >= 1")
        check(max(self.frame_buckets) <= self.vae_max_frames, "frame_buckets",
              f"must be <= vae_max_frames ({self.vae_max_frames})")
        check(bool(self.buckets) and all(len(b) == 2 and b[0] % 16 == 0 and b[1] % 16 == 0 for b in self.buckets),
              "buckets", "must be [height, width] pairs, multiples of 16 (VAE 8x + DiT 2x2 patches)")
        check(self.caption_backend in ("transformers", "vllm"), "caption_backend", "must be transformers or vllm")
        check(self.caption_frames >= 2, "caption_frames", "must be >= 2")
        check(self.text_max_length >= 1, "text_max_length", "must be >= 1")
        if self.models_dir is not None:
            check(os.path.isdir(self.models_dir), "models_dir", f"no such folder: {self.models_dir}")

    def resolve(self, name: str) -> str:
        """A model name inside ``models_dir`` when it exists there, else the name itself (path or hub id)."""
        if self.models_dir and name and not os.path.isabs(name):
            cand = os.path.join(self.models_dir, name)
            if os.path.exists(cand):
                return cand
        return name
