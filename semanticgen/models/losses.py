"""Stage losses (paper §4.2.2–4.2.3) as functions of plain tensors.

Stage 1: z_sem = compressor(semantic features) (reparameterised), plus Gaussian noise of std
``z_noise`` (robustness to imperfect generated z_sem); the latent DiT predicts the velocity of the
VAE latents with z_sem in context; loss = flow MSE on VAE tokens + β·KL.
Stage 2: the semantic DiT predicts the velocity of z_sem ~ N(μ, σ²) from the frozen compressor.
Text dropout (CFG): a caption is replaced by the empty-prompt embedding with probability p.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch

from ..flow import add_noise, flow_loss, sample_t, velocity_target


def drop_text(text: torch.Tensor, mask: Optional[torch.Tensor], null_text: Optional[torch.Tensor],
              null_mask: Optional[torch.Tensor], p: float):
    """Replace whole captions by the empty prompt with probability ``p`` (per sample)."""
    if p <= 0 or null_text is None:
        return text, mask
    drop = torch.rand(text.shape[0], device=text.device) < p
    if not bool(drop.any()):
        return text, mask
    text = torch.where(drop[:, None, None], null_text.to(text.dtype).expand_as(text), text)
    if mask is not None:
        nm = null_mask.expand_as(mask) if null_mask is not None else torch.ones_like(mask)
        mask = torch.where(drop[:, None], nm.to(mask.dtype), mask)
    return text, mask


def stage1_loss(latent_dit, compressor, batch: Dict[str, torch.Tensor], *, kl_weight: float, z_noise: float,
                shift: float, logit_mean: float = 0.0, logit_std: float = 1.0, text_dropout: float = 0.0,
                t: Optional[torch.Tensor] = None, eps: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    x0 = batch["latents"]
    z, mu, logvar = compressor(batch["sem"])
    if z_noise > 0:
        z = z + z_noise * torch.randn_like(z)
    text, mask = drop_text(batch["text"], batch.get("text_mask"), batch.get("null_text"), batch.get("null_mask"),
                           text_dropout)
    t = sample_t(x0.shape[0], shift, logit_mean, logit_std, device=x0.device) if t is None else t
    eps = torch.randn_like(x0) if eps is None else eps
    v = latent_dit(add_noise(x0, t, eps), t, text, mask, z)
    fm = flow_loss(v, velocity_target(x0, eps))
    kl = compressor.kl(mu, logvar)
    return fm + kl_weight * kl, {"flow_loss": fm.detach(), "kl": kl.detach()}


def stage2_loss(semantic_dit, batch: Dict[str, torch.Tensor], *, shift: float, logit_mean: float = 0.0,
                logit_std: float = 1.0, text_dropout: float = 0.0, t: Optional[torch.Tensor] = None,
                eps: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    mu, logvar = batch["z_mu"], batch["z_logvar"]
    z0 = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if logvar is not None else mu
    text, mask = drop_text(batch["text"], batch.get("text_mask"), batch.get("null_text"), batch.get("null_mask"),
                           text_dropout)
    t = sample_t(z0.shape[0], shift, logit_mean, logit_std, device=z0.device) if t is None else t
    eps = torch.randn_like(z0) if eps is None else eps
    v = semantic_dit(add_noise(z0, t, eps), t, text, mask)
    fm = flow_loss(v, velocity_target(z0, eps))
    return fm, {"flow_loss": fm.detach()}
