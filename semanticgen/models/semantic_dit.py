"""Semantic DiT (paper §4.2.3): text → compressed semantic features z_sem, full attention.

Input/output (B, Ts, Hs, Ws, d): each z_sem token is one 1×1×1 patch with integer 3D RoPE positions.
``SemanticDiT(cfg: DiTConfig, z_dim, text_dim, attn_backend="auto")``;
``forward(z_t (B,Ts,Hs,Ws,d), t (B,), text (B,L,Dt), text_mask (B,L) bool | None) -> v (B,Ts,Hs,Ws,d)``.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..config.models import DiTConfig
from .dit import DiTTrunk, null_mask
from .registry import get_size
from .rope import grid_positions, rope_angles


class SemanticDiT(DiTTrunk):
    # z_sem in and out (not Wan's 16-channel 1×2×2 patches): never filled from a Wan2.1 checkpoint
    pretrained_new = ("patch_embedding.", "head.head.")

    def __init__(self, cfg: DiTConfig, z_dim: int, text_dim: int, attn_backend: str = "auto"):
        size = get_size(cfg.size, cfg.layers)
        super().__init__(size, text_dim, z_dim, cfg.qk_norm, attn_backend)
        self.cfg, self.z_dim = cfg, z_dim
        self.patch_embedding = nn.Linear(z_dim, size.dim)
        self.init_weights()

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, text: torch.Tensor,
                text_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, Ts, Hs, Ws, d = z_t.shape
        pos = grid_positions(Ts, Hs, Ws, device=z_t.device)
        shard = self.shard(pos[:, 0], pos.shape[0], Ts, None)       # full attention (Ulysses across ranks)
        x = self.patch_embedding(z_t[:, shard.frames].reshape(B, -1, d))
        angles = rope_angles(shard.select(pos), self.head_dim)
        e, e0 = self.time(t)
        ctx = self.text(text.to(x.dtype))
        x = self.run_blocks(x, [(0, x.shape[1], e0)], angles, ctx, null_mask(text_mask), shard.layers)
        return shard.gather(self.head(x, e)).view(B, Ts, Hs, Ws, d)
