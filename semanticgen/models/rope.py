"""3D rotary position embedding over (time, height, width) with real-valued positions.

The head dimension is split into three even parts (time gets the remainder, as in Wan2.1):
``d_h = d_w = 2·(Dh // 6)``, ``d_t = Dh − d_h − d_w``. Positions may be fractional, so semantic
tokens can sit at their true place on the VAE-latent grid.
"""
from __future__ import annotations

from typing import Tuple

import torch


def axis_dims(head_dim: int) -> Tuple[int, int, int]:
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for RoPE, got {head_dim}")
    dh = 2 * (head_dim // 6)
    return head_dim - 2 * dh, dh, dh


def rope_angles(pos: torch.Tensor, head_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Angles (N, Dh/2) for positions ``pos`` (N, 3) float."""
    parts = []
    for axis, d in enumerate(axis_dims(head_dim)):
        if d == 0:
            continue
        freqs = theta ** (-torch.arange(0, d, 2, device=pos.device, dtype=torch.float64) / d)
        parts.append(pos[:, axis:axis + 1].double() * freqs[None])
    return torch.cat(parts, dim=-1).float()


def apply_rope(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[2i], x[2i+1]) of ``x`` (B, N, H, Dh) by ``angles`` (N, Dh/2), in fp32."""
    xf = x.float().reshape(*x.shape[:-1], -1, 2)
    cos, sin = angles.cos()[None, :, None, :], angles.sin()[None, :, None, :]
    x0, x1 = xf[..., 0], xf[..., 1]
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.reshape(x.shape).to(x.dtype)


def grid_positions(t: int, h: int, w: int, scale: Tuple[float, float, float] = (1.0, 1.0, 1.0),
                   offset: Tuple[float, float, float] = (0.0, 0.0, 0.0), device=None) -> torch.Tensor:
    """(t·h·w, 3) positions of a t-major flattened grid, scaled and offset per axis."""
    tt, hh, ww = torch.meshgrid(torch.arange(t, device=device), torch.arange(h, device=device),
                                torch.arange(w, device=device), indexing="ij")
    pos = torch.stack([tt, hh, ww], -1).reshape(-1, 3).float()
    return pos * torch.tensor(scale, device=device) + torch.tensor(offset, device=device)
