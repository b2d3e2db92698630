"""Model section: compressor, latent DiT, semantic DiT sizes, attention and flow settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .base import check

ATTN_MODES = ("full", "swin")


@dataclass
class CompressorConfig:
    in_dim: int = 2048                   # semantic encoder width (Qwen2.5-VL-3B tower out_hidden_size)
    out_dim: Optional[int] = 8           # d: 8 (paper best) | 64 | null = no compression (2048 ablation)
    kl_weight: float = 1e-3              # β
    z_noise: float = 0.1                 # stage-1 noise on z_sem (RAE-style robustness), std in z units
    input: str = "semantic"              # semantic | vae  (Figure 9 "compressed-VAE space" baseline)

    def validate(self) -> None:
        check(self.in_dim > 0, "in_dim", "must be > 0")
        check(self.out_dim is None or self.out_dim > 0, "out_dim", "must be > 0 or null (no compression)")
        check(self.kl_weight >= 0, "kl_weight", "must be >= 0")
        check(self.z_noise >= 0, "z_noise", "must be >= 0")
        check(self.input in ("semantic", "vae"), "input", "must be semantic or vae")


@dataclass
class DiTConfig:
    size: str = "tiny"                   # a name in semanticgen.models.registry.SIZES
    layers: int = 0                      # 0: the size's own depth
    attention: str = "full"              # full | swin
    swin_window: int = 4                 # T_w: latent frames per window (swin)
    qk_norm: bool = True
    pretrained: Optional[str] = None     # Wan2.1 DiT checkpoint (safetensors file/dir) to initialise from
    pretrained_strict: bool = True       # fail unless every tensor expected from `pretrained` loads (false: log it)

    def validate(self) -> None:
        from ..models.registry import SIZES

        check(self.size in SIZES, "size", f"unknown size; known: {sorted(SIZES)}")
        check(self.layers >= 0, "layers", "must be >= 0")
        check(self.attention in ATTN_MODES, "attention", f"must be one of {ATTN_MODES}")
        check(self.swin_window >= 2 and self.swin_window % 2 == 0, "swin_window", "must be an even number >= 2")


@dataclass
class FlowConfig:
    shift: float = 3.0                   # timestep shift for training and sampling
    logit_mean: float = 0.0
    logit_std: float = 1.0
    steps: int = 30                      # Euler steps at inference
    cfg_scale: float = 5.0               # text classifier-free guidance
    sem_cfg_scale: float = 1.0           # latent DiT guidance on z_sem (flow.euler_sample; 1 = off)

    def validate(self) -> None:
        check(self.shift > 0, "shift", "must be > 0")
        check(self.steps >= 1, "steps", "must be >= 1")
        check(self.sem_cfg_scale >= 0, "sem_cfg_scale", "must be >= 0")


@dataclass
class ModelsConfig:
    text_dim: int = 4096                 # text encoder width (umT5-XXL: 4096)
    latent_channels: int = 16            # Wan2.1 VAE
    attn_backend: str = "auto"           # auto | sdpa | flash
    compressor: CompressorConfig = field(default_factory=CompressorConfig)
    latent_dit: DiTConfig = field(default_factory=DiTConfig)
    semantic_dit: DiTConfig = field(default_factory=DiTConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)

    def validate(self) -> None:
        check(self.attn_backend in ("auto", "sdpa", "flash"), "attn_backend", "must be auto, sdpa or flash")
        check(self.semantic_dit.attention == "full", "semantic_dit.attention",
              "the semantic DiT uses full attention over all z_sem tokens")
