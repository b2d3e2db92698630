"""DiT building blocks (Wan2.1-style; parameter names follow Wan2.1's checkpoints).

Time modulation (adaLN, fp32) is applied per token *segment*: the latent DiT's VAE tokens use the
sampled timestep t while its in-context z_sem tokens use t = 0, without materialising a per-token
modulation tensor. ``Segments`` = list of ``(start, end, e)`` with ``e`` of shape (B, 6, D).

Self-attention goes through one wrapper, :func:`attend`, whatever the layer's attention is: full, Swin
windows (a :class:`WindowLayout`) or a context-parallel plan (``semanticgen.parallel``: windows split
across GPUs, Ulysses). q, k and v reach it in the compute dtype (bf16 under autocast / FSDP mixed
precision), so FlashAttention applies.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
from torch import nn

from .attention import WindowLayout, full_attention, window_attention
from .rope import apply_rope

Segments = List[Tuple[int, int, torch.Tensor]]


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        # the weight in x's dtype: an fp32 weight would promote bf16 activations (no flash-attn under autocast)
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight.to(x.dtype)


def sinusoidal(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """(B,) timesteps in [0, 1] (scaled ×1000 as in Wan) → (B, dim) fp32 embedding."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float64) / half)
    args = (t.double() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1).float()


def modulate(x: torch.Tensor, segs: Segments, shift_i: int, scale_i: int) -> torch.Tensor:
    parts = [x[:, a:b].float() * (1 + e[:, scale_i, None]) + e[:, shift_i, None] for a, b, e in segs]
    return torch.cat(parts, dim=1).to(x.dtype)


def gated_add(x: torch.Tensor, y: torch.Tensor, segs: Segments, gate_i: int) -> torch.Tensor:
    parts = [x[:, a:b] + (y[:, a:b].float() * e[:, gate_i, None]).to(x.dtype) for a, b, e in segs]
    return torch.cat(parts, dim=1)


def attend(q, k, v, layout, backend: str, key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Self-attention of one layer: ``layout`` None = full, a :class:`WindowLayout` = Swin windows, otherwise a
    context-parallel plan with ``attend(q, k, v, backend, key_mask)``. ``key_mask`` is in sequence order."""
    if layout is None:
        return full_attention(q, k, v, backend, key_mask=key_mask)
    if isinstance(layout, WindowLayout):
        return window_attention(q, k, v, layout, backend, key_mask=key_mask)
    return layout.attend(q, k, v, backend, key_mask)


class _Attention(nn.Module):
    """q, k, v, o projections with optional RMS qk-norm (Wan2.1 names)."""

    def __init__(self, dim: int, heads: int, qk_norm: bool = True):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q = RMSNorm(dim) if qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim) if qk_norm else nn.Identity()


class SelfAttention(_Attention):

    def forward(self, x: torch.Tensor, angles: torch.Tensor, layout, backend: str,
                key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, N, _ = x.shape
        shape = (B, N, self.heads, self.head_dim)
        q = apply_rope(self.norm_q(self.q(x)).view(shape), angles)
        k = apply_rope(self.norm_k(self.k(x)).view(shape), angles)
        v = self.v(x).view(shape)
        return self.o(attend(q, k, v, layout, backend, key_mask).reshape(B, N, -1))


class CrossAttention(_Attention):

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, ctx_mask: Optional[torch.Tensor],
                backend: str) -> torch.Tensor:
        B, N, _ = x.shape
        L = ctx.shape[1]
        q = self.norm_q(self.q(x)).view(B, N, self.heads, self.head_dim)
        k = self.norm_k(self.k(ctx)).view(B, L, self.heads, self.head_dim)
        v = self.v(ctx).view(B, L, self.heads, self.head_dim)
        return self.o(full_attention(q, k, v, backend, key_mask=ctx_mask).reshape(B, N, -1))


class DiTBlock(nn.Module):
    """Self-attn (adaLN-modulated, RoPE, qk-norm) → text cross-attn → MLP (adaLN-modulated)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, qk_norm: bool = True, eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.self_attn = SelfAttention(dim, heads, qk_norm)
        self.norm3 = nn.LayerNorm(dim, eps=eps, elementwise_affine=True)
        self.cross_attn = CrossAttention(dim, heads, qk_norm)
        self.norm2 = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(ffn_dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim ** 0.5)

    def forward(self, x: torch.Tensor, segs: Segments, angles: torch.Tensor, ctx: torch.Tensor,
                ctx_mask: Optional[torch.Tensor], layout, backend: str,
                key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``layout``: see :func:`attend`; ``key_mask`` (B, N) bool: tokens other tokens may attend to (None = all)."""
        segs = [(a, b, self.modulation.float() + e) for a, b, e in segs]
        y = self.self_attn(modulate(self.norm1(x), segs, 0, 1), angles, layout, backend, key_mask)
        x = gated_add(x, y, segs, 2)
        x = x + self.cross_attn(self.norm3(x), ctx, ctx_mask, backend)
        y = self.ffn(modulate(self.norm2(x), segs, 3, 4))
        return gated_add(x, y, segs, 5)


class Head(nn.Module):
    """Final adaLN (shift, scale) + linear projection to patch values."""

    def __init__(self, dim: int, out_dim: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.head = nn.Linear(dim, out_dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim ** 0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """``e`` is the time embedding (B, D) of the tokens being decoded."""
        m = self.modulation.float() + e.float()[:, None]
        return self.head((self.norm(x).float() * (1 + m[:, 1, None]) + m[:, 0, None]).to(x.dtype))
