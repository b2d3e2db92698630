"""Semantic compressor (paper §4.2.2): per-token MLP → (μ, log σ²) of width d, KL to N(0, I).

``out_dim=None`` is the no-compression ablation ("2048"): identity, no KL.
The input width is the semantic encoder's (Qwen2.5-VL-3B: 2048) or, for the Figure-9
"compressed-VAE space" baseline, the width of patchified VAE latents.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed form KL(N(μ, σ²) ‖ N(0, I)), summed over the feature axis, averaged over tokens."""
    kl = 0.5 * (mu.float() ** 2 + logvar.float().exp() - 1.0 - logvar.float())
    return kl.sum(-1).mean()


class Compressor(nn.Module):
    def __init__(self, in_dim: int, out_dim: Optional[int], hidden_dim: Optional[int] = None):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        if out_dim is None:
            self.net = None
            return
        hidden = hidden_dim or in_dim
        self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(hidden, 2 * out_dim))

    @property
    def z_dim(self) -> int:
        return self.in_dim if self.out_dim is None else self.out_dim

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(μ, log σ²), each (..., d). Identity mode: (x, log σ² = −inf-like zeros flagged by ``out_dim``)."""
        if self.net is None:
            return x, torch.zeros_like(x)
        mu, logvar = self.net(x).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    def forward(self, x: torch.Tensor, sample: bool = True,
                generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, μ, log σ²); z = μ + σ·ε when ``sample`` (reparameterised), else μ."""
        mu, logvar = self.encode(x)
        if self.net is None or not sample:
            return mu, mu, logvar
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (0.5 * logvar).exp() * eps, mu, logvar

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        if self.net is None:
            return mu.new_zeros(())
        return kl_to_standard_normal(mu, logvar)
