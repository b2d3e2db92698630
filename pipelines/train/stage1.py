"""Stage 1 (paper §4.2.2): the latent DiT and the semantic compressor, trained jointly on STORE/features."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from semanticgen.config import Config
from semanticgen.models import Compressor, LatentDiT
from semanticgen.models.checkpoint import init_from_pretrained
from semanticgen.store.features_schema import FEATURES_SCHEMA
from semanticgen.store.table import Table
from semanticgen.train.losses import stage1_loss

from .data import bucket_dataset, pad_text, patchify_latents, read_null_text, stack
from .task import TrainTask

VAE_BASELINE_PATCH = 4       # compressed-VAE baseline: 4×4 latent patches → compressor input


def compressor_in_dim(cfg: Config) -> int:
    mc = cfg.models
    if mc.compressor.input == "vae":
        return mc.latent_channels * VAE_BASELINE_PATCH ** 2
    return mc.compressor.in_dim


class Stage1Model(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        mc = cfg.models
        self.cfg = cfg
        self.compressor = Compressor(compressor_in_dim(cfg), mc.compressor.out_dim)
        self.latent_dit = LatentDiT(mc.latent_dit, mc.latent_channels, self.compressor.z_dim, mc.text_dim,
                                    mc.attn_backend)

    def forward(self, batch: Dict[str, torch.Tensor]):
        mc, tc = self.cfg.models, self.cfg.train
        if mc.compressor.input == "vae":
            batch = {**batch, "sem": patchify_latents(batch["latents"], VAE_BASELINE_PATCH)}
        loss, metrics = stage1_loss(self.latent_dit, self.compressor, batch, kl_weight=mc.compressor.kl_weight,
                                    z_noise=mc.compressor.z_noise, shift=mc.flow.shift,
                                    logit_mean=mc.flow.logit_mean, logit_std=mc.flow.logit_std,
                                    text_dropout=tc.text_dropout)
        x = batch["latents"]
        tokens = x.shape[0] * x.shape[2] * (x.shape[3] // 2) * (x.shape[4] // 2)
        return loss, metrics, tokens


class LatentTask(TrainTask):
    stage = "latent"

    def __init__(self, null_text: Optional[torch.Tensor] = None):
        self.null_text, self.store = null_text, None

    def build(self, cfg: Config) -> nn.Module:
        model = Stage1Model(cfg)
        if cfg.models.latent_dit.pretrained:
            init_from_pretrained(model.latent_dit, cfg.models.latent_dit.pretrained)
        return model

    def dataset(self, cfg: Config, store: str):
        table = Table(store, "features", FEATURES_SCHEMA)
        ids, _, ds = bucket_dataset(cfg, table, ["latents", "sem"], ["latents", "sem", "text"])
        self.store, self.sample_ids = store, ids[: cfg.train.num_sample_videos]
        self.null_text = read_null_text(store) if self.null_text is None else self.null_text
        return ds

    def collate(self, batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
        return {"latents": stack(batch, "latents"), "sem": stack(batch, "sem"), **pad_text(batch, self.null_text)}

    def finalize(self, model: nn.Module, cfg: Config, out_dir: str):
        """A reconstruction sample: the trained latent DiT renders a stored clip's z_sem; decoded to mp4."""
        import pyarrow.dataset as pads

        from .samples import stage1_samples

        os.makedirs(out_dir, exist_ok=True)
        wanted = pads.field("clip_id").isin(list(self.sample_ids))     # read only the sample rows
        rows = Table(self.store, "features", FEATURES_SCHEMA).read(filter=wanted).to_pylist()
        return stage1_samples(model, cfg, out_dir, self.store, rows)
