"""Every model of the method built from the config, in one place (a model spec per stage, torchtitan-style).

- :func:`build_compressor`, :func:`build_latent_dit`, :func:`build_semantic_dit`: one module each, sized
  by ``cfg.models`` (the compressor's input is the semantic encoder's width, or the width of patchified VAE
  latents for the Figure-9 "compressed-VAE space" baseline: :func:`compressor_in_dim`).
- :class:`Stage1Model` (paper §4.2.2: compressor + latent DiT, trained jointly) and :class:`Stage2Model`
  (§4.2.3: semantic DiT): one ``nn.Module`` per training stage whose ``forward(batch)`` returns
  ``(loss, metrics, tokens)`` — what the generic trainer, DDP and FSDP2 wrap. Checkpoint keys are
  prefixed by the sub-module names (``compressor.``, ``latent_dit.``, ``semantic_dit.``).
- :func:`load_stage1`, :func:`load_compressor`, :func:`load_semantic_dit`: the same models with the
  weights of a training checkpoint (EMA by default, :func:`.checkpoint.load_stage_weights`), for z_sem
  encoding, generation and benchmarks alike.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import nn

from ..config import Config
from .checkpoint import (InitReport, PretrainedMismatch, check_report, init_from_pretrained, load_stage_weights,
                         pretrained_report)
from .compressor import Compressor
from .latent_dit import LatentDiT
from .losses import stage1_loss, stage2_loss
from .semantic_dit import SemanticDiT

VAE_BASELINE_PATCH = 4       # Figure-9 baseline: 4×4 patches of VAE latents are the compressor's input


def compressor_in_dim(cfg: Config) -> int:
    """Input width of the compressor: the semantic encoder's width, or C·p·p for patchified VAE latents."""
    mc = cfg.models
    if mc.compressor.input == "vae":
        return mc.latent_channels * VAE_BASELINE_PATCH ** 2
    return mc.compressor.in_dim


def z_dim(cfg: Config) -> int:
    """Width d of z_sem: the compressor's output, or its input in the no-compression ablation."""
    return cfg.models.compressor.out_dim or compressor_in_dim(cfg)


def vae_patch_grid(latent_thw, p: int = VAE_BASELINE_PATCH):
    """z_sem grid of the Figure-9 baseline for latents of (T, H, W): one token per p×p latent patch, the last
    row/column of patches zero-padded when H or W is not a multiple of p → (T, ⌈H/p⌉, ⌈W/p⌉)."""
    t, h, w = (int(x) for x in latent_thw)
    return t, -(-h // p), -(-w // p)


def patchify_latents(latents: torch.Tensor, p: int = VAE_BASELINE_PATCH) -> torch.Tensor:
    """(B, C, T, H, W) → (B, T, ⌈H/p⌉, ⌈W/p⌉, C·p·p): the Figure-9 baseline's "semantic" input (compressed VAE);
    H and W are zero-padded (bottom/right) up to multiples of p (:func:`vae_patch_grid`)."""
    B, C, T, H, W = latents.shape
    _, hp, wp = vae_patch_grid((T, H, W), p)
    x = torch.nn.functional.pad(latents, (0, wp * p - W, 0, hp * p - H))
    x = x.view(B, C, T, hp, p, wp, p).permute(0, 2, 3, 5, 1, 4, 6)
    return x.reshape(B, T, hp, wp, C * p * p)


def compressor_input(cfg: Config, latents: Optional[torch.Tensor], sem: Optional[torch.Tensor]) -> torch.Tensor:
    """What the compressor reads for a batch: Qwen features ``sem`` (B, T', H', W', D), or patchified VAE
    ``latents`` (B, C, T, H, W) for ``models.compressor.input=vae``."""
    if cfg.models.compressor.input == "vae":
        return patchify_latents(latents)
    return sem


def build_compressor(cfg: Config) -> Compressor:
    return Compressor(compressor_in_dim(cfg), cfg.models.compressor.out_dim)


def build_latent_dit(cfg: Config) -> LatentDiT:
    mc = cfg.models
    return LatentDiT(mc.latent_dit, mc.latent_channels, z_dim(cfg), mc.text_dim, mc.attn_backend)


def build_semantic_dit(cfg: Config) -> SemanticDiT:
    mc = cfg.models
    return SemanticDiT(mc.semantic_dit, z_dim(cfg), mc.text_dim, mc.attn_backend)


class Stage1Model(nn.Module):
    """Compressor + latent DiT; ``forward(batch)`` is the stage-1 objective (flow matching + β·KL)."""

    fp32_modules = ("compressor",)   # FSDP mixed precision keeps its (small) weights fp32: μ, log σ² and the KL

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.compressor = build_compressor(cfg)
        self.latent_dit = build_latent_dit(cfg)

    def forward(self, batch: Dict[str, torch.Tensor]):
        mc, tc = self.cfg.models, self.cfg.train
        batch = {**batch, "sem": compressor_input(self.cfg, batch["latents"], batch.get("sem"))}
        loss, metrics = stage1_loss(self.latent_dit, self.compressor, batch, kl_weight=mc.compressor.kl_weight,
                                    z_noise=mc.compressor.z_noise, shift=mc.flow.shift,
                                    logit_mean=mc.flow.logit_mean, logit_std=mc.flow.logit_std,
                                    text_dropout=tc.text_dropout)
        x = batch["latents"]
        tokens = x.shape[0] * x.shape[2] * (x.shape[3] // 2) * (x.shape[4] // 2)
        return loss, metrics, tokens


class Stage2Model(nn.Module):
    """The semantic DiT; ``forward(batch)`` is the stage-2 objective (flow matching on z_sem)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.semantic_dit = build_semantic_dit(cfg)

    def forward(self, batch: Dict[str, torch.Tensor]):
        fl = self.cfg.models.flow
        loss, metrics = stage2_loss(self.semantic_dit, batch, shift=fl.shift, logit_mean=fl.logit_mean,
                                    logit_std=fl.logit_std, text_dropout=self.cfg.train.text_dropout)
        z = batch["z_mu"]
        return loss, metrics, z.shape[0] * z.shape[1] * z.shape[2] * z.shape[3]


PRETRAINED_PARTS = {"latent": ("latent_dit",), "semantic": ("semantic_dit",)}   # per training stage


def init_pretrained(model: nn.Module, cfg: Config, stage: str) -> Dict[str, InitReport]:
    """Initialise the stage's DiT(s) from ``models.<part>.pretrained`` (loud; strict unless
    ``models.<part>.pretrained_strict=false``); the reports are kept as ``model.pretrained_reports``."""
    reports = {}
    for part in PRETRAINED_PARTS[stage]:
        dc = getattr(cfg.models, part)
        if dc.pretrained:
            reports[part] = init_from_pretrained(getattr(model, part), dc.pretrained, dc.pretrained_strict,
                                                 f"models.{part}.pretrained")
    model.pretrained_reports = reports
    return reports


def check_pretrained(cfg: Config, stage: str) -> Optional[str]:
    """Before any work: the stage's ``pretrained`` files checked from their headers against the model built on the
    meta device (no weights in memory); the problem as one line (counts, field, file), or None."""
    parts = [p for p in PRETRAINED_PARTS[stage] if getattr(cfg.models, p).pretrained]
    if not parts:
        return None
    with torch.device("meta"):
        model = Stage1Model(cfg) if stage == "latent" else Stage2Model(cfg)
    for part in parts:
        dc, field = getattr(cfg.models, part), f"models.{part}.pretrained"
        try:
            check_report(pretrained_report(getattr(model, part), dc.pretrained), dc.pretrained, field,
                         dc.pretrained_strict)
        except (PretrainedMismatch, FileNotFoundError, OSError) as e:
            return f"{field}: {e}" if isinstance(e, (FileNotFoundError, OSError)) else str(e)
    return None


def build_stage1(cfg: Config, pretrained: bool = False) -> Stage1Model:
    """Stage-1 model; ``pretrained``: initialise the latent DiT from ``models.latent_dit.pretrained``."""
    model = Stage1Model(cfg)
    if pretrained:
        init_pretrained(model, cfg, "latent")
    return model


def build_stage2(cfg: Config, pretrained: bool = False) -> Stage2Model:
    """Stage-2 model; ``pretrained``: initialise the semantic DiT from ``models.semantic_dit.pretrained``."""
    model = Stage2Model(cfg)
    if pretrained:
        init_pretrained(model, cfg, "semantic")
    return model


def load_stage1(cfg: Config, checkpoint: str, ema: bool = True) -> Stage1Model:
    """The stage-1 model with a training checkpoint's weights, in eval mode."""
    model = Stage1Model(cfg)
    model.load_state_dict(load_stage_weights(checkpoint, ema=ema))
    return model.eval()


def load_compressor(cfg: Config, checkpoint: str, ema: bool = True) -> Compressor:
    comp = build_compressor(cfg)
    comp.load_state_dict(load_stage_weights(checkpoint, "compressor", ema))
    return comp.eval()


def load_semantic_dit(cfg: Config, checkpoint: str, ema: bool = True) -> SemanticDiT:
    dit = build_semantic_dit(cfg)
    dit.load_state_dict(load_stage_weights(checkpoint, "semantic_dit", ema))
    return dit.eval()
