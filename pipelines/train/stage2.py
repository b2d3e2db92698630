"""Stage 2 (paper §4.2.3): the semantic DiT learns text → z_sem on ``STORE/z_sem`` (full attention)."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from semanticgen.config import Config
from semanticgen.models import SemanticDiT
from semanticgen.models.checkpoint import init_from_pretrained
from semanticgen.store.table import Table
from semanticgen.train.losses import stage2_loss

from .data import bucket_dataset, pad_text, read_null_text, stack
from .task import TrainTask


def z_dim(cfg: Config) -> int:
    from .stage1 import compressor_in_dim

    return cfg.models.compressor.out_dim or compressor_in_dim(cfg)


class Stage2Model(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.semantic_dit = SemanticDiT(cfg.models.semantic_dit, z_dim(cfg), cfg.models.text_dim, cfg.models.attn_backend)

    def forward(self, batch: Dict[str, torch.Tensor]):
        fl = self.cfg.models.flow
        loss, metrics = stage2_loss(self.semantic_dit, batch, shift=fl.shift, logit_mean=fl.logit_mean,
                                    logit_std=fl.logit_std, text_dropout=self.cfg.train.text_dropout)
        z = batch["z_mu"]
        return loss, metrics, z.shape[0] * z.shape[1] * z.shape[2] * z.shape[3]


class SemanticTask(TrainTask):
    stage = "semantic"

    def __init__(self, null_text: Optional[torch.Tensor] = None):
        self.null_text, self.store, self.shape = null_text, None, None

    def build(self, cfg: Config) -> nn.Module:
        model = Stage2Model(cfg)
        if cfg.models.semantic_dit.pretrained:
            init_from_pretrained(model.semantic_dit, cfg.models.semantic_dit.pretrained)
        return model

    def dataset(self, cfg: Config, store: str):
        from pipelines.encode_semantic import Z_SEM_SCHEMA

        table = Table(store, "z_sem", Z_SEM_SCHEMA)
        _, shapes, ds = bucket_dataset(cfg, table, ["z_mu"], ["z_mu", "z_logvar", "text"])
        self.store, self.shape = store, shapes[0]
        self.null_text = read_null_text(store) if self.null_text is None else self.null_text
        return ds

    def collate(self, batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
        return {"z_mu": stack(batch, "z_mu"), "z_logvar": stack(batch, "z_logvar"), **pad_text(batch, self.null_text)}

    def finalize(self, model: nn.Module, cfg: Config, out_dir: str):
        """Generate z_sem for the empty prompt and a stored caption; save tensors and a picture."""
        from semanticgen.flow import euler_sample

        from .samples import zsem_picture

        os.makedirs(out_dir, exist_ok=True)
        fl = cfg.models.flow
        text = self.null_text if self.null_text is not None else torch.zeros(1, cfg.models.text_dim)
        g = torch.Generator().manual_seed(cfg.run.seed)
        noise = torch.randn((1, *self.shape), generator=g)
        with torch.no_grad():
            z = euler_sample(lambda x, t: model.semantic_dit(x, t, text[None].float(), None), noise, fl.steps, fl.shift)
        torch.save(z[0].clone(), os.path.join(out_dir, "z_sem_sample.pt"))
        return [zsem_picture(z[0], os.path.join(out_dir, "z_sem_sample.png"))]
