"""Stage 2 (paper §4.2.3) as a training task: the semantic DiT (``semanticgen.models.build.Stage2Model``)
learns text → z_sem on ``STORE/z_sem`` (full attention) — dataset, collate and a z_sem sample."""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from semanticgen.config import Config
from semanticgen.models.build import build_stage2
from semanticgen.store.table import Table

from .data import bucketed_source, pad_text, read_null_text, stack
from .samples import stage2_samples
from .task import TrainTask


class SemanticTask(TrainTask):
    stage = "semantic"

    def __init__(self, null_text: Optional[torch.Tensor] = None):
        self.null_text, self.store, self.shape = null_text, None, None

    def build(self, cfg: Config) -> nn.Module:
        return build_stage2(cfg, pretrained=True)

    def dataset(self, cfg: Config, store: str):
        """Every clip of ``STORE/z_sem``, batched by z_sem grid."""
        self.source = bucketed_source(cfg, Table(store, "z_sem"), ["z_mu"], ["z_mu", "z_logvar", "text"],
                                      lambda shapes: shapes[0][0] * shapes[0][1] * shapes[0][2])
        counts = self.source.index.counts()
        self.store, self.shape = store, self.source.index.buckets[counts.index(max(counts))][0]
        self.null_text = read_null_text(store) if self.null_text is None else self.null_text
        return self.source

    def collate(self, batch: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
        return {"z_mu": stack(batch, "z_mu"), "z_logvar": stack(batch, "z_logvar"), **pad_text(batch, self.null_text)}

    def finalize(self, model: nn.Module, cfg: Config, out_dir: str):
        """Generate z_sem for the empty prompt; save the tensor and a picture."""
        os.makedirs(out_dir, exist_ok=True)
        return stage2_samples(model, cfg, out_dir, self.null_text, self.shape)
