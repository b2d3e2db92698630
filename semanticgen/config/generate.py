"""Generation section: sizes, lengths, guidance, checkpoints."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .base import check


@dataclass
class GenerateConfig:
    height: int = 480
    width: int = 832
    num_frames: int = 81                 # short video, 1+4k frames at features.vae_fps
    long_num_frames: int = 961           # "long" prompts (60 s at 16 fps): Swin attention in the latent DiT
    semantic_cfg_scale: float = 5.0      # text CFG of the semantic DiT
    latent_cfg_scale: float = 5.0        # text CFG of the latent DiT (z_sem kept in both branches)
    seed: int = 0
    decode_chunk: int = 8                # latent frames per VAE decode chunk (bounded memory for long videos)
    save_latents: bool = False           # also write z_sem and VAE latents (.pt) beside each mp4
    latent_checkpoint: Optional[str] = None     # stage-1 checkpoint dir (default: latest of --latent-run)
    semantic_checkpoint: Optional[str] = None   # stage-2 checkpoint dir (default: latest of --semantic-run)
    use_ema: bool = True
    num_gpus: float = 0.0
    num_cpus: float = 1.0
    actors: int = 1
    batch_size: int = 1                  # prompts of one size per DiT batch inside an actor
    extrapolate: bool = False            # allow frame sizes no trained spatial bucket covers (z_sem grid extrapolated)

    def validate(self) -> None:
        check(self.height % 16 == 0 and self.width % 16 == 0, "height", "height and width must be multiples of 16")
        check(self.num_frames >= 1 and (self.num_frames - 1) % 4 == 0, "num_frames", "must be 1+4k")
        check(self.long_num_frames >= 1 and (self.long_num_frames - 1) % 4 == 0, "long_num_frames", "must be 1+4k")
        check(self.decode_chunk >= 1, "decode_chunk", "must be >= 1")
        check(self.actors >= 1, "actors", "must be >= 1")
        check(self.batch_size >= 1, "batch_size", "must be >= 1")
