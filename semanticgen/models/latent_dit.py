"""Latent DiT (paper §4.2.2): VAE latents + in-context z_sem tokens → velocity of the VAE latents.

Tokens: VAE latents are patchified 1×2×2 into a (T, H/2, W/2) grid; z_sem (B, Ts, Hs, Ws, d) gets
its own linear input projection (1×1×1 patch). Both sequences are concatenated along the token
axis. Semantic tokens carry timestep 0 (clean) and RoPE positions at the centre of the latent-grid
span they cover: ``p = (i + 0.5)·N_latent / N_sem − 0.5`` per axis. Output and loss cover VAE
tokens only.

Attention ``full``: every token attends to every token. ``swin``: windows of ``T_w`` latent frames;
odd layers shift windows by ``T_w/2`` (so the first and last windows are ragged); each window also
holds the semantic tokens whose time position falls in its span (DESIGN §3).

``LatentDiT(cfg: DiTConfig, latent_channels, sem_dim (compressor.z_dim; None = no z_sem), text_dim,
attn_backend="auto")``;
``forward(x_t (B,C,T,H,W), t (B,), text (B,L,Dt), text_mask (B,L) bool | None,
z_sem (B,Ts,Hs,Ws,d) | None, sem_mask (B,Ts,Hs,Ws) or (B,Ts·Hs·Ws) bool | None) -> v (B,C,T,H,W)``.
``sem_mask`` False hides a z_sem token from every other token (per sample): a sample with an
all-False mask is computed exactly as with ``z_sem=None`` (semantic-condition dropout for CFG, or
padded semantic grids).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..config.models import DiTConfig
from .attention import swin_window_ids  # noqa: F401 - re-exported: windows are a latent-DiT concept
from .dit import DiTTrunk, null_mask
from .registry import get_size
from .rope import grid_positions, rope_angles

PATCH = (1, 2, 2)


def semantic_positions(sem_grid, latent_grid, device=None) -> torch.Tensor:
    """Fractional positions of z_sem tokens on the latent token grid (t-major)."""
    (ts, hs, ws), (t, h, w) = sem_grid, latent_grid
    scale = (t / ts, h / hs, w / ws)
    offset = tuple(0.5 * s - 0.5 for s in scale)
    return grid_positions(ts, hs, ws, scale=scale, offset=offset, device=device)


class LatentDiT(DiTTrunk):
    pretrained_new = ("sem_embedding.",)          # ours: never in a Wan2.1 checkpoint (init_from_pretrained)

    def __init__(self, cfg: DiTConfig, latent_channels: int, sem_dim: Optional[int], text_dim: int,
                 attn_backend: str = "auto"):
        size = get_size(cfg.size, cfg.layers)
        super().__init__(size, text_dim, latent_channels * PATCH[0] * PATCH[1] * PATCH[2], cfg.qk_norm,
                         attn_backend)
        self.cfg, self.channels = cfg, latent_channels
        self.patch_embedding = nn.Conv3d(latent_channels, size.dim, kernel_size=PATCH, stride=PATCH)
        self.sem_embedding = nn.Linear(sem_dim, size.dim) if sem_dim else None
        self.init_weights()

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, text: torch.Tensor,
                text_mask: Optional[torch.Tensor] = None, z_sem: Optional[torch.Tensor] = None,
                sem_mask: Optional[torch.Tensor] = None, attention: Optional[str] = None) -> torch.Tensor:
        """``attention``: ``full``/``swin`` for this call (default ``cfg.attention``); the weights are the same
        for both, so one model serves short (full) and long (Swin) videos. Under context parallelism
        (:meth:`DiTTrunk.shard`) this rank embeds and runs only its windows; the output is whole again."""
        B, C, T, H, W = x_t.shape
        if H % 2 or W % 2:
            raise ValueError(f"latent height/width must be even for 1x2x2 patches, got {H}x{W}")
        grid = (T // PATCH[0], H // PATCH[1], W // PATCH[2])
        nv = grid[0] * grid[1] * grid[2]
        pos = grid_positions(*grid, device=x_t.device)
        if z_sem is not None:
            self.check_z_sem(z_sem, B)
            pos = torch.cat([pos, semantic_positions(tuple(z_sem.shape[1:4]), grid, device=x_t.device)], dim=0)
        elif sem_mask is not None:
            raise ValueError("sem_mask given without z_sem")
        swin = (attention or self.cfg.attention) == "swin"
        shard = self.shard(pos[:, 0], nv, grid[0], self.cfg.swin_window if swin else None)
        x = self.patch_embedding(x_t[:, :, shard.frames]).flatten(2).transpose(1, 2)     # (B, this rank's Nv, D)
        e_t, e0_t = self.time(t)
        segs = [(0, x.shape[1], e0_t)]
        key_mask = None
        if z_sem is not None:
            s = shard.select_sem(self.sem_embedding(z_sem.reshape(B, -1, z_sem.shape[-1]).to(x.dtype)))
            _, e0_0 = self.time(torch.zeros_like(t))
            segs.append((x.shape[1], x.shape[1] + s.shape[1], e0_0))
            x = torch.cat([x, s], dim=1)
            key_mask = self.key_mask(sem_mask, B, nv, pos.shape[0] - nv, x.device)
        angles = rope_angles(shard.select(pos), self.head_dim)
        ctx = self.text(text.to(x.dtype))
        x = self.run_blocks(x, segs, angles, ctx, null_mask(text_mask), shard.layers, key_mask)
        out = shard.gather(self.head(x[:, :segs[0][1]], e_t))          # VAE tokens only, all of them
        return self.unpatchify(out, grid)

    def check_z_sem(self, z_sem: torch.Tensor, batch: int) -> None:
        if self.sem_embedding is None:
            raise ValueError("this LatentDiT was built without semantic conditioning (sem_dim=None)")
        if z_sem.dim() != 5 or z_sem.shape[0] != batch:
            raise ValueError(f"z_sem must be (B={batch}, Ts, Hs, Ws, d), got {tuple(z_sem.shape)}")

    @staticmethod
    def key_mask(sem_mask: Optional[torch.Tensor], B: int, nv: int, ns: int, device) -> Optional[torch.Tensor]:
        """(B, nv + ns) attention key mask: VAE tokens always visible, z_sem tokens per ``sem_mask``."""
        if sem_mask is None:
            return None
        m = sem_mask.reshape(B, -1).bool().to(device)
        if m.shape[1] != ns:
            raise ValueError(f"sem_mask has {m.shape[1]} tokens per sample, z_sem has {ns}")
        if bool(m.all()):
            return None
        return torch.cat([torch.ones(B, nv, dtype=torch.bool, device=device), m], dim=1)

    def unpatchify(self, out: torch.Tensor, grid) -> torch.Tensor:
        B = out.shape[0]
        t, h, w = grid
        pt, ph, pw = PATCH
        out = out.view(B, t, h, w, pt, ph, pw, self.channels)     # Wan2.1 layout: patch, then channel
        out = out.permute(0, 7, 1, 4, 2, 5, 3, 6)
        return out.reshape(B, self.channels, t * pt, h * ph, w * pw)
